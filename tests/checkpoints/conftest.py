"""What the checkpoint tests share: the sample course, loaded, and a workspace made from it."""

from __future__ import annotations

import pytest
from git_helpers import make_workspace

from workshop.course import model as course


@pytest.fixture
def loaded(sample_course):
    return course.load()


@pytest.fixture
def ws(tmp_path, loaded):
    return make_workspace(tmp_path / "ws", loaded)
