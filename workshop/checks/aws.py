"""What every live check stands on: the context guard (identity, region, stage), the stacks, their resources, drift."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from workshop.checks.model import Problem, Result, errored, failed, pending

# Where a learner's deploy may have gone instead (probed only once a stack is missing from the target's region).
PROBE_REGIONS = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2")
EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
THROTTLED = {"Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded"}
# SNS says AuthorizationError where the other services say AccessDenied(Exception).
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "UnauthorizedAccess"}
BAD_KEYS = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "InvalidSignatureException"}
ACTIVE = ["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "ROLLBACK_COMPLETE", "CREATE_IN_PROGRESS",
          "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS",
          "CREATE_FAILED", "UPDATE_FAILED", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED",
          "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"]


def deploy_cmd(service: str) -> str:
    return f"`workshop deploy {service}`"


def recreate_cmd(service: str) -> str:
    return f"`workshop deploy {service} --recreate`"


def code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def translate(exc: Exception, ctx) -> Result | None:
    """An AWS error said as what it means to the learner (credentials, endpoint, permissions); None if not one of those."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    t = ctx.target
    if isinstance(exc, NoCredentialsError):
        return errored("no AWS credentials were found", "Configure them (`aws configure` or `aws sso login`), or name a profile: "
                       "`workshop verify --profile NAME`.")
    if isinstance(exc, EndpointConnectionError):
        if t.name == "local":
            return errored(f"the emulator does not answer ({exc})", "Run `workshop emulator start`, then `workshop verify`.")
        return errored(f"cannot reach AWS in {t.region} ({exc})", "Check your network, then `workshop verify` again.")
    if isinstance(exc, NoRegionError):
        return errored("no region is set", "Name one: `workshop verify --region us-east-1`.")
    if isinstance(exc, ClientError):
        c = code(exc)
        if c == "RequestExpired" or "Signature expired" in str(exc):
            return errored("AWS refused the request as too old: your computer's clock is off",
                           "Sync the clock (under WSL: `sudo hwclock -s`), then `workshop verify`.")
        if c in EXPIRED:
            return errored("your AWS credentials have expired", "Renew them (`aws sso login`, or fresh keys), then `workshop verify`.")
        if c in THROTTLED:
            return pending("AWS is throttling these calls (a class shares the account's limits)", "an answer from AWS",
                           "Wait a minute, then `workshop verify` again.")
        if c in BAD_KEYS:
            return errored("AWS does not accept these credentials (unknown key or wrong secret)",
                           "Check `aws sts get-caller-identity` with the same profile, then `workshop verify`.")
        if c in DENIED:
            return errored(f"your AWS identity may not do this: {exc}"[:300],
                           "Ask your instructor for the learner policy, which includes what verify reads "
                           "(docs/instructor.md, docs/verify-iam-policy.json), or name another profile: "
                           "`workshop verify --profile NAME`.")
    return None


def live(fn: Callable) -> Callable:
    """Run the context guard first, and turn AWS errors into results a learner can act on."""

    @functools.wraps(fn)
    def run(ctx) -> Result:
        try:
            identity(ctx)
            return fn(ctx)
        except Problem:
            raise
        except Exception as exc:  # noqa: BLE001
            said = translate(exc, ctx)
            if said is None:
                raise
            return said

    return run


def identity(ctx) -> dict:
    """Who the credentials are (once per run): expired or missing credentials are said here, before any 'not found'."""
    def ask():
        try:
            return ctx.client("sts").get_caller_identity()
        except Exception as exc:  # noqa: BLE001
            said = translate(exc, ctx)
            if said:
                raise Problem(said) from exc
            raise

    return ctx.memo("identity", ask)


def stack(ctx, service: str) -> dict:
    """The service's stack in the target's stage and region, whose status allows checking it; else the Problem said plainly."""
    return ctx.memo(("stack", service), lambda: _stack(ctx, service))


def _describe(client, name: str) -> dict | None:
    from botocore.exceptions import ClientError

    try:
        return client.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        if code(exc) == "ValidationError" and "does not exist" in str(exc):
            return None
        raise


def _stack(ctx, service: str) -> dict:
    t = ctx.target
    name = t.stack(service)
    found = _describe(ctx.client("cloudformation"), name)
    if found is None:
        raise Problem(_missing(ctx, service))
    status = found["StackStatus"]
    if status == "ROLLBACK_COMPLETE":
        raise Problem(failed(f"{name} is ROLLBACK_COMPLETE: its first deploy failed", "a *_COMPLETE stack",
                             f"Read the deploy log in .workshop/logs, fix the cause, then {recreate_cmd(service)}."))
    if status.endswith("_IN_PROGRESS"):
        raise Problem(pending(f"{name} is {status}", "a *_COMPLETE stack", "Wait for the deploy to finish, then `workshop verify`."))
    if status.endswith("_FAILED") or status == "UPDATE_ROLLBACK_COMPLETE":
        raise Problem(failed(f"{name} is {status}: the last deploy failed and was rolled back", "a *_COMPLETE stack",
                             f"Read the deploy log in .workshop/logs, fix the cause, then {deploy_cmd(service)} again."))
    return found


def _other_stages(ctx, service: str) -> list[str]:
    pattern = re.compile(rf"^{re.escape(service)}-([A-Za-z0-9-]+)$")
    from workshop.course import model

    longer = [s for s in model.load(ctx.course_root).services if s != service and s.startswith(service + "-")]
    names = []
    for page in ctx.client("cloudformation").get_paginator("list_stacks").paginate(StackStatusFilter=ACTIVE):
        for summary in page["StackSummaries"]:
            n = summary["StackName"]
            if pattern.match(n) and not any(n.startswith(o + "-") for o in longer):
                names.append(pattern.match(n).group(1))
    return sorted(set(names))


def _probe(ctx, region: str, name: str) -> bool:
    """Whether the stack is in another Region; a Region the organisation denies (or that is not enabled) is skipped."""
    from botocore.exceptions import ClientError

    try:
        return _describe(ctx.client("cloudformation", region=region), name) is not None
    except ClientError as exc:
        if code(exc) in DENIED or code(exc) in BAD_KEYS or code(exc) in THROTTLED:
            return False
        raise


def _missing(ctx, service: str) -> Result:
    t = ctx.target
    name = t.stack(service)
    # On a real account the other stages are other learners': never point at them (verifying one would record their
    # deployment as this learner's and write rides into their table).
    stages = _other_stages(ctx, service) if t.name == "local" else []
    if stages:
        shown = ", ".join(stages)
        return failed(f"{name} is not in {t.region}; {service} is deployed there to stage {shown}",
                      f"{service} deployed to stage {t.stage}",
                      f"Check that stage with `workshop verify --stage {stages[0]}`, or deploy this one: "
                      f"`workshop deploy {service} --stage {t.stage}`.")
    for region in PROBE_REGIONS:
        if region != t.region and _probe(ctx, region, name):
            return failed(f"{name} is not in {t.region}, but it is in {region}", f"{name} in {t.region}",
                          f"Your deploy went to {region} (your credentials' default region?). Check it there with "
                          f"`workshop verify --region {region}`, or deploy to {t.region}: "
                          f"`workshop deploy {service} --region {t.region}`.")
    return failed(f"{name} is not deployed (account {identity(ctx).get('Account')}, {t.region})", f"{name} deployed",
                  f"Run {deploy_cmd(service)}.")


def resources(ctx, service: str) -> dict[str, dict]:
    """The stack's resources by logical id (LogicalResourceId -> summary)."""
    def fetch():
        name = stack(ctx, service)["StackName"]
        found = {}
        for page in ctx.client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=name):
            for r in page["StackResourceSummaries"]:
                found[r["LogicalResourceId"]] = r
        return found

    return ctx.memo(("resources", service), fetch)


def physical(ctx, service: str, logical: str, *, what: str, step_hint: str) -> str:
    """The physical id of a resource the stack declares; a stack without it means the step's deploy has not happened."""
    found = resources(ctx, service).get(logical)
    if not found or not found.get("PhysicalResourceId"):
        raise Problem(failed(f"{ctx.target.stack(service)} has no {what} ({logical})", f"{logical} deployed",
                             f"{step_hint} then run {deploy_cmd(service)}."))
    return found["PhysicalResourceId"]


def of_type(ctx, service: str, cfn_type: str) -> dict[str, dict]:
    return {k: v for k, v in resources(ctx, service).items() if v.get("ResourceType") == cfn_type}


def drift(ctx, service: str, logical: str, what: str) -> Result:
    """A resource the stack declares but the account lacks: changed outside CloudFormation."""
    return failed(f"drift: {ctx.target.stack(service)} declares {what} ({logical}) but it is missing from the account "
                  "(deleted or changed by hand?)", f"{what} present", f"Repair it with {recreate_cmd(service)}.")
