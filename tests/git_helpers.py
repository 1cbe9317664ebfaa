"""Helpers for the checkpoint tests: a workspace built from the sample course, and a byte-exact picture of its files."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

SKIP_DIRS = {".git", ".workshop", ".serverless", "__pycache__", "node_modules", ".pytest_cache"}


def files_of(root: Path) -> dict[str, tuple[bytes, bool | str]]:
    """Every file the runner must keep (ignored folders left out): relative path -> (content, executable), a symlink
    as (its target, "symlink")."""
    found = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        for name in [*names, *(d for d in dirs if (Path(folder) / d).is_symlink())]:
            if name.endswith(".pyc"):
                continue
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = (os.readlink(path).encode("utf-8", "surrogateescape"), "symlink")
            else:
                found[rel] = (path.read_bytes(), bool(path.stat().st_mode & stat.S_IXUSR))
    return found


def git(root: Path, *args: str, check: bool = True) -> str:
    """Plain git in the workspace, as a learner would run it (tests have no user identity: pass it here)."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "Learner", "GIT_AUTHOR_EMAIL": "l@example.com",
           "GIT_COMMITTER_NAME": "Learner", "GIT_COMMITTER_EMAIL": "l@example.com"}
    done = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def make_workspace(root: Path, course) -> Path:
    """A learner workspace (progress file + repository) for `course`."""
    from workshop.checkpoints import build as checkpoints
    from workshop.course import workspace

    workspace.create(root, course.course_version, course.steps[0].id)
    checkpoints.init_repo(root, course)
    return root


def copy_workspace(template: Path, target: Path) -> Path:
    """A copy of a prepared workspace (much faster than building one)."""
    shutil.copytree(template, target, symlinks=True)
    return target


def services() -> tuple[str, ...]:
    """The course's service folders: what reset and restore replace."""
    from workshop.course import model

    return tuple(model.load().services)
