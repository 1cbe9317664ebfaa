"""Generated argument lists for every command: usage errors are fine, a crash (exit 3) or a traceback never is.

Every registered command (and sub-command) is parsed with generated arguments; the navigation commands, which
touch nothing outside the workspace, are also run. Nothing deploys: commands that would are parsed only.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workshop.cli import app

RUNNABLE = ("status", "show", "hint", "next", "back", "goto", "questions", "cost")
TOKENS = st.one_of(
    st.sampled_from(["--json", "--force", "--step", "--help", "-1", "0", "13", "99", "abc", "", " ", "--workspace", "--nope",
                     "9" * 40, "--requests", "--answer", "cost", "é", "🦄", "\x00", "--", "-", "--repair"]),
    st.text(max_size=12),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
ARGS = st.lists(TOKENS, max_size=5)
RUNS = {"parsed": 0, "run": 0}


def _commands():
    import typer.main

    root = typer.main.get_command(app)
    found = []

    def walk(group, prefix):
        for name, command in getattr(group, "commands", {}).items():
            if getattr(command, "commands", None):
                walk(command, prefix + [name])
            else:
                found.append((prefix + [name], command))

    walk(root, [])
    return found


COMMANDS = _commands()


def test_every_command_is_fuzzed():
    names = {" ".join(n) for n, _ in COMMANDS}
    assert {"status", "show", "hint", "next", "back", "goto", "questions", "init"} <= names


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(min_value=0, max_value=len(COMMANDS) - 1), args=ARGS)
def test_parsing_never_crashes(index, args):
    """Parse only: click raises its own usage errors; anything else is a bug in an option definition."""
    import typer
    from click.exceptions import ClickException

    name, command = COMMANDS[index]
    try:
        command.make_context(" ".join(name), list(args), resilient_parsing=False)
    except (ClickException, typer.Exit, typer.Abort):
        pass
    RUNS["parsed"] += 1


@pytest.fixture(scope="module")
def fuzz_workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzzws") / "ws"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(RUNNABLE), args=ARGS)
def test_navigation_commands_never_crash(sample_course, cli, fuzz_workspace, monkeypatch, name, args):
    if not (fuzz_workspace / ".workshop").exists():
        assert cli("init", str(fuzz_workspace)).exit_code == 0
    monkeypatch.chdir(fuzz_workspace)
    result = cli(name, *args)
    assert result.exit_code != 3, result.output
    assert "Traceback" not in result.output, result.output
    RUNS["run"] += 1


def test_report_counts():
    """Printed so the closing note can quote how many generated cases ran (run with -s to see it)."""
    print(f"\nfuzz: {RUNS['parsed']} parses, {RUNS['run']} runs")
    assert RUNS["parsed"] >= 300 and RUNS["run"] >= 300
