"""Where the workshop deploys: the embedded emulator (`local`, the default) or a real AWS account (`aws`).

One boto3 session factory and one environment for deploy commands, each built from an allowlist, so the user's
credentials never reach the emulator and the emulator's endpoint never reaches a real deploy.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workshop.errors import BadInput

TARGETS = ("local", "aws")
DEFAULT_REGION = "us-east-1"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# What a deploy command may inherit from the user's environment, whatever the target.
BASE_ALLOW = ("PATH", "LANG", "LANGUAGE", "TERM", "TMPDIR", "TZ", "SYSTEMROOT", "NO_COLOR", "FORCE_COLOR", "COLUMNS")
BASE_ALLOW_PREFIXES = ("LC_",)
# Only on the aws target: the user's credential chain.
AWS_ALLOW = (
    "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME",
    "AWS_CA_BUNDLE", "AWS_STS_REGIONAL_ENDPOINTS", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY",
    "https_proxy", "http_proxy", "no_proxy",
)
STAGE_RE = re.compile(r"^[a-zA-Z0-9-]{1,40}$")
REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")


def services() -> tuple[str, ...]:
    """The course's services, in the order course.toml lists them (the module's first deploy order)."""
    from workshop.course import model

    return tuple(model.load().services)


@dataclass(frozen=True)
class Target:
    """A deploy target: which account, which stage and region."""

    name: str = "local"
    stage: str = "dev"
    region: str = DEFAULT_REGION
    profile: str | None = None

    def stack(self, service: str) -> str:
        """The CloudFormation stack osls makes for a service."""
        return f"{service}-{self.stage}"

    def function(self, service: str, function: str) -> str:
        """The Lambda function name osls gives a function of a service."""
        return f"{service}-{self.stage}-{function}"

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def personal_stage() -> str:
    """`dev-<user>`: a class can share one account without learners overwriting each other."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "learner"
    cleaned = re.sub(r"[^a-z0-9]+", "-", user.lower()).strip("-")[:30] or "learner"
    return f"dev-{cleaned}"


def resolve(stored: Mapping[str, Any] | None, *, name: str | None = None, stage: str | None = None,
            region: str | None = None, profile: str | None = None) -> Target:
    """The target from the workspace's stored choice, with command-line overrides; validated."""
    stored = dict(stored or {})
    chosen = name or stored.get("name") or "local"
    if chosen not in TARGETS:
        raise BadInput(f"Unknown target {chosen!r}: use `--target local` (the embedded emulator) or `--target aws`.")
    switched = name is not None and name != stored.get("name", "local")
    default_stage = "dev" if chosen == "local" else personal_stage()
    result = Target(
        name=chosen,
        stage=stage or (None if switched else stored.get("stage")) or default_stage,
        region=region or stored.get("region") or DEFAULT_REGION,
        profile=(profile or stored.get("profile")) if chosen == "aws" else None,
    )
    if not STAGE_RE.match(result.stage):
        raise BadInput(f"Stage {result.stage!r} is not valid: use letters, digits and '-' (e.g. `--stage dev`).")
    if not REGION_RE.match(result.region):
        raise BadInput(f"Region {result.region!r} is not an AWS region name (e.g. `--region us-east-1`).")
    return result


def deploy_env(target: Target, *, endpoint: str | None, home: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of an osls command: allowlisted, never mixing the user's credentials with the emulator."""
    source = os.environ if environ is None else environ
    env = {k: v for k, v in source.items() if k in BASE_ALLOW or k.startswith(BASE_ALLOW_PREFIXES)}
    env.update(
        HOME=str(home),  # osls keeps caches under ~/.serverless: keep them in the workspace
        AWS_REGION=target.region,
        AWS_DEFAULT_REGION=target.region,
        SLS_TELEMETRY_DISABLED="1",
        SLS_NOTIFICATIONS_MODE="off",
        NODE_NO_WARNINGS="1",
    )
    if target.name == "local":
        if not endpoint:
            raise ValueError("the local target needs the emulator's endpoint")
        env.update(FAKE_CREDENTIALS)
        env.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_CONFIG_FILE=os.devnull,  # no profile, region or role of the user's
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            SLS_AWS_MONITORING_FREQUENCY="500",
        )
        return env
    user_home = Path(source.get("HOME") or Path.home())
    env.update({k: v for k, v in source.items() if k in AWS_ALLOW})
    # HOME is moved for osls's caches, so point the SDK at the user's real AWS files explicitly.
    env.setdefault("AWS_CONFIG_FILE", str(user_home / ".aws" / "config"))
    env.setdefault("AWS_SHARED_CREDENTIALS_FILE", str(user_home / ".aws" / "credentials"))
    env["AWS_SDK_LOAD_CONFIG"] = "1"
    if target.profile:
        env["AWS_PROFILE"] = target.profile
    return env


def boto3_session(target: Target, *, endpoint: str | None = None):
    """A boto3 session for the target (fake credentials and the emulator endpoint for local; the user's chain for aws)."""
    import boto3
    import botocore.session

    if target.name == "local":
        # No profile, config or credentials file of the user's: a session whose settings come from nowhere else.
        isolated = botocore.session.Session(
            session_vars={
                "profile": (None, None, None, None),
                "config_file": (None, None, os.devnull, None),
                "credentials_file": (None, None, os.devnull, None),
            }
        )
        session = boto3.Session(
            botocore_session=isolated, region_name=target.region,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"], aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        return _LocalSession(session, endpoint)
    return boto3.Session(profile_name=target.profile, region_name=target.region)


RETRIES = {"max_attempts": 6, "mode": "standard"}


class _LocalSession:
    """A boto3 session whose clients all talk to the emulator."""

    def __init__(self, session, endpoint: str | None):
        if not endpoint:
            raise ValueError("the local target needs the emulator's endpoint")
        self._session, self.endpoint = session, endpoint
        self.region_name = session.region_name

    def client(self, service: str, **kwargs):
        kwargs.setdefault("endpoint_url", self.endpoint)
        return self._session.client(service, **kwargs)


def client(session, service: str):
    """A client with retries and backoff (the one way the runner makes AWS clients)."""
    from botocore.config import Config

    # ignore_configured_endpoint_urls: an AWS_ENDPOINT_URL left in the shell never redirects a real-account client.
    config = Config(retries=RETRIES, connect_timeout=5, read_timeout=60, ignore_configured_endpoint_urls=True)
    return session.client(service, config=config)


def emulator_dir(root: Path) -> Path:
    """Where a workspace's emulator keeps its pid, log and saved state."""
    from workshop.course import paths

    return paths.emulator_dir(root)


def endpoint_for(root: Path, target: Target) -> str | None:
    """The emulator endpoint for the local target (started if needed); None for aws."""
    if target.name != "local":
        return None
    from workshop import emulator

    return emulator.ensure_running(emulator_dir(root)).endpoint


def connect(root: Path, target: Target):
    """A boto3 session for the workspace's target, starting the emulator when the local target needs it."""
    return boto3_session(target, endpoint=endpoint_for(root, target))
