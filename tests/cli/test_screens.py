"""Learner screens at 80 and 120 columns: nothing is cut, no id, path, command or URL is broken, a pipe gets every character."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from tests.cli.conftest import WIDTHS

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run(*args: str, width: int = 80, terminal: bool = False, extra: dict | None = None, input: str | None = None):
    """The CLI in-process at `width` columns; `terminal` makes Rich treat stdout as a terminal (TTY_COMPATIBLE=1)."""
    from workshop.cli import app

    env = {"NO_COLOR": "1", "COLUMNS": str(width), "LINES": "40", "TERM": "xterm" if terminal else "dumb",
           "TTY_COMPATIBLE": "1" if terminal else "0", **(extra or {})}
    return CliRunner().invoke(app, list(args), env=env, input=input)


def assert_fits(text: str, width: int) -> None:
    """Every line fits the width, except a single word longer than the width (which is then whole on its own line)."""
    for line in ANSI.sub("", text).splitlines():
        assert len(line) <= width or " " not in line.strip(), f"line of {len(line)} > {width}: {line!r}"


def words_whole(text: str, words) -> None:
    """Each word appears unbroken on one line."""
    lines = ANSI.sub("", text).splitlines()
    for word in words:
        assert any(word in line for line in lines), f"{word!r} is split across lines:\n{text}"


# ------------------------------------------------------------------------------------------------ verify
@pytest.mark.parametrize("width", WIDTHS)
def test_verify_failing_step_block_under_the_failing_check(learner, width):
    root = learner(0, current=1)
    result = run("verify", "--workspace", str(root), width=width)
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert_fits(out, width)
    words_whole(out, ["put-ride-record-functions", "handler-http-behaviour", "wild-rydes-ride-record/handlers/put_ride_record.py",
                      "`workshop test wild-rydes-ride-record`", "https://docs.aws.amazon.com/lambda/latest/dg/python-handler.html"])
    for label in ("observed:", "expected:", "fix:", "see:"):
        assert label in out
    assert "Fix " not in out and "┃" not in out and "│" not in out  # no table, no empty Fix column
    assert "2 of 3 checks do not pass" in out


@pytest.mark.parametrize("width", WIDTHS)
def test_verify_passing_checks_take_one_line_each(learner, width):
    root = learner(2, current=2)
    result = run("verify", "--workspace", str(root), width=width)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Step 2: Rename PutRideRecord to PutRideRecordHttp"
    assert lines[1].startswith("  pass") and "PutRideRecordHttp is declared with POST /record" in lines[1]
    assert lines[2].startswith("All checks pass.") and len(lines) == 3
    assert "observed" not in result.stdout and "fix" not in result.stdout.lower().replace("apply the fixes", "")


def test_verify_failed_shows_only_what_fails(learner):
    root = learner(1, current=1)  # step 1 done, step 2 not: --all has both passing and failing checks
    every = run("verify", "--all", "--workspace", str(root))
    failed = run("verify", "--all", "--failed", "--workspace", str(root))
    assert every.exit_code == failed.exit_code == 1
    assert "  pass " in every.stdout and "  pass " not in failed.stdout
    assert failed.stdout.count("  fail ") + failed.stdout.count("  error ") == every.stdout.count("  fail ") + every.stdout.count("  error ")


def test_verify_shows_a_spinner_on_a_terminal_but_none_with_json(learner):
    root = learner(2, current=2)
    shown = run("verify", "--workspace", str(root), terminal=True)
    assert shown.exit_code == 0, shown.output
    assert "http-function-declared" in shown.stderr or "starting the checks" in shown.stderr, shown.stderr
    result = run("verify", "--json", "--workspace", str(root), terminal=True)
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)) == {"step", "passed", "checks"}
    assert "running" not in result.stderr and "starting the checks" not in result.stderr
    piped = run("verify", "--workspace", str(root))
    assert "starting the checks" not in piped.stderr and "running" not in piped.stderr


def test_check_spinner_names_the_running_check_and_counts_down():
    from workshop.checks.model import Running
    from workshop.cli.spinner import checks_text

    text = checks_text([Running("ride-recorded", 0.0), Running("poison-ride-dead-lettered", 0.0, until=31.4, what="poison ride p1 in the DLQ")],
                       now=1.0).plain
    assert text.startswith("running ride-recorded, poison-ride-dead-lettered")
    assert "poison-ride-dead-lettered waits for poison ride p1 in the DLQ: 30 s left" in text


def test_running_checks_are_seen_from_another_thread_and_their_waits_too():
    import threading
    import time

    from workshop.checks import model, runner

    started, release = threading.Event(), threading.Event()

    def slow() -> None:
        model.start_running("ride-recorded", time.monotonic())
        model.waiting(time.monotonic() + 30, "the ride in DynamoDB")
        started.set()
        release.wait(5)
        model.stop_running()

    worker = threading.Thread(target=slow)
    worker.start()
    started.wait(5)
    seen = runner.running()
    release.set()
    worker.join()
    assert [(r.check, r.what) for r in seen] == [("ride-recorded", "the ride in DynamoDB")] and 29 <= seen[0].until - time.monotonic() <= 31
    assert runner.running() == []


def test_the_spinner_shows_only_on_a_terminal_and_never_with_json():
    import io

    from rich.console import Console

    from workshop.cli.spinner import CheckSpinner

    terminal = Console(file=io.StringIO(), force_terminal=True, width=80)
    piped = Console(file=io.StringIO(), force_terminal=False, width=80)
    assert CheckSpinner(terminal, source=lambda: "x").live is not None
    assert CheckSpinner(piped, source=lambda: "x").live is None
    assert CheckSpinner(terminal, enabled=False, source=lambda: "x").live is None


# ------------------------------------------------------------------------------------------------ status
@pytest.mark.parametrize("width", WIDTHS)
def test_status_wraps_titles_and_never_cuts_them(learner, width):
    from workshop.course import model as course

    root = learner(1, current=2)
    result = run("status", "--workspace", str(root), width=width)
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout
    assert_fits(result.stdout, width)
    lines = result.stdout.splitlines()
    column = lines[1].index("Service")
    titles: list[str] = []
    for line in lines[2:2 + 40]:
        if line.startswith("Current step"):
            break
        part = line[7:column].strip()
        if line[:7].strip():
            titles.append(part)
        else:
            titles[-1] = f"{titles[-1]} {part}".strip()
    assert titles == [step.title for step in course.load().steps]  # whole, even when wrapped over two lines
    assert "ride-record" in result.stdout


def test_status_says_module_complete_and_time_per_step(learner):
    from workshop.course import model as course
    from workshop.course import workspace

    root = learner(13, current=13)
    state = workspace.load_state(root)
    for step in course.load().steps:
        progress = state.step(step.id)
        progress.state, progress.started_at, progress.verified_at = "verified", "2026-01-01T10:00:00+00:00", "2026-01-01T10:03:30+00:00"
    workspace.save_state(root, state)
    result = run("status", "--workspace", str(root))
    assert "Module complete" in result.stdout and "3 min" in result.stdout
    data = json.loads(run("status", "--json", "--workspace", str(root)).stdout)
    assert set(data["steps"][0]) == {"number", "id", "title", "services", "state", "current"}  # the JSON shape is unchanged


# ------------------------------------------------------------------------------------------------ diff
@pytest.fixture
def initialised(tmp_path):
    """A workspace made by `workshop init` (a git repository with the checkpoints), at step 0."""
    root = tmp_path / "ws"
    assert run("init", str(root)).exit_code == 0
    return root


LONG = "def test_handler_http_stores_the_ride_and_answers_201(handler_module, table, ride):"


@pytest.mark.parametrize("width", WIDTHS)
def test_diff_piped_keeps_every_character(initialised, width):
    result = run("diff", "--step", "1", "--workspace", str(initialised), width=width)
    assert result.exit_code == 0, result.output
    assert any(line.endswith(LONG) for line in result.stdout.splitlines()), "a long line was cut"


@pytest.mark.parametrize("width", WIDTHS)
def test_diff_in_a_terminal_wraps_instead_of_cutting(initialised, width):
    result = run("diff", "--step", "1", "--workspace", str(initialised), width=width, terminal=True)
    assert result.exit_code == 0, result.output
    plain = ANSI.sub("", result.stdout)
    assert_fits(plain, width)
    assert "".join(LONG.split()) in "".join(plain.split())


@pytest.mark.parametrize("width", WIDTHS)
def test_diff_stat_bars_fit_and_paths_stay_whole(initialised, width):
    for terminal in (True, False):
        result = run("diff", "--stat", "--step", "1", "--workspace", str(initialised), width=width, terminal=terminal)
        assert result.exit_code == 0, result.output
        plain = ANSI.sub("", result.stdout)
        words_whole(plain, ["wild-rydes-ride-record/tests/test_put_ride_record.py", "wild-rydes-ride-record/handlers/put_ride_record.py"])
        if terminal:
            assert_fits(plain, width)
        assert "files changed" in plain


def test_stat_bars_scale_to_the_width():
    from workshop.cli.screens import stat_lines

    text = " a/very/long/path/to/a/file.py | 400 " + "+" * 30 + "-" * 10 + "\n b.py | 4 ++--\n 2 files changed\n"
    for width in WIDTHS:
        lines = stat_lines(text, width)
        assert all(len(line) <= width for line in lines), lines
        assert lines[0].split("| 400 ")[1].startswith("+") and lines[0].endswith("-")
        assert lines[-1] == " 2 files changed"
    assert stat_lines(text, None)[0].endswith("+" * 30 + "-" * 10)


# ------------------------------------------------------------------------------------------------ next, show
@pytest.mark.parametrize("width", WIDTHS)
def test_next_shows_the_new_step_card_and_its_first_screen(learner, width):
    root = learner(0, current=0)
    result = run("next", "--force", "--workspace", str(root), width=width)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Now at step 1: Split the ride-record handler in two."
    assert "code, config · wild-rydes-ride-record" in lines[1]
    assert "Why" in result.stdout and "more lines: `workshop show` reads the whole step." in result.stdout
    assert len(lines) <= 40
    assert_fits(result.stdout, width)


def test_show_never_pages_when_piped_and_pages_a_long_page_in_a_terminal(learner, tmp_path):
    root = learner(0, current=0)
    seen = tmp_path / "paged.txt"
    pager = tmp_path / "pager.sh"
    pager.write_text(f"#!/bin/sh\ncat > {seen}\n")
    pager.chmod(0o755)
    piped = run("show", "5", "--workspace", str(root), extra={"PAGER": str(pager)})
    assert piped.exit_code == 0 and "Step 5" in piped.stdout and not seen.exists()
    paged = run("show", "5", "--workspace", str(root), terminal=True, extra={"PAGER": str(pager)})
    assert paged.exit_code == 0 and "Step 5" in ANSI.sub("", seen.read_text()) and "Step 5" not in paged.stdout
    seen.unlink()
    whole = run("show", "5", "--no-pager", "--workspace", str(root), terminal=True, extra={"PAGER": str(pager)})
    assert whole.exit_code == 0 and "Step 5" in ANSI.sub("", whole.stdout) and not seen.exists()


def test_the_welcome_does_not_send_the_learner_to_show_again(learner):
    root = learner(-1, current=0)
    result = run("show", "--workspace", str(root))
    assert "Welcome" in result.stdout and "Run `workshop show` to begin" not in result.stdout


@pytest.mark.parametrize("width", WIDTHS)
def test_doctor_lines_fit_and_keep_paths_whole(width, tmp_path):
    result = run("doctor", "--workspace", str(tmp_path), width=width)
    out = result.stdout
    assert_fits(out, width)
    from workshop.deploy import tools

    node, _ = tools.node_binary()
    words_whole(out, [str(node)])
    assert "fix: run `workshop init DIR`" in " ".join(out.split()) and "Fix " not in out


@pytest.mark.parametrize("width", WIDTHS)
def test_backups_table_fits_with_whole_names(initialised, width):
    for step in ("2", "3"):
        (initialised / "wild-rydes" / "mine.txt").write_text(step)
        assert run("reset", "--step", step, "--workspace", str(initialised)).exit_code == 0
    result = run("backups", "--workspace", str(initialised), width=width)
    assert result.exit_code == 0
    from workshop.checkpoints import backups
    from workshop.checkpoints.repo import open_repo

    names = [b.name for b in backups.list_all(open_repo(initialised))]
    words_whole(result.stdout, names)
    table = result.stdout.split("Restore one with")[0]
    assert_fits(table, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_page_urls_are_never_split(learner, width):
    from workshop.course import model as course

    root = learner(0, current=0)
    for step in course.load().steps:
        result = run("show", str(step.number), "--no-pager", "--workspace", str(root), width=width)
        assert result.exit_code == 0, result.output
        urls = {u.rstrip(".,:;") for u in re.findall(r"https?://[^\s)>\]`*]+", step.text())}
        words_whole(result.stdout, sorted(urls))
        assert "WSURL" not in result.stdout
        assert_fits("\n".join(line for line in result.stdout.splitlines() if "http" not in line), width)


def test_a_reader_that_goes_away_is_not_a_crash(learner, monkeypatch):
    """`workshop watch --help | head -1` wrote a crash log (exit 3): a closed pipe ends the command quietly (Click's exit 1)."""
    from workshop.cli import render

    def gone(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(render, "status_table", gone)
    root = learner(0, current=0)
    result = run("status", "--workspace", str(root))
    assert result.exit_code == 1 and "Unexpected error" not in result.output, result.output


@pytest.mark.parametrize("width", WIDTHS)
def test_the_subscription_dlq_page_loses_no_word(learner, width):
    """`workshop show` on the bonus step: every word of its page (markdown marks aside) reaches the screen whole."""
    from workshop.course import model as course

    step = course.load().step("subscription-dead-letter-queue")
    root = learner(step.number - 1, current=step.number)
    result = run("show", str(step.number), "--no-pager", "--workspace", str(root), width=width)
    assert result.exit_code == 0, result.output
    assert_fits("\n".join(line for line in result.stdout.splitlines() if "http" not in line), width)

    def words(text: str) -> list[str]:
        return [w.strip(".:,;'-") for w in re.findall(r"[\w:.'/${}\-]+", text)]

    shown = set(words(ANSI.sub("", result.stdout)))
    page = re.sub(r"^\s*```\w*$|^\s*\d+\. |[*`#]", " ", step.text().replace("<!-- checks -->", ""), flags=re.MULTILINE)
    missing = [w for w in words(page) if w and w not in shown]
    assert missing == [], missing
