"""`workshop watch`: what to re-run when a file of the current step's services is saved, and what the learner does next.

The loop is the command's; the rules are here. A round runs the step's static checks (for a step without any, the
static checks of earlier steps that must still hold on its services: "are the files right for this deploy?") and the
unit tests of the services whose files changed. Nothing here writes to the account: deploys and the live checks run
only when the learner presses their key (`deploy`, `live`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workshop.checks import registry
from workshop.checks import runner as checks_runner
from workshop.checks.runner import CheckRun, Report
from workshop.course import paths, progress

# Folders whose changes never mean "the learner saved a file": caches, build output, osls state, git.
IGNORED = {".git", paths.STATE_DIR, ".serverless", "node_modules", "__pycache__", ".pytest_cache", ".venv", ".mypy_cache", ".ruff_cache"}
IGNORED_SUFFIXES = (".pyc", ".swp", ".swx", "~", ".tmp")
DEBOUNCE_MS = 400
KEYS = {"d": "deploy", "v": "live checks", "n": "next step", "h": "hint", "q": "quit"}


@dataclass
class TestRun:
    """One service's unit tests: passed or not, pytest's summary line and its output."""

    service: str
    passed: bool
    summary: str
    output: str = ""


@dataclass
class Round:
    """The answer of one round: the static checks and the unit tests run, and how long it took."""

    step: Any
    runs: list[CheckRun] = field(default_factory=list)
    tests: list[TestRun] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def files_ok(self) -> bool:
        return all(r.result.passed for r in self.runs) and all(t.passed for t in self.tests)


@dataclass
class Verdict:
    """What the screen says under the results: `fix`, `deploy`, `live`, `verified` or `last`, one sentence, the keys that apply."""

    kind: str
    message: str
    keys: tuple[str, ...]


def static_checks(course, step) -> list[str]:
    """The static checks a save re-runs: the step's own, else those of earlier steps that must still hold on its services."""
    own = [c for c in step.checks if c in registry.CHECKS and registry.get(c).family == "static"]
    if own:
        return own
    seen: dict[str, None] = {}
    for earlier in course.steps:
        if earlier.number > step.number:
            break
        for check_id in earlier.checks:
            check = registry.CHECKS.get(check_id)
            if check and check.family == "static" and check.holds_at_end and check.service in step.services:
                seen.setdefault(check_id)
    return list(seen)


def tested_services(root: Path, step, changed: Iterable[str] | None = None) -> list[str]:
    """The step's services that carry unit tests, limited to those whose files changed (all of them on the first round)."""
    wanted = set(step.services if changed is None else changed)
    return [s for s in step.services if s in wanted and (root / s / "tests").is_dir()]


def relevant(path: Path, root: Path, services: Iterable[str]) -> str | None:
    """The service a changed path belongs to, or None for a file nobody saves by hand (caches, build output, git)."""
    try:
        parts = Path(path).resolve().relative_to(root.resolve()).parts
    except ValueError:
        return None
    if len(parts) < 2 or parts[0] not in set(services):
        return None
    if any(part in IGNORED for part in parts) or parts[-1].endswith(IGNORED_SUFFIXES):
        return None
    return parts[0]


def run_tests(root: Path, service: str) -> TestRun:
    """pytest in the service folder, captured; the summary is pytest's last line."""
    import io

    from workshop.deploy import unit_tests

    buffer = io.StringIO()
    code = unit_tests.run(root / service, stream=buffer, timeout=120)
    output = buffer.getvalue()
    lines = [line.strip("= ") for line in output.strip().splitlines() if line.strip()]
    summary = lines[-1] if lines else f"pytest exited {code}"
    return TestRun(service, code == 0, summary, output)


def run_round(session, step, changed: Iterable[str] | None = None, *, tests: bool = True) -> Round:
    """Re-run the static checks of `step` and the unit tests of the services in `changed` (None: every service)."""
    started = time.monotonic()
    ids = static_checks(session.course, step)
    runs = checks_runner.run_checks(checks_runner.context(session), ids) if ids else []
    done = Round(step, runs)
    if tests:
        done.tests = [run_tests(session.root, s) for s in tested_services(session.root, step, changed)]
    if ids and list(ids) == list(step.checks) and done.files_ok:
        # every check of the step is static and passes: this round is the step's verify, so record it as verify would
        checks_runner.record(session, Report(step, runs))
    done.seconds = time.monotonic() - started
    return done


def remaining_deploys(step, deployed: Iterable[str]) -> list[str]:
    """The services the step deploys that have not been deployed yet (in the step's order)."""
    done = set(deployed)
    return [s for s in step.deploys if s not in done]


def deploy_command(services: list[str]) -> str:
    return "workshop deploy all" if len(services) > 1 else f"workshop deploy {services[0]}"


def verdict(session, step, last: Round | None, *, deployed: Iterable[str] = (), live: Report | None = None) -> Verdict:
    """What remains for this step, given the last round, what was deployed while watching and the last live run."""
    is_last = session.course.index(step) + 1 >= len(session.course.steps)
    state = progress.step_state(session, step)
    if last is not None and not last.files_ok:
        failing = [r for r in last.runs if not r.result.passed]
        tests = [t for t in last.tests if not t.passed]
        parts = ([f"{len(failing)} of {len(last.runs)} checks fail"] if failing else []) + [f"{t.service} tests fail" for t in tests]
        return Verdict("fix", "; ".join(parts) + ": fix the files and save, the checks run again.", ("h", "q"))
    if state == "verified" and (live is None or live.passed):
        if is_last:
            return Verdict("last", "step verified: this is the last step; quit and run `workshop next` to finish the module.", ("h", "q"))
        return Verdict("verified", "step verified: press n for the next step.", ("n", "h", "q"))
    remaining = remaining_deploys(step, deployed)
    if remaining and (live is None or not live.passed):
        return Verdict("deploy", f"files are right: run `{deploy_command(remaining)}` (press d), then v for the live checks.",
                       ("d", "v", "h", "q"))
    if live is not None and not live.passed:
        return Verdict("live", "the live checks do not pass yet: read their fixes above, then press v again.", ("d", "v", "h", "q"))
    if any(registry.CHECKS.get(c) and registry.get(c).family != "static" for c in step.checks):
        writes = checks_runner.writing_checks(session.course, step)
        note = f" (they write: {'; '.join(writes)})" if writes else ""
        return Verdict("live", f"files are right: press v to run the live checks{note}.", ("v", "h", "q"))
    return Verdict("live", "files are right: press v to verify the step.", ("v", "h", "q"))


def file_changes(root: Path, services: Iterable[str], stop, *, debounce_ms: int = DEBOUNCE_MS) -> Iterator[set[str]]:
    """Sets of services with saved files, until `stop` (a threading.Event) is set. Debounced by watchfiles."""
    import watchfiles

    services = [s for s in services if (root / s).is_dir()]
    if not services:
        return
    for changes in watchfiles.watch(*(root / s for s in services), stop_event=stop, debounce=debounce_ms,
                                    step=50, rust_timeout=200, yield_on_timeout=False, raise_interrupt=False):
        touched = {svc for _, path in changes if (svc := relevant(Path(path), root, services))}
        if touched:
            yield touched

