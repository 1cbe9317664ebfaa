"""Every table, panel and message the CLI shows. stdout carries results (or JSON); progress and errors go to stderr."""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table

STATE_STYLE = {"verified": "green", "skipped": "yellow", "not yet": "dim"}


def out_console() -> Console:
    """The console for results (stdout). Made per call, so NO_COLOR, COLUMNS and a swapped stdout are honoured."""
    return Console()


def err_console() -> Console:
    """The console for progress, spinners and errors (stderr)."""
    return Console(stderr=True)


def error_line(message: str, detail: str | None = None) -> None:
    """A red one-line error, optionally followed by detail lines."""
    console = err_console()
    console.print(f"[bold red]Error:[/] {message}", markup=True, highlight=False, soft_wrap=True)
    if detail:
        console.print(detail, markup=False, highlight=False, soft_wrap=True)


def note(message: str) -> None:
    """A dim informational line on stderr (what the runner did on the learner's behalf)."""
    err_console().print(f"[dim]{message}[/]", highlight=False, soft_wrap=True)


def success(message: str) -> None:
    out_console().print(f"[green]{message}[/]", highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """JSON on stdout and nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def status_table(title: str, rows: Iterable[dict[str, Any]]) -> None:
    """The progress table: number, title, services, state, current marker."""
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("", width=1)
    table.add_column("#", justify="right")
    table.add_column("Step")
    table.add_column("Service")
    table.add_column("State")
    for row in rows:
        style = STATE_STYLE.get(row["state"], "")
        table.add_row(
            ">" if row["current"] else "",
            str(row["number"]),
            row["title"],
            ", ".join(row["services"]),
            f"[{style}]{row['state']}[/]" if style else row["state"],
            style="bold" if row["current"] else None,
        )
    out_console().print(table)


def markdown(text: str, title: str | None = None) -> None:
    """Render a markdown document (a step, a question)."""
    from rich.markdown import Markdown
    from rich.rule import Rule

    console = out_console()
    if title:
        console.print(Rule(f"[bold]{title}[/]", align="left"))
    console.print(Markdown(text))


def hints(step_title: str, revealed: list[str], total: int) -> None:
    """The hints revealed so far, the newest last."""
    console = out_console()
    console.print(f"[bold]Hints for {step_title}[/] ({len(revealed)} of {total})")
    for number, text in enumerate(revealed, 1):
        console.print(f"  [cyan]{number}.[/] {text}", highlight=False, soft_wrap=True)
    if len(revealed) < total:
        console.print("[dim]Run `workshop hint` again for the next one.[/]")
    else:
        console.print("[dim]That was the last hint. `workshop diff` shows the answer; `workshop solve` applies it.[/]")


def questions_table(rows: Iterable[tuple[str, str]]) -> None:
    table = Table(title="Questions of the module", title_justify="left")
    table.add_column("Id")
    table.add_column("Question")
    for qid, title in rows:
        table.add_row(qid, title)
    out_console().print(table)
    out_console().print("[dim]Run `workshop questions --answer ID` to see a worked answer.[/]")
