"""Every table, panel and message the CLI shows. stdout carries results (or JSON); progress and errors go to stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console

STATE_STYLE = {"verified": "green", "skipped": "yellow", "not yet": "dim"}
RESULT_STYLE = {"pass": "green", "fail": "red", "error": "magenta", "pending": "yellow"}


def out_console() -> Console:
    """The console for results (stdout). Made per call, so NO_COLOR, COLUMNS and a swapped stdout are honoured."""
    return Console()


def err_console() -> Console:
    """The console for progress, spinners and errors (stderr)."""
    return Console(stderr=True)


def error_line(message: str, detail: str | None = None) -> None:
    """A red one-line error, optionally followed by detail lines."""
    from rich.text import Text

    console = err_console()
    # The message quotes paths, arguments and files: plain text, never markup ("[/x]" or "[draft]" are data).
    console.print(Text.assemble(("Error:", "bold red"), " ", message), highlight=False, soft_wrap=True)
    if detail:
        console.print(detail, markup=False, highlight=False, soft_wrap=True)


def note(message: str) -> None:
    """A dim informational line on stderr (what the runner did on the learner's behalf)."""
    err_console().print(message, style="dim", markup=False, highlight=False, soft_wrap=True)


def success(message: str) -> None:
    """A green line on stdout; the message is plain text (it quotes paths and step titles)."""
    out_console().print(message, style="green", markup=False, highlight=False, soft_wrap=True)


def plain(message: str, style: str = "") -> None:
    """A line on stdout that quotes learner text (paths, arguments, file content): never read as markup."""
    out_console().print(message, style=style, markup=False, highlight=False, soft_wrap=True)


def esc(text: object) -> str:
    """Learner text (a path, an argument, a log line, a resource name) made safe to put inside markup."""
    from rich.markup import escape

    return escape(str(text))


def print_json(data: Any) -> None:
    """JSON on stdout and nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def status_table(title: str, rows: Iterable[dict[str, Any]]) -> None:
    """The progress table: current marker, number, title, services, state.

    Laid out by hand rather than with rich.table: this is `workshop status`, the command people run most, and a Rich
    Table of 14 rows costs ~20 ms to measure and render (bench/bench_startup.py).
    """
    from rich.markup import escape

    rows = list(rows)
    console = out_console()
    # Service folders without the shared prefix: "ride-record", "wild-rydes".
    services = [", ".join(s.removeprefix("wild-rydes-") for s in r["services"]) for r in rows]
    width_title = max([len("Step"), *(len(r["title"]) for r in rows)])
    width_services = max([len("Service"), *(len(s) for s in services)])
    over = (2 + 3 + 2 + width_title + 2 + width_services + 2 + len("not yet")) - console.width
    if over > 0:  # a narrow terminal: shorten the services to one name, then the titles, then the services again
        for column, floor in (("services", len("ride-record")), ("title", 30), ("services", len("Service")), ("title", 12)):
            if over <= 0:
                break
            current = width_services if column == "services" else width_title
            cut = max(0, min(over, current - floor))
            over -= cut
            if column == "services":
                width_services -= cut
            else:
                width_title -= cut

    def fit(text: str, width: int) -> str:
        return text if len(text) <= width else text[: width - 1] + "…"

    lines = [f"[bold]{escape(title)}[/]", f"[bold]    #  {'Step':<{width_title}}  {'Service':<{width_services}}  State[/]"]
    for row, service in zip(rows, services, strict=True):
        style = STATE_STYLE.get(row["state"], "")
        state = f"[{style}]{row['state']}[/]" if style else row["state"]
        line = (f"{'>' if row['current'] else ' '} {row['number']:>3}  {escape(fit(row['title'], width_title)):<{width_title}}  "
                f"{escape(fit(service, width_services)):<{width_services}}  {state}")
        lines.append(f"[bold]{line}[/]" if row["current"] else line)
    console.print("\n".join(lines), highlight=False, soft_wrap=True)


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
    from rich.table import Table

    table = Table(title="Questions of the module", title_justify="left")
    table.add_column("Id")
    table.add_column("Question")
    for qid, title in rows:
        table.add_row(qid, title)
    out_console().print(table)
    out_console().print("[dim]Run `workshop questions --answer ID` to see a worked answer.[/]")


def verify_table(report) -> None:
    """A verify report: check, result, observed vs expected, fix; then every distinct fix in full width."""
    from rich.markup import escape
    from rich.table import Table

    title = "End of module: checks that must still hold" if report.step is None else f"Step {report.step.number}: {report.step.title}"
    table = Table(title=title, title_justify="left", show_lines=True, expand=True)
    # fold, not ellipsis: a command or a resource name cut short is useless to the learner
    table.add_column("Check", ratio=2, overflow="fold")
    table.add_column("Result", no_wrap=True)
    table.add_column("Observed / expected", ratio=4, overflow="fold")
    table.add_column("Fix", ratio=3, overflow="fold")
    for run in report.runs:
        r = run.result  # observed/expected/fix quote files and AWS answers: escape them, "[...]" is not markup
        shown = escape(r.observed) if r.passed or not r.expected else f"{escape(r.observed)}\n[dim]expected:[/] {escape(r.expected)}"
        table.add_row(f"{escape(run.check.title)}\n[dim]{run.check.id}, {r.seconds:.1f} s[/]",
                      f"[{RESULT_STYLE.get(r.result, '')}]{r.result}[/]", shown, "" if r.passed else escape(r.fix))
    console = out_console()
    console.print(table, soft_wrap=False)
    if report.passed:
        console.print("[green]All checks pass.[/] " + ("Run `workshop next`." if report.step is not None else ""), highlight=False)
    else:
        failing = [run for run in report.runs if not run.result.passed]
        waiting = sum(run.result.result == "pending" for run in failing)
        if waiting == len(failing):  # pending is not a failure: AWS has not finished yet
            console.print(f"[yellow]{waiting} of {len(report.runs)} checks are pending.[/] Nothing is wrong yet: "
                          "follow the hint, then `workshop verify` again.", highlight=False)
        else:
            shown = f" ({waiting} more pending)" if waiting else ""
            console.print(f"[red]{len(failing) - waiting} of {len(report.runs)} checks do not pass{shown}.[/] "
                          "Apply the fixes, then `workshop verify` again.", highlight=False)
        fixes = list(dict.fromkeys(run.result.fix for run in failing if run.result.fix))
        for fix in fixes:  # again in full width, one per line, so a command can be copied whole
            console.print(f"  - {escape(fix)}", highlight=False, soft_wrap=True)
