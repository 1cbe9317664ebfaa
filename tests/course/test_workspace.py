"""Progress state: round trips, atomic writes, damaged and foreign files, migration between course versions."""

from __future__ import annotations

import json
import os

import pytest

from workshop.course import model as course
from workshop.course import progress, workspace
from workshop.errors import NotAWorkspace, StateError


def test_state_round_trip_keeps_ids_hints_results_and_unknown_keys(tmp_path):
    state = workspace.create(tmp_path, "1.0.0", "first")
    state.step("first").hints_revealed = 2
    state.step("second").state = "skipped"
    state.step("first").last_verify = {"passed": True, "at": workspace.now(), "checks": {"a": "pass"}}
    state.extra["future_key"] = {"kept": True}
    workspace.save_state(tmp_path, state)
    again = workspace.load_state(tmp_path)
    assert again == state
    assert json.loads(workspace.state_path(tmp_path).read_text())["future_key"] == {"kept": True}


def test_atomic_write_leaves_old_content_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    workspace.write_atomic(target, "old")

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        workspace.write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]  # no temp file left behind


@pytest.mark.parametrize(
    "content, words",
    [("{bad", "not valid JSON"), ('{"format": 99}', "not written by this runner"), ("[]", "not written by this runner"),
     ('{"format": 1, "course_version": "1", "current": "x", "steps": {"x": {"state": "weird"}}}', "not written by this runner")],
)
def test_damaged_or_foreign_state_names_the_repair_command(tmp_path, content, words):
    workspace.create(tmp_path, "1.0.0", "first")
    workspace.state_path(tmp_path).write_text(content)
    with pytest.raises(StateError, match=words) as info:
        workspace.load_state(tmp_path)
    assert "workshop status --repair" in info.value.message


def test_repair_keeps_what_it_can_and_the_old_file(tmp_path):
    workspace.create(tmp_path, "1.0.0", "first")
    raw = {"format": 7, "current": "second", "steps": {"first": {"state": "verified"}, "gone": {"state": "verified"}}}
    workspace.state_path(tmp_path).write_text(json.dumps(raw))
    state, kept = workspace.repair(tmp_path, "1.0.0", ["first", "second"])
    assert state.current == "second" and state.steps["first"].state == "verified" and "gone" not in state.steps
    assert kept is not None and json.loads(kept.read_text()) == raw
    assert workspace.load_state(tmp_path) == state


def test_locate_walks_up_and_require_names_init(tmp_path):
    workspace.create(tmp_path / "ws", "1", "first")
    deep = tmp_path / "ws" / "a" / "b"
    deep.mkdir(parents=True)
    assert workspace.locate(start=deep) == (tmp_path / "ws").resolve()
    assert workspace.locate(start=tmp_path) is None
    with pytest.raises(NotAWorkspace, match="workshop init"):
        workspace.require(start=tmp_path)


def test_migration_to_a_new_course_version_moves_off_removed_steps(sample_course, tmp_path):
    loaded = course.load()
    state = workspace.create(tmp_path, "0.0.1", "removed-step")
    state.step("first").state = "verified"
    state.step("removed-step").state = "verified"
    workspace.save_state(tmp_path, state)
    session = progress.open_session(tmp_path, loaded)
    assert session.state.course_version == loaded.course_version
    assert session.state.current == "second"  # first step not verified yet
    assert "removed-step" not in workspace.load_state(tmp_path).steps
