"""Run checks: one step's concurrently, or every check that must hold at the end; record the results in state."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from workshop.checks import registry
from workshop.checks.model import Check, Context, Problem, Result, errored, running, start_running, stop_running

MAX_WORKERS = 8
_local = threading.local()
UNEXPECTED_FIX = "Run `workshop verify` again; if it keeps happening, run `workshop emulator status` (local) or check your network."


def current_check() -> str | None:
    """The id of the check running on this thread (tests use it to hold each check to its declared AWS calls)."""
    return getattr(_local, "check", None)


__all__ = ["running"]  # re-exported: what runs now, for the CLI's spinner


@dataclass
class CheckRun:
    check: Check
    result: Result

    def to_json(self) -> dict[str, Any]:
        c, r = self.check, self.result
        return {"id": c.id, "title": c.title, "service": c.service, "family": c.family, "result": r.result,
                "observed": r.observed, "expected": r.expected, "fix": r.fix, "seconds": round(r.seconds, 3)}


@dataclass
class Report:
    """The results of one step (or of the end-of-module re-verification, step None)."""

    step: Any
    runs: list[CheckRun] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.runs) and all(r.result.passed for r in self.runs)

    def to_json(self) -> dict[str, Any]:
        step = None if self.step is None else self.step.number
        return {"step": step, "passed": self.passed, "checks": [r.to_json() for r in self.runs]}


def _run_one(check: Check, ctx: Context) -> CheckRun:
    _local.check = check.id
    started = time.monotonic()
    start_running(check.id, started)
    try:
        result = registry.function_of(check)(ctx)
    except Problem as problem:
        result = problem.result
    except Exception as exc:  # noqa: BLE001 - a check must answer, never crash the command
        result = errored(f"the check stopped: {type(exc).__name__}: {exc}"[:300], UNEXPECTED_FIX)
    finally:
        _local.check = None
        stop_running()
    result.seconds = time.monotonic() - started
    result.reference = result.reference or check.reference
    return CheckRun(check, result)


def run_checks(ctx: Context, check_ids: Iterable[str]) -> list[CheckRun]:
    """Run the checks concurrently (live ones share one guard and one set of clients through `ctx`), in the given order."""
    checks = [registry.get(i) for i in check_ids]
    ctx.running = frozenset(c.id for c in checks)  # lets checks that share one run (the service tests) run only what is asked
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, max(1, len(checks))), thread_name_prefix="check") as pool:
        return list(pool.map(lambda c: _run_one(c, ctx), checks))


def context(session, *, wait: bool = False, connect: Callable | None = None, target=None) -> Context:
    """The check context of a workspace session (its target unless one is given)."""
    from workshop.deploy import targets

    history = {k: v.last_verify for k, v in session.state.steps.items() if v.last_verify}
    return Context(session.root, target or targets.resolve(session.state.target), wait=wait, connect=connect,
                   history=history, course_root=session.course.root)


def run_step(session, step, **kwargs: Any) -> Report:
    """Run one step's checks and record the result in the workspace's state."""
    report = Report(step, run_checks(context(session, **kwargs), step.checks))
    record(session, report)
    return report


def record(session, report: Report) -> None:
    """Store a step's result: `verified` when every check passed; a failing re-run takes `verified` back."""
    from workshop.course import progress as course_progress
    from workshop.course import workspace

    progress = session.state.step(report.step.id)
    at = workspace.now()
    progress.last_verify = {
        "passed": report.passed, "at": at,
        "checks": {r.check.id: {"result": r.result.result, "observed": r.result.observed, **({"data": r.result.data} if r.result.data else {})}
                   for r in report.runs},
    }
    if report.passed:
        course_progress.mark_verified(session, report.step, at)
    elif progress.state == "verified":
        progress.state, progress.verified_on = "not yet", None
    session.save()


@dataclass
class Advance:
    """What `workshop next` did: the step now current, whether the module is finished, and any re-verification run."""

    step: Any
    finished: bool
    reverified: Report | None = None


def advance(session, *, force: bool = False, before_checks: Callable[[Any, list[str]], None] | None = None) -> Advance:
    """Move on from the current step. Unless forced: it must be verified on the files as they are now (changed files
    are verified again), and finishing re-verifies every check that must still hold (the state is a cache).
    `before_checks(step, writes)` is told before any checks run again (step None: the end-of-module checks)."""
    from workshop.course import progress as course_progress
    from workshop.errors import WorkshopError

    current = session.current()
    reverified = None
    if not force:
        if course_progress.step_state(session, current) != "verified":
            raise WorkshopError(f"Step {current.number} has not passed its checks yet: run `workshop verify` "
                                "(or `workshop next --force` to skip it; it then shows as skipped).")
        if course_progress.changed_since_verified(session, current):
            if before_checks is not None:
                before_checks(current, writing_checks(session.course, current))
            reverified = run_step(session, current)
            if not reverified.passed:
                raise WorkshopError(f"Your files or deploys of step {current.number} changed since it was verified, and its "
                                    "checks no longer pass: run `workshop verify` to see the fixes "
                                    "(or `workshop next --force` to skip it).")
        if session.course.index(current) + 1 >= len(session.course.steps):
            if before_checks is not None:
                before_checks(None, writing_checks(session.course, None))
            report = verify_all(session)
            if not report.passed:
                failing = ", ".join(r.check.id for r in report.runs if not r.result.passed)
                raise WorkshopError(f"Before finishing, every check that must still hold was run again, and these do not "
                                    f"pass: {failing}. Run `workshop verify --all` to see the fixes.")
    step, finished = course_progress.move_next(session, force=force)
    return Advance(step, finished, reverified)


def writing_checks(course, step) -> list[str]:
    """What the checks about to run would write (said before they run)."""
    ids = step.checks if step is not None else end_checks(course)
    return [registry.get(i).title.split("(")[-1].rstrip(")") for i in ids if i in registry.CHECKS and registry.get(i).writes]


def end_checks(course) -> list[str]:
    """Every check of the course that must still hold when the module is finished, once, in course order."""
    seen: dict[str, None] = {}
    for step in course.steps:
        for check_id in step.checks:
            if check_id in registry.CHECKS and registry.get(check_id).holds_at_end:
                seen.setdefault(check_id)
    return list(seen)


def verify_all(session, **kwargs: Any) -> Report:
    """Re-verify, at the end of the module, every check that must still hold (the state is a cache; checks are the truth)."""
    return Report(None, run_checks(context(session, **kwargs), end_checks(session.course)))


# The IAM actions behind API operations whose names differ (API Gateway's are HTTP verbs on resources).
_IAM_ACTION = {"apigateway:GetResources": "apigateway:GET", "apigateway:GetIntegration": "apigateway:GET"}
_NO_PERMISSION = {"sts:GetCallerIdentity"}  # always allowed
# Writes narrowed by a condition: the subscription DLQ check takes SNS's invoke permission away and gives it back, so
# verify may add or remove a permission for the SNS service principal only (never grant a person anything).
IAM_CONDITIONS = {action: {"StringEquals": {"lambda:Principal": "sns.amazonaws.com"}}
                  for action in ("lambda:AddPermission", "lambda:RemovePermission")}


# Where the checks' calls may go: the workshop's own resources, whose names start with a service's (`<service>-*`;
# SSM parameters are `/<service>/...`). One template per API prefix, filled with each service of the course.
IAM_RESOURCE_TEMPLATES = {
    "cloudformation": ["arn:aws:cloudformation:*:*:stack/{name}-*/*"],
    "dynamodb": ["arn:aws:dynamodb:*:*:table/{name}-*"],
    "iam": ["arn:aws:iam::*:role/{name}-*"],
    "lambda": ["arn:aws:lambda:*:*:function:{name}-*"],
    "logs": ["arn:aws:logs:*:*:log-group:/aws/lambda/{name}-*"],
    "sns": ["arn:aws:sns:*:*:{name}-*"],
    "sqs": ["arn:aws:sqs:*:*:{name}-*"],
    "ssm": ["arn:aws:ssm:*:*:parameter/{name}/*", "arn:aws:ssm:*:*:parameter/{name}-*"],
}


def iam_resources(prefix: str) -> list[str]:
    """The ARN patterns of API `prefix` for every service of the course (`wild-rydes-*` covers `wild-rydes-ride-record-*`)."""
    if prefix not in IAM_RESOURCE_TEMPLATES:
        raise KeyError(f"a check calls {prefix}: name the workshop's {prefix} ARNs in IAM_RESOURCE_TEMPLATES")
    return [template.format(name=name.removesuffix("-*")) for template in IAM_RESOURCE_TEMPLATES[prefix]
            for name in _stack_name_patterns()]


# Calls that name no workshop resource: listing the stacks (the "deployed elsewhere?" hint), API Gateway's GET (its
# resources are ids, not names), a subscription's attributes (no resource-level form), and the managed policies a function role may have attached (read only).
IAM_ACCOUNT_WIDE = {"cloudformation:ListStacks": "*", "apigateway:GET": "*", "sns:GetSubscriptionAttributes": "*",
                    "iam:GetPolicy": "arn:aws:iam::*:policy/*", "iam:GetPolicyVersion": "arn:aws:iam::*:policy/*"}


def iam_policy() -> dict[str, Any]:
    """The least-privilege policy for `workshop verify`, generated from the calls the checks declare: each action on
    the workshop's own ARNs (`wild-rydes-*`), the few that name no resource excepted."""
    import json

    reads, writes = set(), set()
    for check in registry.CHECKS.values():
        for call in check.calls:
            if call in _NO_PERMISSION:
                continue
            action = _IAM_ACTION.get(call, call)
            (writes if check.writes and not _is_read(call) else reads).add(action)
    wide: dict[str, list[str]] = {}
    for action in sorted(reads | writes):
        if action in IAM_ACCOUNT_WIDE:
            wide.setdefault(IAM_ACCOUNT_WIDE[action], []).append(action)
    statements = [{"Sid": "WorkshopVerifyAccountWide" if resource == "*" else "WorkshopVerifyManagedPolicies",
                   "Effect": "Allow", "Action": actions, "Resource": resource} for resource, actions in wide.items()]
    for sid, actions in (("WorkshopVerifyReads", reads - writes), ("WorkshopVerifyTestRides", writes)):
        for prefix in sorted({a.split(":")[0] for a in actions if a not in IAM_ACCOUNT_WIDE}):
            mine = sorted(a for a in actions if a.startswith(prefix + ":") and a not in IAM_ACCOUNT_WIDE)
            conditions = {json.dumps(IAM_CONDITIONS.get(a), sort_keys=True) for a in mine}
            if len(conditions) > 1:
                raise ValueError(f"{sid}{prefix}: give every {prefix} action of the statement the same IAM_CONDITIONS")
            statement = {"Sid": f"{sid}{prefix.capitalize()}", "Effect": "Allow", "Action": mine, "Resource": iam_resources(prefix)}
            if IAM_CONDITIONS.get(mine[0]):
                statement["Condition"] = IAM_CONDITIONS[mine[0]]
            statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def _stack_name_patterns() -> list[str]:
    """`<service>-*` for each service of the course, leaving out those another already covers."""
    import fnmatch

    from workshop.course import model

    patterns = sorted(f"{service}-*" for service in model.load().services)
    return [p for p in patterns if not any(o != p and fnmatch.fnmatchcase(p, o) for o in patterns)]


def iam_policy_text() -> str:
    """docs/verify-iam-policy.json as it must read (regenerate: `python -c "from workshop.checks import runner; print(runner.iam_policy_text(), end='')" > docs/verify-iam-policy.json`)."""
    import json

    return json.dumps(iam_policy(), indent=2) + "\n"


def _is_read(call: str) -> bool:
    operation = call.split(":", 1)[1]
    return operation.startswith(("Get", "List", "Describe", "Filter", "Receive", "Query"))


@dataclass
class DevStep:
    """One step of `workshop dev check`: its checks before (should fail) and after its solution and deploys (should pass)."""

    step: Any
    before: Report | None  # None for behaviour-only steps, which are exempt from failing at their start
    after: Report

    @property
    def ok(self) -> bool:
        return (self.before is None or not self.before.passed) and self.after.passed

    def problem(self) -> str:
        if self.before is not None and self.before.passed:
            return f"step {self.step.number}: its checks already pass at its start"
        failing = [f"{r.check.id} ({r.result.result}: {r.result.observed})" for r in self.after.runs if not r.result.passed]
        return f"step {self.step.number}: after its solution, " + "; ".join(failing) if failing else ""


def dev_check_steps(course, target, workspace_after: Callable[[int], Any], deploy: Callable[[Any, str], None], *,
                    connect: Callable | None = None, on_step: Callable[[DevStep, Context], None] | None = None) -> list[DevStep]:
    """For every step in order: its checks FAIL at its start (the previous checkpoint, the target holding the previous
    deploys) and PASS after its solution and its deploys. `workspace_after(n)` gives a workspace holding checkpoint n
    (-1: the start); `deploy(root, service)` deploys one service of it. Walking in order replays the deploys across services."""
    results = []
    for step in course.steps:
        before = None
        if set(step.kinds) != {"behaviour"}:
            before = Report(step, run_checks(Context(workspace_after(step.number - 1), target, connect=connect,
                                                     course_root=course.root), step.checks))
        root = workspace_after(step.number)
        for service in step.deploys:
            deploy(root, service)
        ctx = Context(root, target, connect=connect, course_root=course.root)
        done = DevStep(step, before, Report(step, run_checks(ctx, step.checks)))
        results.append(done)
        if on_step is not None:
            on_step(done, ctx)
    return results
