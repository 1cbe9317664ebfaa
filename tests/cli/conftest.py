"""Fixtures for the learner screens: real-course workspaces at a checkpoint, consoles of a fixed width."""

from __future__ import annotations

import io
import shutil

import pytest
from rich.console import Console

from tests.checks.conftest import build_state, committed_course

WIDTHS = (80, 120)


@pytest.fixture(scope="session")
def course_states(tmp_path_factory):
    """course_states(n): a read-only copy of both services after step n (-1: the start), built once."""
    base = tmp_path_factory.mktemp("cli-states")
    source = committed_course(base / "course")
    built = {}

    def get(after_step: int):
        if after_step not in built:
            built[after_step] = build_state(base / f"after-{after_step:02d}", after_step, source)
        return built[after_step]

    return get


@pytest.fixture
def learner(course_states, tmp_path):
    """learner(n, current=None): a workspace (progress + services) holding checkpoint n; the current step is `current` (default n)."""
    from workshop.course import model as course
    from workshop.course import workspace

    def make(after_step: int, current: int | None = None):
        root = tmp_path / f"learner-{after_step}"
        shutil.copytree(course_states(after_step), root)
        loaded = course.load()
        state = workspace.create(root, loaded.course_version, loaded.steps[0].id)
        state.current = loaded.step(max(after_step, 0) if current is None else current).id
        workspace.save_state(root, state)
        return root

    return make


def console(width: int) -> Console:
    """A recording console of `width` columns, no colour, not a terminal (as a pipe would be)."""
    return Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False, legacy_windows=False)


def text_of(con: Console) -> str:
    return con.file.getvalue()
