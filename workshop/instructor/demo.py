"""The instructor demo: every step of the module applied, deployed and verified, one after the other.

The core drives a Presenter (the CLI's Rich renderer, or a test's recorder) and never prints.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from workshop.checkpoints import operations
from workshop.checks import runner as verify
from workshop.course import progress, workspace
from workshop.course.model import Course, Step
from workshop.deploy import rollout, targets
from workshop.errors import BadInput
from workshop.instructor import architecture


class Presenter(Protocol):
    def card(self, step: Step, why: str, last: Step) -> None: ...  # `last`: the module's last step ("step 3 of N")
    def pictures(self, before: list[str], after: list[str]) -> None: ...
    def diff(self, text: str) -> None: ...
    def solved(self, step: Step, outcome: Any) -> None: ...
    def deploy_context(self, ctx: rollout.Context) -> Any: ...  # a context manager showing live progress
    def verified(self, report: verify.Report) -> None: ...
    def pause(self, step: Step) -> None: ...
    # optional: def waiting(self, step: Step, seconds_left: float, pending: list[str]) -> None (a countdown on aws)


# On AWS, Lambda retries a failed asynchronous event after about one and then two more minutes before the DLQ:
# the demo waits for pending checks up to this long, re-running only those, and shows what is left.
AWS_PENDING_WAIT = 300.0
PENDING_TICK = 5.0
PENDING_RECHECK = 15.0


@dataclass
class StepResult:
    step: Step
    passed: bool
    seconds: float
    deploy_seconds: float = 0.0
    report: verify.Report | None = None

    @property
    def pending(self) -> bool:
        """Not passed, but nothing failed: some check is still waiting for AWS (never shown as a failure)."""
        return not self.passed and is_pending(self.report)


@dataclass
class Summary:
    results: list[StepResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    def ride(self, check_id: str) -> tuple[Step, dict[str, Any]] | None:
        """The step that measured a ride with a behaviour check, and the ride (path, http_ms, record_ms), if it passed."""
        for result in self.results:
            for run in (result.report.runs if result.report else []):
                if run.check.id == check_id and run.result.passed and run.result.data:
                    return result.step, dict(run.result.data)
        return None


def is_pending(report: verify.Report | None) -> bool:
    """Every check passed or is pending, and one at least is pending."""
    results = [run.result.result for run in (report.runs if report else [])]
    return "pending" in results and set(results) <= {"pass", "pending"}


def wait_for_pending(session, step: Step, report: verify.Report, presenter: Presenter, *,
                     limit: float = AWS_PENDING_WAIT, clock=time.monotonic, sleep=time.sleep) -> verify.Report:
    """Re-run the pending checks until they pass or `limit` seconds have gone, telling the presenter the time left."""
    deadline = clock() + limit
    waiting = getattr(presenter, "waiting", None)
    while is_pending(report) and clock() < deadline:
        names = [run.check.id for run in report.runs if run.result.result == "pending"]
        recheck = clock() + PENDING_RECHECK
        while clock() < min(recheck, deadline):
            if waiting is not None:
                waiting(step, deadline - clock(), names)
            sleep(PENDING_TICK)
        ctx = verify.context(session)
        again = {run.check.id: run for run in verify.run_checks(ctx, names)}
        report = verify.Report(report.step, [again.get(run.check.id, run) for run in report.runs])
        verify.record(session, report)
    return report


def why_of(step: Step) -> str:
    """The first paragraph of the step's `## Why` section."""
    match = re.search(r"^## Why\s*\n+(.+?)(?:\n\s*\n|\n## |\Z)", step.text(), re.DOTALL | re.MULTILINE)
    return " ".join(match.group(1).split()) if match else ""


def prepare(session, ctx: rollout.Context, first: Step) -> None:
    """Put files and target at the start of `first` (a resumed demo)."""
    if first.number > 0:
        operations.reset_to_step(session.root, session.course, first)
        rollout.bring_to_step(ctx, session.course, first)
    progress.move_to(session, first)


def run_step(session, ctx: rollout.Context, step: Step, presenter: Presenter) -> StepResult:
    """One step: card, pictures, solution diff, solve, deploy where the step deploys, verify, pause."""
    started = time.perf_counter()
    presenter.card(step, why_of(step), session.course.steps[-1])
    before = architecture.draw(architecture.features(session.root))
    shown = operations.diff(session.root, session.course, step, against="solution")
    outcome = operations.solve_step(session.root, session.course, step)
    presenter.pictures(before, architecture.draw(architecture.features(session.root)))
    presenter.diff(shown.text)
    presenter.solved(step, outcome)
    deploy_seconds = 0.0
    if step.deploys:
        with presenter.deploy_context(ctx):
            mark = len(ctx.runs)
            for service in step.deploys:
                rollout.deploy_one(ctx, service)
            deploy_seconds = sum(run.seconds for run in ctx.runs[mark:])
    report = verify.run_step(session, step)
    if ctx.target.name == "aws" and is_pending(report):
        report = wait_for_pending(session, step, report, presenter)
    presenter.verified(report)
    result = StepResult(step, report.passed, time.perf_counter() - started, deploy_seconds, report)
    if step is not session.course.steps[-1]:
        if report.passed:
            progress.move_next(session)
        presenter.pause(step)
    return result


def run(session, ctx: rollout.Context, presenter: Presenter, first: Step, last: Step) -> Summary:
    """Steps `first`..`last` in order; the summary says which passed and how long each took."""
    summary = Summary()
    prepare(session, ctx, first)
    for step in session.course.steps[first.number : last.number + 1]:
        summary.results.append(run_step(session, ctx, step, presenter))
    return summary


def steps_between(course: Course, first: str | None, last: str | None) -> tuple[Step, Step]:
    """The first and last step of a demo (default: the whole module), by number or id."""
    start = course.step(first) if first is not None else course.steps[0]
    end = course.step(last) if last is not None else course.steps[-1]
    if end.number < start.number:
        raise BadInput(f"--to {end.number} comes before --from {start.number}: use e.g. `workshop demo --from {end.number} "
                       f"--to {start.number}`.")
    return start, end


@dataclass
class DemoWorkspace:
    """The workspace a demo runs in, its target and deploy context; `session` is set once the workspace is open."""

    root: Path
    temporary: bool
    session: Any = None
    target: targets.Target | None = None
    deploys: rollout.Context | None = None  # the deploy context (runs, announce)


@contextlib.contextmanager
def opened(course: Course, root: Path | None, target: str | None) -> Iterator[DemoWorkspace]:
    """A demo's workspace: `root` (made a workspace if needed), else a fresh temporary one. On the way out, the emulator
    the demo started is stopped, and a temporary workspace is removed (kept when it deployed to a real account)."""
    temporary = root is None
    where = DemoWorkspace(Path(tempfile.mkdtemp(prefix="workshop-demo-")) / "workspace" if root is None else root, temporary)
    emulator_was_running = False
    try:
        if workspace.locate(where.root) is None:
            from workshop.checkpoints import build

            build.create_workspace(where.root, course)
        where.session = progress.open_session(where.root, course)
        where.target = rollout.choose_target(where.session, name=target)
        emulator_was_running = where.target.name == "local" and not temporary and _emulator_running(where.root)
        where.deploys = rollout.Context.open(where.root, where.target)
        yield where
    finally:
        if not emulator_was_running:
            from workshop import emulator

            with contextlib.suppress(Exception):
                emulator.stop(targets.emulator_dir(where.root))
        if temporary and not (where.session is not None and where.session.state.target.get("name") == "aws"):
            shutil.rmtree(where.root.parent, ignore_errors=True)


def _emulator_running(root: Path) -> bool:
    from workshop import emulator

    try:
        return emulator.status(targets.emulator_dir(root)) is not None
    except Exception:  # noqa: BLE001 - not answering: the demo starts its own
        return False
