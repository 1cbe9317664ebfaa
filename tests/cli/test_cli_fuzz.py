"""Generated argument lists for every command: usage errors are fine, a crash (exit 3) or a traceback never is.

Every registered command (and sub-command) is parsed with generated arguments; the navigation commands, which
touch nothing outside the workspace, are also run. Nothing deploys: commands that would are parsed only, and an
unknown option stops every command before it does anything. How many cases run comes from the Hypothesis profile
(tests/conftest.py); each test counts its own cases.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from workshop.cli import app

RUNNABLE = ("status", "show", "hint", "next", "back", "goto", "questions", "cost")
# Text a learner may type that Rich would read as markup: it must come back verbatim, never crash the renderer.
MARKUP = ["[/x]", "[draft]", "[bold red]loud", "[/]", "[link=file:///etc/passwd]x[/link]", "x[", "\\[y]", "[[/]]", "[on red]"]
TOKENS = st.one_of(
    st.sampled_from(["--json", "--force", "--step", "--help", "-1", "0", "13", "99", "abc", "", " ", "--workspace", "--nope",
                     "9" * 40, "--requests", "--answer", "cost", "é", "🦄", "\x00", "--", "-", "--repair", "--stats", "1e28", *MARKUP]),
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


# --- markup: learner text is data ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", MARKUP)
def test_markup_in_an_argument_is_printed_verbatim(sample_course, cli, fuzz_workspace, monkeypatch, text):
    """`workshop goto '[/x]'` printed a traceback (the error line itself was parsed as markup)."""
    if not (fuzz_workspace / ".workshop").exists():
        assert cli("init", str(fuzz_workspace)).exit_code == 0
    monkeypatch.chdir(fuzz_workspace)
    for args in (("goto", text), ("show", text), ("questions", "--answer", text), ("cost", "--arch", text),
                 ("--workspace", str(fuzz_workspace / text), "status")):
        result = cli(*args)
        shown = str(fuzz_workspace / text) if args[0] == "--workspace" else text  # a path: "//" is one "/"
        assert result.exit_code in (1, 2), result.output
        assert "Traceback" not in result.output and shown in result.output, (args, result.output)


@pytest.mark.parametrize("name", ["rt [draft]", "rt [/x]", "[bold]b[/bold]"])
def test_a_workspace_path_with_markup_is_shown_whole(sample_course, cli, tmp_path, monkeypatch, name):
    """`init '/tmp/rt [draft]/ws'` printed the path without `[draft]`."""
    root = tmp_path / name / "ws"
    result = cli("init", str(root))
    assert result.exit_code == 0, result.output
    assert f"Next: `cd {root}` then `workshop show`." in result.output and f"workspace {root}:" in result.output
    monkeypatch.chdir(tmp_path)
    missing = cli("--workspace", str(tmp_path / name / "nope"), "status")
    assert missing.exit_code == 1 and str(tmp_path / name / "nope") in missing.output, missing.output


# --- output that cannot encode every character ------------------------------------------------------------------------


def _run_cli(*args, cwd, env_extra):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "LC_ALL", "LANG")}
    env.update(NO_COLOR="1", COLUMNS="80", **env_extra)
    return subprocess.run([sys.executable, "-c", "from workshop.cli import main; main()", *args], cwd=cwd, env=env,
                          capture_output=True, timeout=120)


@pytest.mark.parametrize("encoding", [{"PYTHONIOENCODING": "ascii"}, {"PYTHONIOENCODING": "latin-1"},
                                      {"LC_ALL": "C", "PYTHONIOENCODING": "", "PYTHONUTF8": "0"}])
def test_a_terminal_that_cannot_encode_a_character_gets_an_escape_not_a_crash(sample_course, cli, tmp_path, encoding):
    """`PYTHONIOENCODING=ascii workshop status` exited 3 on the first '…' of a shortened title."""
    root = tmp_path / "wörk"
    assert cli("init", str(root)).exit_code == 0
    env = {"WORKSHOP_COURSE_DIR": str(sample_course), **encoding}
    for args in (("status",), ("goto", "🦄 [/x]"), ("show",), ("cost", "--requests", "1e28")):
        done = _run_cli(*args, cwd=root, env_extra=env)
        text = (done.stdout + done.stderr).decode("ascii", errors="replace")
        assert done.returncode in (0, 1, 2), (args, text)
        assert "Traceback" not in text and "Unexpected error" not in text, (args, text)
    goto = _run_cli("goto", "🦄 [/x]", cwd=root, env_extra=env)
    # nothing lost: the unicorn is spelled out (in the C locale its argv bytes arrive as surrogates, spelled out too)
    assert any(f"{u} [/x]" in goto.stderr.decode("ascii") for u in ("\\U0001f984", "\\udcf0\\udc9f\\udca6\\udc84")), goto.stderr


# --- damaged progress files -------------------------------------------------------------------------------------------


def _healthy(root):
    import json

    return json.loads((root / ".workshop" / "state.json").read_text())


DAMAGED = {
    "steps as strings": lambda d: {**d, "steps": {"first": "verified"}},
    "steps as a list": lambda d: {**d, "steps": ["first"]},
    "hints as text": lambda d: {**d, "steps": {"first": {"hints_revealed": "two"}}},
    "last_verify as text": lambda d: {**d, "steps": {"first": {"state": "verified", "last_verify": "yes"}}},
    "current as a number": lambda d: {**d, "current": 5},
    "region as a number": lambda d: {**d, "target": {"region": 5}},
    "target as a list": lambda d: {**d, "target": ["aws"]},
    "top level list": lambda d: [d],
    "null": lambda d: None,
}
RAW_DAMAGE = {
    "invalid UTF-8": b"\xff\xfe{\"format\": 1}",
    "nested 2000 deep": b"[" * 2000 + b"]" * 2000,
    "nested objects 5000 deep": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "empty": b"",
    "NUL bytes": b"\x00" * 64,
}


@pytest.fixture
def damaged_ws(sample_course, cli, fuzz_workspace, monkeypatch):
    if not (fuzz_workspace / ".workshop").exists():
        assert cli("init", str(fuzz_workspace)).exit_code == 0
    monkeypatch.chdir(fuzz_workspace)
    state = fuzz_workspace / ".workshop" / "state.json"
    assert cli("status", "--repair").exit_code == 0
    saved = state.read_bytes()
    yield fuzz_workspace
    import shutil

    if state.is_dir():
        shutil.rmtree(state)
    dot = fuzz_workspace / ".workshop"
    if not dot.is_dir():
        dot.unlink()
        dot.mkdir()
    state.write_bytes(saved)
    for kept in dot.glob("state.json.damaged-*"):
        shutil.rmtree(kept) if kept.is_dir() else kept.unlink()


def _status_then_repair(cli, root, words="workshop status --repair"):
    from workshop.course import workspace
    from workshop.deploy import targets

    for command in (("status",), ("show",), ("hint",), ("goto", "1"), ("deploy", "all")):
        result = cli(*command)
        assert result.exit_code == 1, (command, result.output)
        assert words in result.output and "Traceback" not in result.output, (command, result.output)
    repaired = cli("status", "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "rebuilt" in repaired.output and "damaged-" in repaired.output, repaired.output
    assert cli("status").exit_code == 0
    targets.resolve(workspace.load_state(root).target)  # what deploy reads is usable again


@pytest.mark.parametrize("damage", sorted(DAMAGED))
def test_a_damaged_progress_file_names_the_repair_which_fixes_it(damaged_ws, cli, damage):
    import json

    data = DAMAGED[damage](_healthy(damaged_ws))
    (damaged_ws / ".workshop" / "state.json").write_text(json.dumps(data))
    _status_then_repair(cli, damaged_ws)


@pytest.mark.parametrize("damage", sorted(RAW_DAMAGE))
def test_unreadable_progress_bytes_name_the_repair_which_fixes_it(damaged_ws, cli, damage):
    (damaged_ws / ".workshop" / "state.json").write_bytes(RAW_DAMAGE[damage])
    _status_then_repair(cli, damaged_ws)


def test_a_progress_file_that_is_a_folder_is_set_aside_by_repair(damaged_ws, cli):
    state = damaged_ws / ".workshop" / "state.json"
    state.unlink()
    (state / "inner").mkdir(parents=True)
    _status_then_repair(cli, damaged_ws, words="is a folder")


def test_a_workshop_file_instead_of_the_folder_says_how_to_move_it(damaged_ws, cli):
    import shutil

    dot = damaged_ws / ".workshop"
    shutil.rmtree(dot)
    dot.write_text("not a folder")
    for command in (("status",), ("-w", str(damaged_ws), "status"), ("status", "--repair"), ("init", str(damaged_ws))):
        result = cli(*command)
        assert result.exit_code == 1, (command, result.output)
        assert "is a file" in result.output and "mv " in result.output and "Traceback" not in result.output, result.output


def test_repair_leaves_a_healthy_progress_file_alone(damaged_ws, cli):
    state = damaged_ws / ".workshop" / "state.json"
    assert cli("goto", "2").exit_code == 0
    before, stamp = state.read_bytes(), state.stat().st_mtime_ns
    result = cli("status", "--repair")
    assert result.exit_code == 0 and "healthy" in result.output, result.output
    assert state.read_bytes() == before and state.stat().st_mtime_ns == stamp
    assert not list(state.parent.glob("state.json.damaged-*"))


def test_repair_drops_a_bad_target_value_and_keeps_the_rest(damaged_ws, cli):
    import json

    from workshop.course import workspace

    data = _healthy(damaged_ws)
    data["target"] = {"name": "aws", "region": 5, "stage": "dev-ana", "written_by_a_newer_runner": {"n": 1}}
    (damaged_ws / ".workshop" / "state.json").write_text(json.dumps(data))
    assert cli("status", "--repair").exit_code == 0
    assert workspace.load_state(damaged_ws).target == {"name": "aws", "stage": "dev-ana", "written_by_a_newer_runner": {"n": 1}}


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
STEP = st.fixed_dictionaries({}, optional={
    "state": st.sampled_from(["verified", "skipped", "not yet", "bad", 1]), "hints_revealed": st.integers(-2, 3) | JSON,
    "verified_at": JSON, "last_verify": JSON | st.fixed_dictionaries({"checks": JSON})})
TARGET = st.dictionaries(st.sampled_from(["name", "stage", "region", "profile", "confirmed"]),
                         st.sampled_from(["aws", "local", "dev", "us-east-1", "zz"]) | JSON, max_size=4)
# Mostly well-formed files with one or two damaged fields: the shapes a hand edit or a bad merge leaves.
FIELDS = st.fixed_dictionaries(
    {"format": st.sampled_from([1, 1, 1, 2, "1"]), "course_version": st.sampled_from(["1.0.0", "1.0.0", 1]),
     "current": st.sampled_from(["first", "second", "nope", 3])},
    optional={"steps": st.dictionaries(st.sampled_from(["first", "second", "x"]), STEP | JSON, max_size=3) | JSON,
              "target": TARGET | JSON, "created": JSON},
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=FIELDS)
def test_generated_progress_files_never_crash_and_repair_always_recovers(damaged_ws, cli, data):
    import json

    from workshop.course import workspace
    from workshop.deploy import targets
    from workshop.errors import WorkshopError

    (damaged_ws / ".workshop" / "state.json").write_text(json.dumps(data))
    for command in (("status",), ("hint",), ("goto", "1")):
        result = cli(*command)
        assert result.exit_code in (0, 1), (command, result.output)
        assert "Traceback" not in result.output, (command, result.output)
    assert cli("status", "--repair").exit_code == 0
    assert cli("status").exit_code == 0
    try:  # what deploy, verify and ride read first: an error the learner can act on, never a crash
        targets.resolve(workspace.load_state(damaged_ws).target)
    except WorkshopError:
        pass


def test_a_mistyped_command_is_suggested_once(cli):
    result = cli("rides")
    assert result.exit_code == 2 and result.output.count("Did you mean") == 1 and "'ride'" in result.output, result.output
