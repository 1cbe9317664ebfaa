"""The navigation commands through the CLI: init, status, show, hint, next, back, goto, questions, and errors."""

from __future__ import annotations

import json

import pytest

from workshop import errors
from workshop.course import workspace


@pytest.fixture
def ws(sample_course, tmp_path, monkeypatch, cli):
    root = tmp_path / "ws"
    result = cli("init", str(root))
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(root)
    return root


def test_init_twice_is_safe_and_says_so(ws, cli):
    state_before = workspace.state_path(ws).read_text()
    result = cli("init", str(ws))
    assert result.exit_code == 0, result.output
    assert "already a workshop workspace" in result.output
    assert workspace.state_path(ws).read_text() == state_before


def test_status_json_shape(ws, cli):
    result = cli("status", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"course_version", "current", "steps"}
    assert data["current"] == "first"
    assert [s["number"] for s in data["steps"]] == [0, 1, 2]
    for step in data["steps"]:
        assert set(step) == {"number", "id", "title", "services", "state", "current"}
        assert step["state"] in workspace.STEP_STATES
    assert [s["current"] for s in data["steps"]] == [True, False, False]


def test_status_table_marks_the_current_step(ws, cli):
    result = cli("status")
    assert result.exit_code == 0, result.output
    line = next(text for text in result.stdout.splitlines() if "The first step" in text)
    assert ">" in line and "not yet" in line


def _mark_verified(root, step_id):
    """As a passing `workshop verify` leaves it: verified on the files as they are now."""
    from workshop.course import model, progress

    session = progress.open_session(root, model.load())
    progress.mark_verified(session, session.course.by_id(step_id), workspace.now())
    session.save()


def test_next_needs_a_verified_step_or_force(ws, cli):
    result = cli("next")
    assert result.exit_code == 1 and "workshop verify" in result.output and "--force" in result.output
    assert json.loads(cli("status", "--json").stdout)["current"] == "first"


def test_next_back_goto_and_skipped(ws, cli):
    _mark_verified(ws, "first")
    assert cli("next").exit_code == 0
    steps = json.loads(cli("status", "--json").stdout)["steps"]
    assert steps[0]["state"] == "verified" and steps[1]["current"]
    result = cli("next", "--force")
    assert result.exit_code == 0, result.output
    steps = json.loads(cli("status", "--json").stdout)["steps"]
    assert steps[1]["state"] == "skipped" and steps[2]["current"]
    result = cli("next", "--force")
    assert result.exit_code == 0 and "All done with the sample" in result.stdout
    assert cli("back").exit_code == 0
    assert json.loads(cli("status", "--json").stdout)["current"] == "second"
    assert cli("goto", "first").exit_code == 0
    result = cli("back")
    assert result.exit_code == 1 and "first step already" in result.output


def test_hints_are_revealed_one_at_a_time_and_remembered(ws, cli):
    first = cli("hint")
    assert first.exit_code == 0 and "first hint" in first.stdout and "second hint" not in first.stdout
    second = cli("hint")
    assert "second hint" in second.stdout and "last hint" in second.stdout
    assert workspace.load_state(ws).steps["first"].hints_revealed == 2
    third = cli("hint")
    assert third.exit_code == 0 and "(2 of 2)" in third.stdout


def test_show_renders_the_step_markdown(ws, cli):
    result = cli("show", "2")
    assert result.exit_code == 0, result.output
    assert "Step 2: The third step" in result.stdout and "Edit a file" in result.stdout
    assert "Welcome to the sample" in cli("show").stdout


def test_questions_list_and_answer(ws, cli):
    listing = cli("questions")
    assert listing.exit_code == 0 and "cost" in listing.stdout
    bad = cli("questions", "--answer", "nope")
    assert bad.exit_code == 2 and "workshop questions" in bad.output


@pytest.mark.parametrize("args", [["goto", "99"], ["goto", "abc"], ["goto", "-1"], ["show", "14"], ["goto", ""]])
def test_bad_step_is_one_line_naming_the_next_command_exit_2(ws, cli, args):
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert "workshop status" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


@pytest.mark.parametrize("command", ["status", "show", "hint", "next", "back", "goto 1"])
def test_missing_workspace_names_init(sample_course, tmp_path, monkeypatch, cli, command):
    monkeypatch.chdir(tmp_path)
    result = cli(*command.split())
    assert result.exit_code == 1, result.output
    assert "workshop init" in result.output and "Traceback" not in result.output


def test_corrupted_state_then_repair(ws, cli):
    workspace.state_path(ws).write_text("{not json")
    result = cli("status")
    assert result.exit_code == 1 and "workshop status --repair" in result.output
    repaired = cli("status", "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "rebuilt" in repaired.output
    assert cli("status").exit_code == 0


def test_workspace_option_before_or_after_the_command(ws, cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("status", "--workspace", str(ws)).exit_code == 0
    assert cli("--workspace", str(ws), "status").exit_code == 0


def test_unexpected_error_exits_3_with_a_log_and_no_traceback(ws, cli, monkeypatch):
    from workshop.course import progress

    def explode(*_a, **_k):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(progress, "move_next", explode)
    result = cli("next", "--force")
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output and "crash-" in result.output
    log = next((errors.workshop_home() / "logs").glob("crash-*.log"))
    assert "ZeroDivisionError" in log.read_text()


def test_ctrl_c_exits_130(ws, cli, monkeypatch):
    from workshop.course import progress

    def interrupt(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(progress, "move_next", interrupt)
    result = cli("next", "--force")
    assert result.exit_code == 130, result.output


def test_no_color_and_json_on_stdout_only(ws, cli):
    result = cli("status", "--json")
    assert "\x1b[" not in result.output
    json.loads(result.stdout)
