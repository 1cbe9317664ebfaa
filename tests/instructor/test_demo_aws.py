"""Issue 15, item 6: on AWS the demo waits (with a countdown) for the poison ride, and pending is never shown as failed."""

from __future__ import annotations

import re

import pytest

from workshop.checks import registry
from workshop.checks import runner as verify
from workshop.checks.model import passed, pending
from workshop.course import model
from workshop.instructor import demo


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class Recorder:
    def __init__(self):
        self.left: list[float] = []

    def waiting(self, step, seconds_left, names):
        self.left.append(seconds_left)
        assert names == ["poison-ride-dead-lettered"]


def _report(step, *results):
    ids = ["live-dlq-config", "poison-ride-dead-lettered"]
    return verify.Report(step, [verify.CheckRun(registry.get(i), r) for i, r in zip(ids, results, strict=True)])


@pytest.fixture
def step13():
    return model.load().steps[-1]


def _waiting_for(step, monkeypatch, arrives_after: float | None, clock: Clock):
    """A poison ride that reaches the DLQ `arrives_after` seconds into the wait (None: never)."""
    reran = []

    def run_checks(ctx, names):
        reran.append(list(names))
        arrived = arrives_after is not None and clock.now >= arrives_after
        result = passed("in the DLQ") if arrived else pending("not yet", "in the DLQ", "wait")
        return [verify.CheckRun(registry.get(n), result) for n in names]

    monkeypatch.setattr(verify, "context", lambda session: None)
    monkeypatch.setattr(verify, "run_checks", run_checks)
    monkeypatch.setattr(verify, "record", lambda session, report: None)
    return reran


def test_the_demo_waits_for_the_poison_ride_with_a_countdown(step13, monkeypatch):
    clock, shown = Clock(), Recorder()
    reran = _waiting_for(step13, monkeypatch, 150.0, clock)  # AWS retries after about 1 and 2 minutes
    first = _report(step13, passed("ok"), pending("not yet", "in the DLQ", "wait"))
    report = demo.wait_for_pending(None, step13, first, shown, clock=clock, sleep=clock.sleep)
    assert report.passed and all(names == ["poison-ride-dead-lettered"] for names in reran)  # only the pending check re-runs
    assert shown.left == sorted(shown.left, reverse=True) and shown.left[0] == demo.AWS_PENDING_WAIT
    assert 150.0 <= clock.now < 200.0


def test_the_wait_ends_after_five_minutes_still_pending(step13, monkeypatch):
    clock, shown = Clock(), Recorder()
    _waiting_for(step13, monkeypatch, None, clock)
    first = _report(step13, passed("ok"), pending("not yet", "in the DLQ", "wait"))
    report = demo.wait_for_pending(None, step13, first, shown, clock=clock, sleep=clock.sleep)
    assert demo.is_pending(report) and clock.now <= demo.AWS_PENDING_WAIT + demo.PENDING_TICK
    result = demo.StepResult(step13, report.passed, 1.0, report=report)
    assert result.pending and not result.passed


def test_a_failure_is_not_waited_for(step13, monkeypatch):
    clock, shown = Clock(), Recorder()
    reran = _waiting_for(step13, monkeypatch, None, clock)
    from workshop.checks.model import failed

    first = _report(step13, failed("no DLQ", "a DLQ", "fix"), pending("not yet", "in the DLQ", "wait"))
    assert demo.wait_for_pending(None, step13, first, shown, clock=clock, sleep=clock.sleep) is first and reran == []


@pytest.mark.parametrize("width", [80, 120])
def test_a_pending_step_is_shown_pending_never_failed(step13, monkeypatch, width):
    from rich.console import Console

    from workshop.cli import demo as cli_demo
    from workshop.cli import render

    consoles = []

    def console():
        consoles.append(Console(record=True, width=width, force_terminal=False))
        return consoles[-1]

    monkeypatch.setattr(render, "out_console", console)
    report = _report(step13, passed("ok"), pending("poison ride published; not in the DLQ yet", "in the DLQ", "wait"))
    summary = demo.Summary([demo.StepResult(step13, False, 300.0, report=report)])
    cli_demo._summary(summary, "aws")
    render.verify_table(report)
    text = "".join(c.export_text() for c in consoles)
    cells = [cell.strip() for line in text.splitlines() for cell in re.split(r"[│┃]", line)]
    assert "pending" in cells and "failed" not in cells and "fail" not in cells and "do not pass" not in text
