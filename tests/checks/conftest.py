"""Fixtures for the checks: service states built from checkpoints/start + solutions/, a check context, a declared-calls hook."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO


def committed_course(dest: Path) -> Path:
    """checkpoints/start and solutions/ as committed (HEAD): other engineers' edits in progress do not break these tests."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", "HEAD", "checkpoints/start", "solutions"], cwd=REPO, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def build_state(dest: Path, after_step: int, source: Path = REPO) -> Path:
    """A workspace holding both services as they are after `after_step` (-1: the start)."""
    shutil.copytree(source / "checkpoints" / "start", dest)
    for patch in sorted((source / "solutions").glob("[0-9][0-9]-*.patch")):
        if int(patch.name[:2]) <= after_step:
            subprocess.run(["git", "apply", "--whitespace=nowarn", str(patch)], cwd=dest, check=True, capture_output=True)
    return dest


@pytest.fixture(scope="session")
def states(tmp_path_factory):
    """states(n): a read-only workspace after step n, built once per test session."""
    base = tmp_path_factory.mktemp("states")
    source = committed_course(base / "course")
    built: dict[int, Path] = {}

    def get(after_step: int) -> Path:
        if after_step not in built:
            built[after_step] = build_state(base / f"after-{after_step:02d}", after_step, source)
        return built[after_step]

    return get


@pytest.fixture
def workspace(states, tmp_path):
    """workspace(n): a private copy of the state after step n, to edit."""

    def get(after_step: int) -> Path:
        dest = tmp_path / f"ws-{after_step:02d}"
        shutil.copytree(states(after_step), dest)
        return dest

    return get


def edit(root: Path, relative: str, old: str, new: str) -> None:
    """Replace `old` by `new` in a workspace file (the edit must apply)."""
    path = root / relative
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def run_check(root: Path, check_id: str, **kwargs):
    """Run one check against a workspace folder (static checks: no AWS)."""
    from workshop.checks import runner as verify
    from workshop.checks.model import Context
    from workshop.deploy.targets import Target

    ctx = Context(root, kwargs.pop("target", Target()), course_root=REPO, **kwargs)
    return verify.run_checks(ctx, [check_id])[0].result
