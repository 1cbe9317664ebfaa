"""The class mode screens: one table of every learner stage, the summary line, the teardown plan and its leftovers.

Kept apart from render.py so class mode reads as one piece; the same rules hold: stage names and AWS answers are
escaped (never markup), and columns fold instead of cutting, so nothing is lost at 80 columns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

RESULT_WORD = {"fail": "", "error": "could not check: ", "pending": "in progress: "}


def ago(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "unknown"
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 90 * 60:
        return f"{seconds // 60} min ago"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def _step(status) -> str:
    return "-" if status.step is None else str(status.step.number)


def _next(status) -> str:
    if status.next_run is None:
        return "[green]done[/]"
    r = status.next_run.result
    where = f"step {status.next_step.number}: " if status.next_step is not None else ""
    # A check that could not look, or a deploy still running: the title alone would not say why.
    why = f" [dim]({escape(r.observed)})[/]" if r.result in ("error", "pending") and r.observed else ""
    return f"{where}{RESULT_WORD.get(r.result, '')}{escape(status.next_run.check.title)}{why}"


def summary(result) -> str:
    """`5 learners · step 0: 1 · step 3: 2 · done: 1 · not changed for 15 min: a, b` (markup; stage names escaped)."""
    parts = [f"{len(result.stages)} learner{'s' if len(result.stages) != 1 else ''}"]
    done = sum(1 for s in result.stages if s.next_run is None)
    for step, count in result.per_step().items():
        parts.append(f"{'not started' if step is None else f'step {step}'}: {count}")
    if done:
        parts.append(f"done: {done}")
    idle = result.idle()
    minutes = result.to_json()["idle_minutes"] if idle else 0
    if idle:
        parts.append(f"[yellow]not changed for {minutes} min: {escape(', '.join(idle))}[/]")
    return " · ".join(parts)


def stats_line(result) -> str:
    data = result.to_json()["stats"]
    return (f"{data['calls']} API calls ({data['shared_calls']} shared; per stage: at most {data['calls_per_stage_max']}, "
            f"{data['calls_per_stage_mean']} on average) for {len(result.stages)} stages in {data['seconds']:.1f} s, "
            f"{data['workers']} stages at a time")


def status_view(result, *, stats: bool = False) -> Any:
    """The class table, its summary and (with --stats) the API call counts, as one renderable (redrawn by --watch)."""
    title = f"Class on {result.target.name} ({escape(result.target.region)})"
    if not result.stages:
        return Text(f"No learner stage is deployed on {result.target.name} in {result.target.region}.")
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("Stage", overflow="fold", ratio=2)
    table.add_column("Step", no_wrap=True, justify="right")
    table.add_column("Fails next", overflow="fold", ratio=5)
    table.add_column("Changed", overflow="fold", ratio=1)
    if stats:
        table.add_column("Calls", no_wrap=True, justify="right")
    for s in result.stages:
        changed = ago(s.last_changed, result.at)
        if s.idle(result.at):
            changed = f"[yellow]{changed}[/]"
        row = [escape(s.stage), _step(s), _next(s), changed]
        if stats:
            row.append(str(s.calls))
        table.add_row(*row)
    parts: list[Any] = [table, Text.from_markup(summary(result))]
    if stats:
        parts.append(Text(stats_line(result), style="dim"))
    return Group(*parts)


def teardown_plan(found: dict, stages: list[str], target, account: str) -> Table:
    where = f"AWS account {escape(account)}" if target.name == "aws" else "the emulator"
    table = Table(title=f"To remove from {where}, {escape(target.region)}", title_justify="left")
    table.add_column("Stage", overflow="fold")
    table.add_column("Stacks", overflow="fold")
    for stage in stages:
        deployed = found.get(stage)
        stacks = ([f"{escape(s['StackName'])} ({s['StackStatus']})" for s in deployed.stacks.values()] if deployed
                  else ["[dim]no stack; what is left of it is listed[/]"])
        table.add_row(escape(stage), "\n".join(stacks))
    return table


def leftovers_table(removals: list) -> Table:
    table = Table(title="Still there after the teardown", title_justify="left")
    table.add_column("Stage", overflow="fold")
    table.add_column("Kind", no_wrap=True)
    table.add_column("Name", overflow="fold")
    for removal in removals:
        for kind, name in removal.leftovers:
            table.add_row(escape(removal.stage), kind, escape(name))
    return table
