"""Runs the Serverless Framework (osls) for one service: streams its output, keeps the log, translates known failures."""

from __future__ import annotations

import datetime as _dt
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workshop.deploy import targets, tools
from workshop.deploy.targets import Target
from workshop.errors import WorkshopError

EVENT_RE = re.compile(r"^\s*([A-Z_]+_(?:IN_PROGRESS|COMPLETE|FAILED)) - (\S+) - (\S+)")
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


def log_path(root: Path, service: str, action: str) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    return root / ".workshop" / "logs" / f"{action}-{service}-{stamp}.log"


def run_osls(root: Path, target: Target, service: str, action: str, service_dir: Path, *,
             endpoint: str | None, on_line: OnLine | None = None, extra: tuple[str, ...] = ()) -> RunResult:
    """Run `osls ACTION` in `service_dir` with the target's environment; raise DeployError with a hint on failure."""
    argv = [*tools.osls_command(), action, "--stage", target.stage, "--region", target.region, "--verbose", *extra]
    home = root / ".workshop" / "home"
    home.mkdir(parents=True, exist_ok=True)
    share_osls_cache(home, into_workspace=True)
    env = targets.deploy_env(target, endpoint=endpoint, home=home)
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
        raise DeployError(explain_failure(service, action, target, lines, service_dir), detail=_tail(lines, log))
    return RunResult(service=service, action=action, seconds=seconds, log=log)


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
    if re.search(r"ROLLBACK_COMPLETE state and can not be updated|ROLLBACK_FAILED|UPDATE_ROLLBACK_FAILED", text):
        return f"The {service} stack is stuck after a failed deploy: run `workshop deploy {service} --recreate`."
    if re.search(r"_IN_PROGRESS state and can not be updated", text):
        return f"The {service} stack is still being changed by an earlier deploy: wait a minute, then run `workshop deploy {service}` again."
    if re.search(r"(AWS provider credentials not found|Could not load credentials|ExpiredToken|security token included in the request is (expired|invalid))", text):
        return "No valid AWS credentials for the aws target: sign in (e.g. `aws sso login`) or choose `--profile`, then run `workshop doctor`."
    if "Cannot resolve serverless.yml" in text or "Configuration error" in text:
        return f"osls cannot read {service}/serverless.yml (see the lines below): fix the file, then run `workshop deploy {service}` again."
    return f"`osls {action}` failed for {service} (see the lines below): fix what it says, then run `workshop deploy {service}` again."
