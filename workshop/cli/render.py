"""Every table, panel and message the CLI shows. stdout carries results (or JSON); progress and errors go to stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console


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


def status_table(title: str, rows: Iterable[dict[str, Any]], *, complete: bool = False) -> None:
    """The progress table: current marker, number, title, services, state (time spent when known); titles wrap, never cut.

    Laid out by hand rather than with rich.table: this is `workshop status`, the command people run most, and a Rich
    Table of 14 rows costs ~20 ms to measure and render (bench/bench_startup.py).
    """
    from workshop.cli import screens

    console = out_console()
    screens.emit(console, screens.status_lines(title, list(rows), console.width, footer={"complete": complete}))


def markdown(text: str, title: str | None = None) -> None:
    """Render a markdown document (a step, a question); URLs are never split across lines."""
    from rich.rule import Rule

    console = out_console()
    if title:
        console.print(Rule(f"[bold]{escape_markup(title)}[/]", align="left"))
    sys.stdout.write(rendered_markdown(console, text))
    sys.stdout.flush()


def rendered_markdown(console, text: str) -> str:
    """Markdown rendered for `console`, with every bare URL whole on its line (a URL wider than the room runs past the
    edge instead of being folded: it stays one word to copy or click). Trailing padding is dropped."""
    import re

    from rich.markdown import Markdown

    urls: dict[str, str] = {}

    def hold(match: re.Match) -> str:
        token = f"WSURL{len(urls):04d}Z"
        urls[token] = match.group(0)
        return token

    held = re.sub(r"(?<!\]\()https?://[^\s)>\]`*]+[^\s)>\]`*.,;:]", hold, text)
    with console.capture() as captured:
        console.print(Markdown(held))
    out = captured.get()
    for token, url in urls.items():
        out = out.replace(token, url)
    return "\n".join(re.sub(r" +((?:\x1b\[[0-9;]*m)*)$", r"\1", line) for line in out.split("\n"))


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


def verify_table(report, *, only_failed: bool = False) -> None:
    """A verify report laid out for 80 columns: one line per passing check, the observed/expected/fix block under a failing one."""
    from workshop.cli import screens

    console = out_console()
    screens.emit(console, screens.verify_lines(report, console.width, only_failed=only_failed))
    screens.emit(console, [screens.verify_summary(report)])


def step_page(text: str, title: str, *, welcome: tuple[str, str] | None = None, pager: bool = True) -> None:
    """A step's page (after the welcome, the first time). In a terminal, a page longer than the screen goes through a pager."""
    from rich.rule import Rule

    console = out_console()
    shown = ""
    for heading, body in ([welcome] if welcome is not None else []) + [(title, text)]:
        with console.capture() as captured:
            console.print(Rule(f"[bold]{escape_markup(heading)}[/]", align="left"))
        shown += captured.get() + rendered_markdown(console, body)
    if not (pager and console.is_terminal) or shown.count("\n") < console.height - 2 or not _pager(shown):
        sys.stdout.write(shown)
        sys.stdout.flush()


def _pager(text: str) -> bool:
    """Show `text` in $PAGER (default `less -R`, colours kept); False when no pager could run (then it is printed)."""
    import os
    import shlex
    import shutil
    import subprocess

    argv = shlex.split(os.environ.get("PAGER") or "less -R")
    if not argv or shutil.which(argv[0]) is None:
        return False
    env = {**os.environ, "LESS": os.environ.get("LESS", "-R")}
    try:
        subprocess.run(argv, input=text, text=True, env=env, check=False)
    except (OSError, KeyboardInterrupt):
        return True
    return True


def escape_markup(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def step_intro(step, text: str) -> None:
    """After `next`: the new step's card and the first screen of its page, so moving on is one command."""

    from workshop.cli import screens

    console = out_console()
    screens.emit(console, screens.step_card(step, console.width, lead="Now at step"))
    rendered = [line.rstrip() for line in rendered_markdown(console, text).rstrip("\n").splitlines()]
    height = console.height if console.is_terminal else 30
    first, left = screens.first_screen(rendered, height)
    sys.stdout.write("\n".join(first) + "\n")
    if left:
        console.print(f"[dim]... {left} more lines: `workshop show` reads the whole step.[/]", highlight=False)
    else:
        console.print("[dim]Stuck? `workshop hint`. Done? `workshop verify`, then `workshop next`.[/]", highlight=False)


def duration(seconds: float | None) -> str:
    from workshop.cli import screens

    return screens.duration(seconds)


def diff(left: str, right: str, text: str, *, stat: bool = False) -> None:
    """A diff that never loses a character: as it is when piped (no width limit), wrapped and coloured in a terminal."""
    from workshop.cli import screens

    console = out_console()
    terminal = console.is_terminal
    body = "\n".join(screens.stat_lines(text, console.width if terminal else None)) if stat else text.rstrip("\n")
    if not terminal:
        sys.stdout.write(f"--- {left}\n+++ {right}\n{body}\n")
        sys.stdout.flush()
        return
    from rich.text import Text

    console.print(Text(f"--- {left}\n+++ {right}", style="dim"), highlight=False)
    if stat:
        screens.emit(console, body.splitlines())
        return
    from rich.syntax import Syntax

    console.print(Syntax(body, "diff", theme="ansi_dark", background_color="default", word_wrap=True))


def ride_spreads(spreads, recorded: int, total: int) -> None:
    """After `ride -n N`: min, median and max of each latency."""
    console = out_console()
    console.print(f"{recorded} of {total} rides recorded.", highlight=False, markup=False)
    for s in spreads:
        console.print(f"  {s.label:<12} min {s.low} ms, median {s.median} ms, max {s.high} ms", highlight=False, markup=False)


def paragraph(text: str, style: str = "") -> None:
    """Plain text (never markup) wrapped at spaces for the terminal's width, never inside a `command`, a path or a URL."""
    from workshop.cli import screens

    console = out_console()
    screens.emit(console, screens.hanging("", text, console.width, style=style))
