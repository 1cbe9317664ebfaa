"""Generated argument lists for every command: usage errors are fine, a crash (exit 3) or a traceback never is.

Every registered command (and sub-command) is parsed with generated arguments; the navigation commands, which
touch nothing outside the workspace, are also run. Nothing deploys: commands that would are parsed only, and an
unknown option stops every command before it does anything. How many cases run comes from the Hypothesis profile
(tests/conftest.py); each test counts its own cases.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from workshop.cli import app

RUNNABLE = ("status", "show", "hint", "next", "back", "goto", "questions", "cost")
TOKENS = st.one_of(
    st.sampled_from(["--json", "--force", "--step", "--help", "-1", "0", "13", "99", "abc", "", " ", "--workspace", "--nope",
                     "9" * 40, "--requests", "--answer", "cost", "é", "🦄", "\x00", "--", "-", "--repair", "--stats"]),
    st.text(max_size=12),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
ARGS = st.lists(TOKENS, max_size=5)
UNKNOWN_OPTIONS = st.one_of(st.from_regex(r"--[a-z][a-z-]{0,12}", fullmatch=True), st.sampled_from(["--stats", "-x", "-Z"]))


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
# Commands whose positional argument is a step: "-1" must reach the step lookup, so an unknown option does too.
POSITIONAL_STEP = {"show", "goto", "dev record"}


def test_every_command_is_fuzzed():
    names = {" ".join(n) for n, _ in COMMANDS}
    assert {"status", "show", "hint", "next", "back", "goto", "questions", "init"} <= names


def test_only_commands_taking_a_step_as_argument_let_unknown_options_through():
    loose = {" ".join(n) for n, c in COMMANDS if c.context_settings.get("ignore_unknown_options")}
    assert loose == POSITIONAL_STEP


def test_parsing_never_crashes():
    """Parse only: click raises its own usage errors; anything else is a bug in an option definition."""
    import typer
    from click.exceptions import ClickException

    parsed = []

    @given(index=st.integers(min_value=0, max_value=len(COMMANDS) - 1), args=ARGS)
    def parse(index, args):
        name, command = COMMANDS[index]
        try:
            command.make_context(" ".join(name), list(args), resilient_parsing=False)
        except (ClickException, typer.Exit, typer.Abort):
            pass
        parsed.append(name)

    parse()
    print(f"\nfuzz: {len(parsed)} parses")
    assert len(parsed) >= settings.default.max_examples


@pytest.fixture
def fuzz_workspace(sample_course, cli, tmp_path, monkeypatch):
    root = tmp_path / "ws"
    assert cli("init", str(root)).exit_code == 0
    monkeypatch.chdir(root)
    return root


def test_navigation_commands_never_crash(fuzz_workspace, cli):
    runs = []

    @given(name=st.sampled_from(RUNNABLE), args=ARGS)
    def run(name, args):
        result = cli(name, *args)
        assert result.exit_code != 3, result.output
        assert "Traceback" not in result.output, result.output
        runs.append(name)

    run()
    print(f"\nfuzz: {len(runs)} runs")
    assert len(runs) >= settings.default.max_examples


def test_an_unknown_option_exits_2_with_one_line_and_runs_nothing(fuzz_workspace, cli, monkeypatch):
    """`workshop diff --stats` (a typo for --stat) once printed "No differences" and exit 0."""
    from workshop.checkpoints import operations
    from workshop.deploy import rollout

    for module, name in ((operations, "replace_files"), (operations, "diff"), (rollout, "deploy_one"), (rollout, "deploy_all"),
                         (rollout, "teardown")):
        monkeypatch.setattr(module, name, lambda *a, _n=name, **k: pytest.fail(f"{_n} ran despite an unknown option"))
    cases = []

    @given(index=st.integers(min_value=0, max_value=len(COMMANDS) - 1), option=UNKNOWN_OPTIONS)
    def check(index, option):
        name, command = COMMANDS[index]
        known = {o for param in command.params for o in (*param.opts, *param.secondary_opts)} | {"--help"}
        assume(option not in known)
        result = cli(*name, option)
        lines = result.output.strip().splitlines()
        assert result.exit_code == 2, (name, option, result.output)
        assert len(lines) == 1 and "Traceback" not in result.output, (name, option, result.output)
        if " ".join(name) not in POSITIONAL_STEP:
            assert f"No such option '{option}'" in lines[0] and f"`workshop {' '.join(name)} --help`" in lines[0], lines
        cases.append(name)

    check()
    print(f"\nfuzz: {len(cases)} unknown options")
    assert len(cases) >= settings.default.max_examples // 2


def test_diff_stats_is_a_usage_error_naming_stat(fuzz_workspace, cli):
    result = cli("diff", "--stats")
    assert result.exit_code == 2, result.output
    assert "--stat" in result.output and "No differences" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["reset", "--step", "-1"], ["solve", "--step", "-1"], ["diff", "--step", "-1"],
                                  ["verify", "--step", "-1"], ["goto", "-1"], ["show", "-1"]])
def test_a_negative_step_still_reaches_the_step_lookup(fuzz_workspace, cli, args):
    result = cli(*args)
    assert result.exit_code == 2 and "There is no step '-1'" in result.output, result.output
