"""A service's serverless.yml for the checks: read once per run by the one reader (`deploy.service_file`), a broken file
ending the check with the problem, its line and a code frame; `osls print` when a value needs the framework itself."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from workshop.checks.model import Problem, failed
from workshop.deploy.service_file import STAGE, ServiceFile, ServiceFileError, action_allowed, as_list, shown

__all__ = ["STAGE", "ServiceFile", "as_list", "config", "framework_print", "shown", "unresolved", "misplaced", "hand_subscriptions",
           "sns_may_invoke_declared"]
PRINT_TIMEOUT = 40.0
FUNCTION_LOGICAL = "PutRideRecordSnsLambdaFunction"  # the logical id osls gives PutRideRecordSns
SNS = "sns.amazonaws.com"


def config(ctx, service: str) -> ServiceFile:
    """The service's serverless.yml (`!Ref X` and `Ref: X` alike); a missing or broken file ends the check."""
    return ctx.memo(("sls", service), lambda: _load(ctx, service))


def _load(ctx, service: str) -> ServiceFile:
    try:
        return ServiceFile.load(ctx.service_dir(service), service)
    except ServiceFileError as exc:
        if exc.problem == "missing":
            raise Problem(failed(f"{exc.shown} is missing", f"{exc.shown} in your workspace",
                                 "Restore it with `workshop reset` (your files are backed up first).")) from None
        where = f" at line {exc.line}" if exc.line else ""
        observed = exc.message + (f"\n{exc.frame}" if exc.frame else "")
        how = ("replace the tab with spaces" if exc.problem.startswith("tab characters")
               else "indent with spaces (two per level), a ':' after every key")
        raise Problem(failed(observed, "valid YAML", f"Fix {exc.shown}{where}: {how}.")) from None


def unresolved(text: str) -> bool:
    """True when a resolved string still holds a Serverless variable other than `${ssm:...}`."""
    import re

    rest = re.sub(r"\$\{ssm(\([^)]*\))?:[^{}]*\}", "", text.replace(STAGE, ""))
    return bool(re.search(r"\$\{[a-zA-Z]+(\([^)]*\))?:", rest))


def misplaced(sf: ServiceFile, fn_name: str, key: str) -> str:
    """' (found `key` at functions.X.environment.key, line N: one level too deep)' when `key` sits deeper in the
    function than it should, else ''."""
    fn = sf.function(fn_name)
    found = sf.find_key(key, fn, ("functions", fn_name)) if fn is not None else None
    if found is None or len(found.path) <= 3:
        return ""
    return (f" (`{key}` is at {found.dotted}, line {found.line}: one level too deep; "
            f"move it left to sit beside `{found.path[-2]}`)")


def framework_print(ctx, service: str) -> dict | None:
    """Ask the framework itself (`osls print`, bounded) for the resolved configuration; None when it cannot say."""
    def run() -> dict | None:
        from workshop.course import paths
        from workshop.deploy import targets, tools

        osls = tools.find_osls()
        if osls is None:
            return None
        home = paths.osls_home(ctx.root)  # the deploys' HOME: one osls cache per workspace
        home.mkdir(parents=True, exist_ok=True)
        env = targets.deploy_env(ctx.target, endpoint=ctx.endpoint, home=home)
        try:
            done = subprocess.run([osls, "print", "--format", "json", "--stage", ctx.target.stage, "--region", ctx.target.region],
                                  cwd=ctx.service_dir(service), env=env, capture_output=True, text=True, timeout=PRINT_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0:
            return None
        start = done.stdout.find("{")
        try:
            return json.loads(done.stdout[start:]) if start >= 0 else None
        except json.JSONDecodeError:
            return None

    return ctx.memo(("print", service), run)


def printed(ctx, service: str) -> ServiceFile | None:
    data = framework_print(ctx, service)
    return ServiceFile(data) if isinstance(data, dict) else None


def raw(value: Any) -> str:
    """A value as the learner wrote it, for the Observed column."""
    if isinstance(value, dict) and len(value) == 1:
        (k, v), = value.items()
        return f"{k}: {v!r}" if not isinstance(v, list) else f"{k}: [{', '.join(map(str, v))}]"
    return str(value)


def hand_subscriptions(sf: ServiceFile) -> dict[str, dict]:
    """The AWS::SNS::Subscription resources that deliver to PutRideRecordSns (logical id -> Properties)."""
    found = {}
    for logical, res in sf.of_type("AWS::SNS::Subscription").items():
        props = res.get("Properties") or {}
        if str(props.get("Protocol", "")).lower() == "lambda" and ServiceFile.refers_to(
                sf.resolve(props.get("Endpoint")), FUNCTION_LOGICAL, ("Arn",)):
            found[logical] = props
    return found


def sns_may_invoke_declared(sf: ServiceFile, source_ok=None) -> bool:  # noqa: ANN001 - a predicate (sf, SourceArn value)
    """Some AWS::Lambda::Permission lets SNS invoke PutRideRecordSns (what the `sns` event would have written); with
    `source_ok`, only one whose SourceArn it accepts (a permission for another topic lets this one invoke nothing)."""
    for res in sf.of_type("AWS::Lambda::Permission").values():
        props = res.get("Properties") or {}
        if (ServiceFile.refers_to(sf.resolve(props.get("FunctionName")), FUNCTION_LOGICAL, ("Arn",))
                and str(props.get("Principal", "")) == SNS and action_allowed(props.get("Action"), "lambda:InvokeFunction")
                and (source_ok is None or source_ok(sf, props.get("SourceArn")))):
            return True
    return False
