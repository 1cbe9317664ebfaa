"""Where the workshop deploys: the embedded emulator (`local`, the default) or a real AWS account (`aws`).

One boto3 session factory and one environment for deploy commands, each built from an allowlist, so the user's
credentials never reach the emulator and the emulator's endpoint never reaches a real deploy.
"""

from __future__ import annotations

import functools
import getpass
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from workshop.errors import BadInput, WorkshopError

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


# IAM role names and Lambda function names: osls makes `<service>-<stage>-<region>-lambdaRole` and
# `<service>-<stage>-<function>`, and AWS refuses either past 64 characters (osls does not check).
NAME_MAX = 64
ROLE_SUFFIX = "lambdaRole"
USER_KEEP, HASH_LEN = 12, 4  # a shortened user part: 12 characters, then a hash of the whole name
# Names a cloud IDE or an image gives everyone: a class would deploy into one another's stacks.
GENERIC_USERS = frozenset({
    "codespace", "codespaces", "ec2-user", "ubuntu", "root", "admin", "administrator", "user", "vscode", "gitpod",
    "cloudshell-user", "coder", "jovyan", "node", "ssm-user", "centos", "debian", "fedora", "default", "learner",
    "student", "workshop", "developer", "dev", "test", "participant", "ec2", "runner",
})
# Session names an SDK makes up when none is given: different on every call, so no stable stage.
_MADE_UP_SESSION = re.compile(r"^(botocore-session-\d+|aws-sdk-\w+-\d+|\d+)$")


@functools.lru_cache(maxsize=4)
def course_functions(root: Path | None = None) -> dict[str, tuple[str, ...]]:
    """Every function each service has at some step: those of the start checkpoint and those the solutions add.

    Read from the course's files (course.toml's services, checkpoints/start, solutions/*.patch), never hard-coded;
    the `functions:` keys are read by indentation, so no YAML library is imported for it."""
    from workshop.course import model

    course = model.load(root)
    found: dict[str, set[str]] = {service: set() for service in course.services}
    for service in found:
        path = course.root / "checkpoints" / "start" / service / "serverless.yml"
        if path.is_file():
            found[service].update(_function_keys(path.read_text(encoding="utf-8").splitlines()))
    for patch in sorted((course.root / "solutions").glob("*.patch")):
        service, lines = None, []
        for line in [*patch.read_text(encoding="utf-8").splitlines(), "+++ end"]:
            if line.startswith("+++ "):
                if service:
                    found[service].update(_function_keys(lines))
                parts = line[4:].removeprefix("b/").split("/")
                service = parts[0] if len(parts) == 2 and parts[1] == "serverless.yml" and parts[0] in found else None
                lines = []
            elif service and line.startswith("@@"):
                lines.append(line.split("@@")[-1].strip())  # git names the enclosing top-level key after the hunk's range
            elif service and line[:1] in " +":
                lines.append(line[1:])
    return {service: tuple(sorted(names)) for service, names in found.items()}


def _function_keys(lines: list[str]) -> set[str]:
    """The keys two spaces in under a top-level `functions:` (lines of a serverless.yml, or of a hunk of one)."""
    keys, inside = set(), False
    for line in lines:
        if top := re.match(r"^([A-Za-z]\w*):", line):
            inside = top.group(1) == "functions"
        elif inside and (key := re.match(r"^  ([A-Za-z][\w-]*):\s*(#.*)?$", line)):
            keys.add(key.group(1))
    return keys


def stage_budget(region: str, functions: Mapping[str, tuple[str, ...]] | None = None) -> int:
    """The longest stage whose generated role and function names all fit in 64 characters in `region`."""
    if functions is None:
        from workshop.course import model

        functions = course_functions(model.course_root())
    used = [len(f"{service}--{region}-{ROLE_SUFFIX}") for service in functions]
    used += [len(f"{service}--{fn}") for service, names in functions.items() for fn in names]
    return NAME_MAX - max(used, default=0)


def _clean(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def identity_name(arn: str) -> str | None:
    """Who a caller ARN names: the IAM user name, the role session name (an SSO e-mail's local part), or None."""
    resource = arn.split(":", 5)[-1] if arn.count(":") >= 5 else ""
    kind, _, rest = resource.partition("/")
    if kind == "user" and rest:
        return rest.rsplit("/", 1)[-1]
    if kind in ("assumed-role", "federated-user") and rest:
        session = rest.rsplit("/", 1)[-1]
        if _MADE_UP_SESSION.match(session):
            return None
        return session.split("@", 1)[0]
    return None  # the account's root user, or an ARN of another kind


def is_generic(name: str | None) -> bool:
    """A name everyone in a cloud IDE shares (or none at all)."""
    cleaned = _clean(name or "")
    return not cleaned or cleaned in GENERIC_USERS


def personal_stage(user: str | None = None, budget: int = 40) -> str:
    """`dev-<user>`: a class can share one account without learners overwriting each other.

    A long user part is shortened to 12 characters plus a 4-character hash of the whole name (so `jennifer-martinez`
    and `jennifer-marton` stay apart), and further if the Region leaves less room."""
    import hashlib

    if user is None:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "learner"
    cleaned = _clean(user) or "learner"
    stage = f"dev-{cleaned}"
    if len(cleaned) <= USER_KEEP + 1 + HASH_LEN and len(stage) <= budget:
        return stage
    digest = hashlib.sha256(cleaned.encode()).hexdigest()[:HASH_LEN]
    keep = max(1, min(USER_KEEP, budget - len("dev-") - 1 - HASH_LEN))
    return f"dev-{cleaned[:keep].rstrip('-') or 'x'}-{digest}"


def caller_arn(target: Target) -> str:
    """The ARN of the identity the aws target's deploys run as (sts:GetCallerIdentity)."""
    return client(boto3_session(target), "sts").get_caller_identity()["Arn"]


def default_stage(target: Target, budget: int, identity=None) -> str:
    """The aws target's stage when none is chosen: from the caller's identity, never from a name a class shares."""
    try:
        arn = (identity or caller_arn)(target)
    except Exception as exc:  # no credentials, expired SSO session, no network: say so, and offer --stage
        from botocore.exceptions import EndpointConnectionError

        if isinstance(exc, EndpointConnectionError):  # offline: signing in again would not help
            raise WorkshopError(unreachable(target, exc)) from None
        raise WorkshopError(
            f"Could not ask AWS who you are to name your stage ({type(exc).__name__}): sign in (e.g. `aws sso login`) "
            "or pass `--profile`, then check with `workshop doctor`; or choose a stage with `--stage dev-yourname`."
        ) from None
    name = identity_name(arn)
    if is_generic(name):
        shown = f" ({name})" if name else ""
        raise BadInput(
            f"Your AWS identity{shown} does not name you, and a class shares this account: choose your own stage "
            f"with `--stage dev-yourname` (at most {budget} characters in {target.region})."
        )
    return personal_stage(name, budget)


def resolve(stored: Mapping[str, Any] | None, *, name: str | None = None, stage: str | None = None,
            region: str | None = None, profile: str | None = None, identity=None) -> Target:
    """The target from the workspace's stored choice, with command-line overrides; validated.

    On aws without a stage, the stage comes from the caller's identity (`identity(target)` returns the caller's ARN)."""
    stored = dict(stored or {})
    chosen = name or stored.get("name") or "local"
    if chosen not in TARGETS:
        raise BadInput(f"Unknown target {chosen!r}: use `--target local` (the embedded emulator) or `--target aws`.")
    switched = name is not None and name != stored.get("name", "local")
    result = Target(
        name=chosen,
        stage=stage or (None if switched else stored.get("stage")) or "dev",
        region=region or stored.get("region") or DEFAULT_REGION,
        profile=(profile or stored.get("profile")) if chosen == "aws" else None,
    )
    if not REGION_RE.match(result.region):
        raise BadInput(f"Region {result.region!r} is not an AWS region name (e.g. `--region us-east-1`).")
    budget = stage_budget(result.region)
    if chosen == "aws" and not (stage or (None if switched else stored.get("stage"))):
        result = replace(result, stage=default_stage(result, budget, identity))
    if not STAGE_RE.match(result.stage):
        raise BadInput(f"Stage {result.stage!r} is not valid: use letters, digits and '-' (e.g. `--stage dev`).")
    if len(result.stage) > budget:
        raise BadInput(
            f"Stage {result.stage!r} is too long for {result.region}: the role names osls makes would pass 64 characters. "
            f"Use at most {budget} characters (e.g. `--stage {result.stage[:budget].rstrip('-')}`)."
        )
    return result


def deploy_env(target: Target, *, endpoint: str | None, home: Path, environ: Mapping[str, str] | None = None,
               credentials: Mapping[str, str] | None = None, class_account: Mapping[str, str] | None = None) -> dict[str, str]:
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
    # HOME is moved for osls's caches, so point the SDK at the user's real AWS files explicitly (the SSO token cache,
    # which has no variable of its own, is reached through `<private home>/.aws`: see link_aws_dir).
    env.setdefault("AWS_CONFIG_FILE", str(user_home / ".aws" / "config"))
    env.setdefault("AWS_SHARED_CREDENTIALS_FILE", str(user_home / ".aws" / "credentials"))
    env["AWS_SDK_LOAD_CONFIG"] = "1"
    # An `endpoint_url` (or a `services` section) in ~/.aws/config must not send a real deploy elsewhere: the SDK then
    # uses AWS's own endpoints whatever the profile says (AWS_ENDPOINT_URL* variables are not allowlisted either).
    env["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true"
    kind, profile = credential_source(target, source)
    if kind == "environment":  # osls would prefer a profile named in AWS_PROFILE; boto3 prefers these: use these
        env.pop("AWS_PROFILE", None)
    else:
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.pop(key, None)
        if profile:
            env["AWS_PROFILE"] = profile
    if class_account:  # deploy through the account's CloudFormation role, with its permissions boundary
        env.update(class_account_env(class_account))
    if credentials:  # resolved by boto3 (a credential_process that needs the real HOME): osls uses exactly these
        env.pop("AWS_PROFILE", None)
        env.update(credentials)
    return env


# Written by the instructor's template (docs/class-account.yml) once per account; read by every learner's deploy.
CLASS_PARAMETERS = {
    "WORKSHOP_DEPLOYMENT_ROLE": "/workshop-class/deployment-role",
    "WORKSHOP_PERMISSIONS_BOUNDARY": "/workshop-class/permissions-boundary",
}


def class_account(target: Target, environ: Mapping[str, str] | None = None, session=None) -> dict[str, str]:
    """The class account's deployment role and permissions boundary, as osls's environment; {} on a personal account.

    The environment's WORKSHOP_DEPLOYMENT_ROLE / WORKSHOP_PERMISSIONS_BOUNDARY win; else the SSM parameters the
    instructor's template wrote. Never set by editing the learner's serverless.yml (osls_class_account.cjs sets them)."""
    source = os.environ if environ is None else environ
    given = {k: source[k] for k in CLASS_PARAMETERS if source.get(k)}
    if given or target.name != "aws":
        return given
    try:
        ssm = client(session or boto3_session(target), "ssm")
        found = ssm.get_parameters(Names=list(CLASS_PARAMETERS.values()))["Parameters"]
    except Exception:  # not a class account, or a policy that may not read them: deploy with the learner's own rights
        return {}
    by_name = {p["Name"]: p["Value"] for p in found}
    return {k: by_name[name] for k, name in CLASS_PARAMETERS.items() if by_name.get(name)}


def class_account_env(account: Mapping[str, str]) -> dict[str, str]:
    """What makes osls deploy through the class account's role: the values, and the script that applies them."""
    shim = str(Path(__file__).with_name("osls_class_account.cjs")).replace("\\", "/")
    return {**{k: v for k, v in account.items() if k in CLASS_PARAMETERS}, "NODE_OPTIONS": f'--require "{shim}"'}


def credential_source(target: Target, environ: Mapping[str, str] | None = None) -> tuple[str, str | None]:
    """Where the aws target's credentials come from, decided once for osls and boto3 alike.

    ("profile", NAME) for `--profile` or AWS_PROFILE, ("environment", None) for keys in the environment (which win over
    AWS_PROFILE, as in boto3), ("chain", None) for the default profile or the container/instance role."""
    source = os.environ if environ is None else environ
    if target.profile:
        return "profile", target.profile
    if source.get("AWS_ACCESS_KEY_ID") and source.get("AWS_SECRET_ACCESS_KEY"):
        return "environment", None
    if named := source.get("AWS_PROFILE") or source.get("AWS_DEFAULT_PROFILE"):  # boto3 reads both; osls is told which
        return "profile", named
    return "chain", None


def link_aws_dir(home: Path, environ: Mapping[str, str] | None = None) -> bool:
    """Make `<private home>/.aws` the user's `~/.aws`: the SDK finds the SSO token cache (and the CLI's role cache)
    only under $HOME. osls's own caches stay in the private home. False when there is nothing to link or no link."""
    source = os.environ if environ is None else environ
    real = Path(source.get("HOME") or Path.home()) / ".aws"
    link = home / ".aws"
    if link.is_symlink():
        if link.resolve() == real.resolve():
            return True
        link.unlink()
    if not real.is_dir() or link.exists():
        return False
    try:
        link.symlink_to(real, target_is_directory=True)
    except OSError:
        return False
    return True


def unlink_aws_dir(home: Path) -> None:
    """The local target never sees the user's AWS files, not even through the private home."""
    link = home / ".aws"
    if link.is_symlink():
        link.unlink()


def uses_credential_process(target: Target, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the profile the aws target uses gets its keys from a `credential_process` command."""
    kind, profile = credential_source(target, environ)
    if kind == "environment":
        return False
    try:
        import botocore.session

        config = botocore.session.Session(profile=profile).get_scoped_config()
    except Exception:  # a missing profile is reported by the deploy itself (and by doctor)
        return False
    return bool(config.get("credential_process"))


def exported_credentials(target: Target) -> dict[str, str]:
    """The aws target's credentials resolved by boto3, as environment variables for osls."""
    frozen = boto3_session(target).get_credentials().get_frozen_credentials()
    env = {"AWS_ACCESS_KEY_ID": frozen.access_key, "AWS_SECRET_ACCESS_KEY": frozen.secret_key}
    if frozen.token:
        env["AWS_SESSION_TOKEN"] = frozen.token
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
    kind, profile = credential_source(target)
    if kind == "environment":  # the keys in the environment, whatever AWS_PROFILE says (as osls is given them)
        keys = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
        keys.set_config_variable("ignore_configured_endpoint_urls", True)
        return boto3.Session(botocore_session=keys, region_name=target.region)
    real = botocore.session.Session()
    # Every client of this session, not only those made by `client()`, ignores endpoints configured in the profile
    # or the environment: the account the confirmation shows is the account osls deploys to.
    real.set_config_variable("ignore_configured_endpoint_urls", True)
    return boto3.Session(botocore_session=real, profile_name=profile, region_name=target.region)


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


def caller_identity(session, target: Target) -> dict[str, Any]:
    """Who the target's credentials are (STS); an unreachable endpoint or missing credentials is one clear WorkshopError."""
    from botocore.exceptions import ClientError

    try:
        return client(session, "sts").get_caller_identity()
    except ClientError as exc:
        raise WorkshopError(f"AWS refused the credentials of the {target.name} target ({exc}); "
                            "sign in again (e.g. `aws sso login`) or choose `--profile`, then run `workshop doctor`.") from None
    except Exception as exc:
        if type(exc).__module__ == "botocore.exceptions":  # offline, no credentials, a profile that does not exist
            raise WorkshopError(unreachable(target, exc)) from None
        raise


def unreachable(target: Target, exc: BaseException) -> str:
    """The line for an AWS call that never got an answer (offline, no credentials, a bad profile)."""
    if target.name == "local":
        return f"The emulator does not answer ({exc}); run `workshop emulator stop` then `workshop emulator start`."
    return (f"Could not reach AWS in {target.region} ({exc}). Check your network and credentials "
            "(`aws sts get-caller-identity`), then run `workshop doctor`.")


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
