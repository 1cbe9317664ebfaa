"""Learner screens laid out for 80 columns first: verify, status, the step card, diff, the deploy summary, watch.

Every line is wrapped here, at spaces only (never inside an id, a path, a command or a URL), then printed with soft
wrap on, so Rich neither folds nor crops it: a word longer than the terminal runs on and the terminal wraps it; nothing
is ever cut. Text from outside (check results, file names, AWS answers) goes into `Text` objects, never into markup.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.text import Text

RESULT_STYLE = {"pass": "green", "fail": "red", "error": "magenta", "pending": "yellow"}
STATE_STYLE = {"verified": "green", "skipped": "yellow", "not yet": "dim"}
MIN_TEXT = 24  # a wrapped column never gets narrower than this, however small the terminal


_GLUE = "\x00"  # stands for a space that must not break (inside a `command`) while wrapping
_COMMAND = re.compile(r"`[^`\n]*`")


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most `width` characters, broken at spaces only, never inside a `command`; a longer word stays whole."""
    lines: list[str] = []
    glued = _COMMAND.sub(lambda m: m.group(0).replace(" ", _GLUE), str(text).replace(_GLUE, " "))
    for paragraph in glued.splitlines() or [""]:
        lines += textwrap.wrap(paragraph, max(width, MIN_TEXT), break_long_words=False, break_on_hyphens=False,
                               replace_whitespace=False, drop_whitespace=True) or [""]
    return [line.replace(_GLUE, " ") for line in lines]


def hanging(prefix: Text | str, text: str, width: int, style: str = "", indent: int | None = None) -> list[Text]:
    """`prefix` then `text` wrapped, the following lines indented to the prefix's width (or `indent`).

    A word too long for the room left of the indent (a URL, a path) moves left as far as it must to fit, on a line of
    its own, so it is never split and stays clickable; only a word wider than the whole screen runs past it.
    """
    prefix = prefix if isinstance(prefix, Text) else Text(prefix)
    pad = len(prefix.plain) if indent is None else indent
    out: list[Text] = []
    for number, line in enumerate(wrap(text, width - pad)):
        head = prefix.copy() if number == 0 else Text(" " * pad)
        if pad + len(line) > width:
            if number == 0 and prefix.plain.strip():
                alone = head.copy()
                alone.rstrip()
                out.append(alone)
            head = Text(" " * max(0, width - len(line)))
        out.append(head + Text(line, style=style))
    return out


def emit(console: Console, lines: Iterable[Text | str]) -> None:
    """Print lines as they are: no markup, no highlighting, no cropping, no folding."""
    for line in lines:
        console.print(line if isinstance(line, Text) else Text(line), soft_wrap=True, highlight=False, markup=False)


# ---------------------------------------------------------------------------------------------------- verify
LABEL = 10  # "observed: " and its siblings


def verify_lines(report: Any, width: int, *, only_failed: bool = False) -> list[Text]:
    """A verify report: one line per passing check; under a failing one, what was observed and expected, the fix, the page."""
    title = "End of module: checks that must still hold" if report.step is None else f"Step {report.step.number}: {report.step.title}"
    lines = hanging(Text(""), title, width, style="bold")
    runs = [run for run in report.runs if not (only_failed and run.result.passed)]
    lines += run_lines(runs, width)
    if only_failed and not runs:
        lines.append(Text("  every check passes", style="green"))
    return lines


def run_lines(runs: Sequence[Any], width: int) -> list[Text]:
    """One line per passing check; under a failing one, the check id, observed, expected, fix and page, never cut."""
    lines: list[Text] = []
    for run in runs:
        r, check = run.result, run.check
        mark = Text(f"  {r.result:<7} ", style=RESULT_STYLE.get(r.result, ""))
        if r.passed:
            # the id, dim, when it still fits on the line; --json and a failing run always carry it
            whole = f"{check.title}  {check.id}"
            if len(mark.plain) + len(whole) <= width:
                lines.append(mark + Text(check.title) + Text(f"  {check.id}", style="dim"))
            else:
                lines += hanging(mark, check.title, width)
            continue
        lines += hanging(mark, check.title, width, style="bold")
        pad = len(mark.plain)
        fields = [("check", f"{check.id} ({r.seconds:.1f} s)"), ("observed", r.observed)]
        if r.expected:
            fields.append(("expected", r.expected))
        if r.fix:
            fields.append(("fix", r.fix))
        if r.reference:
            fields.append(("see", r.reference))
        for label, value in fields:
            head = Text(" " * pad) + Text(f"{label + ':':<{LABEL}}", style="dim" if label != "fix" else "bold")
            lines += hanging(head, value, width)
    return lines


def verify_summary(report: Any) -> Text:
    if report.passed:
        return Text.assemble(("All checks pass.", "green"), " Run `workshop next`." if report.step is not None else "")
    failing = [run for run in report.runs if not run.result.passed]
    waiting = sum(run.result.result == "pending" for run in failing)
    again = "`workshop verify --all`" if report.step is None else "`workshop verify`"
    if failing and waiting == len(failing):  # pending is not a failure: AWS has not finished yet
        return Text.assemble((f"{waiting} of {len(report.runs)} checks are pending.", "yellow"),
                             f" Nothing is wrong yet: follow the hint, then {again} again.")
    shown = f" ({waiting} more pending)" if waiting else ""
    return Text.assemble((f"{len(failing) - waiting} of {len(report.runs)} checks do not pass{shown}.", "red"),
                         f" Apply the fixes above, then {again} again.")


# ---------------------------------------------------------------------------------------------------- status
def status_lines(title: str, rows: Sequence[dict[str, Any]], width: int, *, footer: dict[str, Any] | None = None) -> list[Text]:
    """The progress table: marker, number, title, services, state (and time spent). Titles wrap, never cut."""
    services = [[s.removeprefix("wild-rydes-") for s in r["services"]] for r in rows]
    spent = [r.get("spent") or "" for r in rows]
    w_state = max(len("State"), *(len(r["state"]) for r in rows))
    w_spent = max([len(s) for s in spent] + [0])
    w_spent = max(w_spent, len("Time")) if w_spent else 0
    w_service = max(len("Service"), *(len(", ".join(s)) for s in services))
    fixed = 2 + 3 + 2 + 2 + 2 + w_state + (2 + w_spent if w_spent else 0)
    w_title = max(len("Step"), *(len(r["title"]) for r in rows))
    if fixed + w_service + w_title > width:  # services one per line (with its comma) first, then wrap the titles
        w_service = max(len("Service"), *(len(n) + (i < len(s) - 1) for s in services for i, n in enumerate(s)))
        w_title = max(MIN_TEXT, min(w_title, width - fixed - w_service))

    def cells(row: dict[str, Any], names: list[str], time: str) -> list[tuple[str, str, str]]:
        title_lines = wrap(row["title"], w_title)
        joined = ", ".join(names)
        service_lines = [joined] if len(joined) <= w_service else [n + ("," if i < len(names) - 1 else "") for i, n in enumerate(names)]
        height = max(len(title_lines), len(service_lines))
        return [(title_lines[i] if i < len(title_lines) else "", service_lines[i] if i < len(service_lines) else "",
                 time if i == 0 else "") for i in range(height)]

    head = f"    #  {'Step':<{w_title}}  {'Service':<{w_service}}  {'State':<{w_state}}" + (f"  {'Time':>{w_spent}}" if w_spent else "")
    lines = [Text(title, style="bold"), Text(head.rstrip(), style="bold")]
    for row, names, time in zip(rows, services, spent, strict=True):
        for i, (t, s, tm) in enumerate(cells(row, names, time)):
            lead = f"{'>' if row['current'] and i == 0 else ' '} {row['number']:>3}  " if i == 0 else " " * 7
            line = Text(lead + f"{t:<{w_title}}  {s:<{w_service}}  ")
            if i == 0:
                line.append(f"{row['state']:<{w_state}}", style=STATE_STYLE.get(row["state"], ""))
                if w_spent:
                    line.append(f"  {tm:>{w_spent}}", style="dim")
            line.rstrip()
            if row["current"]:
                line.stylize("bold")
            lines.append(line)
    if footer and footer.get("complete"):
        lines.append(Text("Module complete: every step is verified.", style="bold green"))
    return lines


def duration(seconds: float | None) -> str:
    """3 min, 1 h 05, 45 s: time spent on a step, as status shows it."""
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d}"


# ---------------------------------------------------------------------------------------------------- diff
STAT_LINE = re.compile(r"^ (?P<path>.*?) +\| +(?P<count>\d+) ?(?P<bar>[+-]*)$")


def stat_lines(text: str, width: int | None) -> list[str]:
    """`git diff --stat` with whole paths and bars scaled to fit `width` (None: no limit, git's bars as they are)."""
    rows, other = [], []
    for line in text.rstrip("\n").splitlines():
        match = STAT_LINE.match(line)
        if match:
            rows.append((match["path"], int(match["count"]), match["bar"]))
        else:
            other.append(line)
    if not rows:
        return text.rstrip("\n").splitlines()
    w_path = max(len(p) for p, _, _ in rows)
    w_count = max(len(str(c)) for _, c, _ in rows)
    most = max(c for _, c, _ in rows) or 1
    room = None if width is None else max(1, width - (1 + w_path + 3 + w_count + 1))
    out = []
    for path, count, bar in rows:
        plus = bar.count("+") / len(bar) if bar else 0.0
        size = len(bar) if room is None else max(1 if count else 0, round(min(room, most) * count / most))
        adds = round(size * plus)
        out.append(f" {path:<{w_path}} | {count:>{w_count}} {'+' * adds}{'-' * (size - adds)}".rstrip())
    return out + other


# ---------------------------------------------------------------------------------------------------- steps
def step_card(step: Any, width: int, lead: str = "Step") -> list[Text]:
    """The card shown after `next`: the step, what kind, which services."""
    title = step.title + ("." if lead != "Step" else "")  # "Now at step 5: Title." reads as a sentence
    lines = hanging(Text(f"{lead} {step.number}: ", style="bold cyan"), title, width, style="bold")
    lines += hanging(Text("  ", style="dim"), f"{', '.join(step.kinds)} · {', '.join(step.services)}", width, style="dim")
    return lines


def first_screen(rendered: list[str], height: int) -> tuple[list[str], int]:
    """The lines of a rendered page that fit one screen (keeping a few for the card and the prompt), and how many are left."""
    room = max(10, height - 8)
    return rendered[:room], max(0, len(rendered) - room)


# ---------------------------------------------------------------------------------------------------- watch
WATCH_KEYS = {"d": "deploy", "v": "live checks", "n": "next step", "h": "hint", "q": "quit"}
MAX_TEST_LINES = 12


def watch_lines(step: Any, last: Any, verdict: Any, live: Any, notes: Sequence[str], width: int) -> list[Text]:
    """The watch screen: the step, each check and test run on the last save, what remains, the keys."""
    import time

    took = f" · {last.seconds:.1f} s" if last is not None else ""
    lines = hanging(Text("watching ", style="dim"), f"step {step.number}: {step.title} · {time.strftime('%H:%M:%S')}{took}",
                    width, style="bold")
    if last is not None:
        lines += run_lines(last.runs, width)
        for test in last.tests:
            mark = Text(f"  {'pass' if test.passed else 'fail':<7} ", style="green" if test.passed else "red")
            lines += hanging(mark, f"{test.service} tests: {test.summary}", width)
            if not test.passed:
                failed = [line for line in test.output.splitlines() if line.startswith(("FAILED ", "ERROR ", "E "))]
                for line in failed[:MAX_TEST_LINES]:
                    lines += hanging(Text(" " * len(mark.plain)), line, width, style="red")
                if len(failed) > MAX_TEST_LINES:
                    lines.append(Text(" " * len(mark.plain) + f"... `workshop test {test.service}` shows all {len(failed)}", style="dim"))
        if not last.runs and not last.tests:
            lines.append(Text("  no file check or test for this step", style="dim"))
    if live is not None:
        lines.append(Text("live checks:", style="bold"))
        lines += run_lines(live.runs, width)
    for note in notes:
        lines += hanging(Text("  "), note, width, style="cyan")
    style = {"fix": "red", "verified": "green", "last": "green"}.get(verdict.kind, "yellow")
    lines += hanging(Text(""), verdict.message, width, style=style)
    keys = "  ".join(f"{k} {WATCH_KEYS[k]}" for k in verdict.keys)
    lines += hanging(Text(""), keys + "  (Ctrl-C quits too)", width, style="dim")
    return lines
