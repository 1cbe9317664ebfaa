"""Runs the Serverless Framework (osls) for one service: streams its output, keeps the log, translates known failures."""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from workshop.course import paths
from workshop.deploy import targets, tools
from workshop.deploy.targets import Target
from workshop.errors import WorkshopError

EVENT_RE = re.compile(r"^\s*([A-Z_]+_(?:IN_PROGRESS|COMPLETE|FAILED)) - (\S+) - (\S+)")
# IAM is eventually consistent: a deploy adding onError and the sqs:SendMessage statement together can reach the
# function's update before the role's new statement is visible (the Serverless docs warn about it). Waiting helps.
IAM_RACE_RE = re.compile(r"execution role does not have permissions to call SendMessage on SQS")
IAM_RACE_WAIT = 30.0
SSM_MISSING_RE = re.compile(r'Cannot resolve variable at "([^"]+)": Value not found at "ssm" source')
OnLine = Callable[[str], None]


@dataclass(frozen=True)
class RunResult:
    """One finished osls command."""

    service: str
    action: str
    seconds: float
    log: Path


class DeployError(WorkshopError):
    """An osls command failed; the message says what to do, the detail holds the last meaningful lines."""

    iam_race = False  # failed only because IAM had not propagated a new statement yet (worth one retry)


_held: dict[Path, int] = {}  # workspaces whose deploy lock this process holds, and how deeply (the lock is re-entrant)


@contextlib.contextmanager
def deploy_lock(root: Path, command: str | None = None) -> Iterator[None]:
    """One deploy per workspace at a time: an exclusive lock on `.workshop/deploy.lock`, which names its holder.

    Two `workshop deploy all` at once interleave their CloudFormation calls and leave a stack stuck in
    REVIEW_IN_PROGRESS. The OS lock is released when the holder dies (even on kill -9), so a lock left by a dead
    process is simply taken over; the JSON inside only says who holds it."""
    key = Path(root).resolve()
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    path = paths.deploy_lock(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise WorkshopError(_held_by(path)) from None
        holder = {"pid": os.getpid(), "command": command or " ".join(["workshop", *sys.argv[1:]]),
                  "since": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
        _held[key] = 1
        try:
            yield
        finally:
            del _held[key]
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _held_by(path: Path) -> str:
    """The message for a second deploy: who holds the lock, since when, and what to do."""
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        holder = None
    if not isinstance(holder, dict):
        who = "another workshop command"
    else:
        since = str(holder.get("since", "?")).replace("T", " ").replace("+00:00", " UTC")
        who = f"`{holder.get('command', 'workshop')}` (pid {holder.get('pid', '?')}, since {since})"
    return (f"Another deploy is running in this workspace: {who}. Two at once would leave the stacks stuck; "
            "wait for it to finish, then run the command again.")


def log_path(root: Path, service: str, action: str) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    return paths.logs_dir(root) / f"{action}-{service}-{stamp}.log"


def run_osls(root: Path, target: Target, service: str, action: str, service_dir: Path, *,
             endpoint: str | None, on_line: OnLine | None = None, extra: tuple[str, ...] = ()) -> RunResult:
    """Run `osls ACTION` in `service_dir` with the target's environment; raise DeployError with a hint on failure.

    One deploy per workspace at a time (the deploy lock). A deploy that fails only because IAM has not yet propagated
    the role's new SQS statement is retried once."""
    with deploy_lock(root, f"osls {action} {service}"):
        try:
            return _run_once(root, target, service, action, service_dir, endpoint=endpoint, on_line=on_line, extra=extra)
        except DeployError as exc:
            if action != "deploy" or not exc.iam_race:
                raise
            if on_line is not None:
                on_line(f"IAM has not caught up with the role's new sqs:SendMessage statement yet: retrying in {IAM_RACE_WAIT:.0f} s.")
            time.sleep(IAM_RACE_WAIT)
            return _run_once(root, target, service, action, service_dir, endpoint=endpoint, on_line=on_line, extra=extra)


def osls_environment(root: Path, target: Target, endpoint: str | None) -> dict[str, str]:
    """osls's environment: its caches in the workspace's private home; on aws, the user's AWS files and SSO cache
    reached from there, and the one identity boto3 also uses (keys from a credential_process resolved by boto3)."""
    home = paths.osls_home(root)
    home.mkdir(parents=True, exist_ok=True)
    share_osls_cache(home, into_workspace=True)
    credentials, account = None, None
    if target.name == "aws":
        targets.link_aws_dir(home)
        if targets.uses_credential_process(target):
            credentials = targets.exported_credentials(target)
        account = targets.class_account(target)
    else:
        targets.unlink_aws_dir(home)
    return targets.deploy_env(target, endpoint=endpoint, home=home, credentials=credentials, class_account=account)


def _run_once(root: Path, target: Target, service: str, action: str, service_dir: Path, *,
              endpoint: str | None, on_line: OnLine | None = None, extra: tuple[str, ...] = ()) -> RunResult:
    argv = [*tools.osls_command(), action, "--stage", target.stage, "--region", target.region, "--verbose", *extra]
    home = paths.osls_home(root)
    env = osls_environment(root, target, endpoint)
    log = log_path(root, service, action)
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    lines: list[str] = []
    with log.open("w", encoding="utf-8") as sink:
        sink.write(f"$ {' '.join(argv)}\n# in {service_dir}\n")
        try:
            proc = subprocess.Popen(argv, cwd=service_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, text=True, encoding="utf-8", errors="replace")
        except OSError as exc:
            raise DeployError(f"Could not start osls ({exc}); run `workshop doctor`.") from None
        assert proc.stdout is not None
        try:
            for raw in proc.stdout:
                line = raw.rstrip("\n")
                lines.append(line)
                sink.write(raw)
                if on_line is not None:
                    on_line(line)
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    seconds = time.perf_counter() - started
    share_osls_cache(home, into_workspace=False)
    if code != 0:
        if target.name == "local" and not emulator_answers(root):  # osls then blames whatever it was reading
            raise DeployError(
                f"The emulator stopped during `osls {action}` of {service} (see {targets.emulator_dir(root) / 'emulator.log'}): "
                f"run `workshop deploy {service}` again (it starts the emulator), or `workshop deploy all`.",
                detail=_tail(lines, log),
            )
        error = DeployError(explain_failure(service, action, target, lines, service_dir), detail=_tail(lines, log))
        error.iam_race = bool(IAM_RACE_RE.search("\n".join(lines)))
        raise error
    return RunResult(service=service, action=action, seconds=seconds, log=log)


def emulator_answers(root: Path) -> bool:
    """Whether the workspace's emulator is still running and answering (checked after a failed local deploy)."""
    from workshop import emulator

    try:
        return emulator.status(targets.emulator_dir(root)) is not None
    except WorkshopError:
        return False


def osls_cache_dir() -> Path:
    """Per-user copy of osls's compiled-schema cache ($WORKSHOP_OSLS_CACHE overrides)."""
    import os

    from workshop.errors import workshop_home

    return Path(os.environ.get("WORKSHOP_OSLS_CACHE") or workshop_home() / "cache" / "osls-artifacts")


def share_osls_cache(home: Path, *, into_workspace: bool) -> None:
    """osls compiles its config schema into ~/.serverless/artifacts on first use (~8 s of CPU). Each workspace keeps
    its own HOME for osls; seed it from the per-user copy, and fill that copy from the first workspace that has one."""
    import shutil

    mine, shared = home / ".serverless" / "artifacts", osls_cache_dir()
    source, destination = (shared, mine) if into_workspace else (mine, shared)
    if destination.exists() or not source.is_dir():
        return
    staging = destination.with_name(f".{destination.name}.{time.time_ns()}")
    try:
        shutil.copytree(source, staging)
        staging.rename(destination)
    except OSError:  # another process won the race, or the disk said no: the cache is only an optimisation
        shutil.rmtree(staging, ignore_errors=True)


def current_event(line: str) -> str | None:
    """A CloudFormation event line of osls's verbose output, shortened for a spinner; None for other lines."""
    match = EVENT_RE.match(line)
    return f"{match.group(1)} {match.group(2)} {match.group(3)}" if match else None


def _tail(lines: list[str], log: Path, count: int = 8) -> str:
    meaningful = [line for line in lines if line.strip() and not line.lstrip().startswith(("Environment:", "Docs:", "Support:", "Credentials:"))]
    return "\n".join([*meaningful[-count:], f"Full log: {log}"])


def _redrive_misspelt(text: str, service: str) -> str | None:
    """The sns event's redrivePolicy as osls's schema refuses it, said as the edit that fixes it."""
    again = f"then run `workshop deploy {service}` again."
    if re.search(r"redrivePolicy\.deadLetterTargetArn'?: must be string", text):
        return (f"In {service}/serverless.yml, the sns event's `deadLetterTargetArn` takes only a plain ARN string: write "
                f"`deadLetterTargetRef:` with the queue's logical ID instead (osls turns it into the ARN), {again}")
    if re.search(r"redrivePolicy\.deadLetterTargetRef'?: must be string", text):
        return (f"In {service}/serverless.yml, write `deadLetterTargetRef:` as the queue's logical ID in plain text "
                f"(not `Ref:` or `!Ref`), {again}")
    if "Subscription already exists with different attributes" in text:
        return (f"SNS keeps one subscription per topic and function, and the topic already has one (the `sns` event's): in "
                f"{service}/serverless.yml keep the `sns` event with its `redrivePolicy` instead of a hand-written "
                f"AWS::SNS::Subscription, {again}")
    if re.search(r"unrecognized property 'redrivePolicy'", text):
        return (f"In {service}/serverless.yml, `redrivePolicy` belongs inside the function's `sns` event, beside `arn`, "
                f"not on the function itself: move it, {again}")
    return None


def explain_failure(service: str, action: str, target: Target, lines: list[str], service_dir: Path) -> str:
    """A one-line, translated explanation of a failed osls command, naming the command that fixes it."""
    text = "\n".join(lines)
    if SSM_MISSING_RE.search(text):
        from workshop.deploy.replay import producers_missing

        missing = producers_missing(service_dir, target.stage, exclude=service)
        if missing:
            needed = ", ".join(f"`workshop deploy {p}`" for p in missing)
            return (f"{service} reads a value from SSM that is not on the {target.name} target yet (stage {target.stage}): "
                    f"run {needed} first, or `workshop deploy all`.")
        return f"{service} reads an SSM parameter that does not exist on stage {target.stage}; check the `${{ssm:...}}` path, then `workshop deploy {service}`."
    if "Invalid variable type" in text:
        return (f"osls cannot resolve a variable in {service}/serverless.yml: write the stage as `${{sls:stage}}` "
                f"(`${{stage}}` is not a Serverless variable), then run `workshop deploy {service}` again.")
    redrive = _redrive_misspelt(text, service)
    if redrive:
        return redrive
    if re.search(r"ROLLBACK_COMPLETE state and can not be updated|ROLLBACK_FAILED|UPDATE_ROLLBACK_FAILED", text):
        return f"The {service} stack is stuck after a failed deploy: run `workshop deploy {service} --recreate`."
    if re.search(r"_IN_PROGRESS state and can not be updated", text):
        return f"The {service} stack is still being changed by an earlier deploy: wait a minute, then run `workshop deploy {service}` again."
    if re.search(r"(AWS provider credentials not found|Could not load credentials|ExpiredToken|security token included in the request is (expired|invalid))", text):
        return "No valid AWS credentials for the aws target: sign in (e.g. `aws sso login`) or choose `--profile`, then run `workshop doctor`."
    if IAM_RACE_RE.search(text):
        return (f"IAM had not yet made the role's new sqs:SendMessage statement visible to Lambda (it takes up to a minute): "
                f"wait a minute, then run `workshop deploy {service}` again.")
    if re.search(r"RequestExpired|Signature expired", text):
        return ("AWS refused the request as too old: your computer's clock is off (common under WSL after sleep). "
                "Sync it (e.g. `sudo hwclock -s`), then run `workshop deploy " + service + "` again.")
    if re.search(r"is not authorized to perform|AccessDenied", text):
        return ("Your AWS identity may not do what this deploy needs (see the lines below): ask your instructor to check "
                "the learner policy of docs/instructor.md, or pass `--profile`, then run `workshop doctor`.")
    if re.search(r"Throttling|Rate exceeded", text):
        return f"AWS is throttling this account (a class shares it): wait a minute, then run `workshop deploy {service}` again."
    if "Cannot resolve serverless.yml" in text or "Configuration error" in text:
        return f"osls cannot read {service}/serverless.yml (see the lines below): fix the file, then run `workshop deploy {service}` again."
    return f"`osls {action}` failed for {service} (see the lines below): fix what it says, then run `workshop deploy {service}` again."
