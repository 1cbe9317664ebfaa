"""Progress on stderr while the learner waits: the checks running now, with a countdown of their waits (deploys: common.Spinner).

Shown only when stderr is a terminal and the command does not print JSON: a pipe, a log file or `--json` get nothing.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text


def checks_text(running: list[Any], now: float | None = None) -> Text:
    """`running stacks-deployed, ride-recorded · ride-recorded waits for ride X in DynamoDB: 28 s left`."""
    now = time.monotonic() if now is None else now
    if not running:
        return Text("starting the checks")
    text = Text("running ") + Text(", ".join(r.check for r in running), style="bold")
    for r in running:
        if r.until is not None and r.what:
            left = max(0, round(r.until - now))
            text.append(f" · {r.check} waits for {r.what}: ")
            text.append(f"{left} s left", style="yellow")
    return text


class _Dynamic:
    """A renderable that asks `source` for its text at every refresh, behind one animated spinner."""

    def __init__(self, source):
        self.source = source
        self.spinner = Spinner("dots", text="")

    def __rich__(self):
        self.spinner.update(text=self.source())
        return self.spinner


class CheckSpinner:
    """`with CheckSpinner(console, enabled):` around a run of checks (verify, verify --all, next at the last step, watch)."""

    def __init__(self, console: Console, enabled: bool = True, source=None):
        from workshop.checks import runner

        self.source = source or (lambda: checks_text(runner.running()))
        self.live = Live(_Dynamic(self.source), console=console, transient=True, refresh_per_second=8) \
            if enabled and console.is_terminal else None

    def __enter__(self):
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.live is not None:
            return self.live.__exit__(*exc)
        return None


def for_checks(as_json: bool = False) -> CheckSpinner:
    """The spinner for the checks about to run, on stderr; nothing with --json or when stderr is not a terminal."""
    from workshop.cli import render

    return CheckSpinner(render.err_console(), enabled=not as_json)
