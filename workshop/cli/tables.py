"""The tables of the less frequent screens (doctor, teardown, backups, cost, the deploy summary), built from core results.

Values from outside (names, paths, AWS answers) are `Text`, never markup. Columns that hold names never cut them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.table import Table
from rich.text import Text


def _out():
    from workshop.cli import render

    return render.out_console()


def leftovers(title: str, left: Iterable[tuple[str, str]]) -> None:
    """`workshop teardown`: what of the workshop is still on the target."""
    table = Table(title=title, title_justify="left")
    table.add_column("Kind", no_wrap=True)
    table.add_column("Name", overflow="fold")
    for kind, name in left:
        table.add_row(Text(kind), Text(name))
    _out().print(table)


def doctor(findings: Sequence[Any]) -> None:
    """`workshop doctor`: one line per finding (wrapped, paths whole); the fix under a failing one."""
    from workshop.cli import screens

    console = _out()
    width = max(len(f.name) for f in findings)
    lines = [Text("workshop doctor", style="bold")]
    for f in findings:
        mark = Text(f"  {'ok' if f.ok else 'fail':<5} ", style="green" if f.ok else "red") + Text(f"{f.name:<{width}}  ")
        lines += screens.hanging(mark, f.detail, console.width)
        if not f.ok and f.fix:
            lines += screens.hanging(Text(" " * (len(mark.plain) - 5)) + Text("fix: ", style="bold"), f.fix, console.width)
    screens.emit(console, lines)


def backups(found: Sequence[Any]) -> None:
    """`workshop backups`: name, creation time and file count, oldest first."""
    table = Table(title="Backups (oldest first)", title_justify="left")
    table.add_column("Name", no_wrap=True, overflow="fold")
    table.add_column("Created (UTC)", no_wrap=True)
    table.add_column("Files", justify="right")
    for backup in found:
        table.add_row(Text(backup.name), Text(backup.created), str(backup.files))
    _out().print(table)


def deploy_summary(summaries: Mapping[str, list[str]], next_command: str) -> None:
    """After a deploy: what osls reported for each service (endpoints, functions, stack outputs), then the next command."""
    from workshop.cli import screens

    console = _out()
    for service, lines in summaries.items():
        if not lines:
            continue
        screens.emit(console, [Text(f"{service}:", style="bold")])
        for line in lines:
            line = line.removeprefix("✔ ").rstrip()
            if line:
                indent = "  " + line[: len(line) - len(line.lstrip())]
                screens.emit(console, screens.hanging(Text(indent), line.lstrip(), console.width, indent=len(indent) + 2))
    then = f"`{next_command}`, then `workshop verify`" if next_command != "workshop verify" else f"`{next_command}`"
    screens.emit(console, [Text.assemble("Next: ", (then, "bold"), ".")])


def cost(estimate: Any) -> None:
    """`workshop cost`: the two paths side by side, the saving, and the notes on what was assumed."""
    from workshop.instructor.cost import _num  # one number format for the table and the worked answer

    console = _out()
    i, prices = estimate.inputs, estimate.prices
    billed = "" if estimate.billed_ms == i.duration_ms else f" (billed {estimate.billed_ms:,} ms)"
    table = Table(title=f"PutRideRecord a month: {i.requests:,} requests, {_num(i.duration_ms)} ms{billed}, "
                  f"{i.memory_mb:,} MB, {i.arch}", title_justify="left")
    door = "API Gateway HTTP API" if i.http_api else "API Gateway REST API"
    table.add_column("Component")
    table.add_column("Arithmetic", style="dim")
    table.add_column(f"HTTP path\n{door} + Lambda", justify="right")
    table.add_column("SNS path\nSNS + Lambda", justify="right")
    for label, http_line, sns_line in estimate.rows():
        working = (http_line or sns_line).working
        table.add_row(label, working, _cell(http_line), _cell(sns_line))
    table.add_section()
    table.add_row("[bold]Total[/]", "", f"[bold]${estimate.http.total:,}[/]", f"[bold]${estimate.sns.total:,}[/]")
    console.print(table)
    console.print(
        f"The SNS path saves [bold green]${estimate.saving:,}[/] a month "
        f"({estimate.saving_percent}% of the HTTP path): Lambda costs the same, only the front door changes.",
        highlight=False,
    )
    notes = [
        f"Prices: {prices.region}, taken {prices.taken.isoformat()}, amounts rounded to the cent.",
        "Free tier applied." if i.free_tier else "No free tier (add --free-tier).",
    ]
    if not i.with_table:
        notes.append("DynamoDB writes left out, the same on both paths (add --with-table).")
    if not i.http_api:
        notes.append("Try --http-api for the cheaper API Gateway.")
    console.print(f"[dim]{' '.join(notes)}[/]", highlight=False)


def _cell(line: Any) -> str:
    return "[dim]-[/]" if line is None else f"${line.billed:,}"
