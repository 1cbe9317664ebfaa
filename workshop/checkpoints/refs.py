"""Checkpoint refs: their names, and the trees a step starts and ends with.

Both the builder (build.py) and the operations (operations.py) import this module; it imports neither.
"""

from __future__ import annotations

from pathlib import Path

from workshop.checkpoints.repo import GitFailed, MissingRevision, Repo, open_repo
from workshop.course.model import Course, Step
from workshop.errors import WorkshopError

START_REF = "refs/workshop/start"
PRIVATE_PREFIX = "refs/workshop/checkpoints/"
BRANCH_PREFIX = "refs/heads/checkpoint/"
MAIN = "refs/heads/main"
REBUILD_HINT = "Run `workshop init .` in the workspace to rebuild the checkpoints (your files are kept)."


def branch_name(step: Step) -> str:
    """`checkpoint/NN-<id>`: the state after `step`."""
    return f"checkpoint/{step.slug}"


def before(course: Course, step: Step) -> Step | None:
    """The step whose checkpoint is the start of `step` (None for the first step: the start)."""
    index = course.index(step)
    return course.steps[index - 1] if index > 0 else None


def start_ref(course: Course, step: Step) -> str:
    """The tree the learner should have at the start of `step` (as a revision git resolves)."""
    previous = before(course, step)
    return (START_REF if previous is None else PRIVATE_PREFIX + previous.slug) + "^{tree}"


def trees_around(repo: Repo, course: Course, step: Step) -> tuple[str, str]:
    """(tree at the start of `step`, tree after it), in one git call."""
    try:
        base, after = repo.revs(start_ref(course, step), f"{PRIVATE_PREFIX}{step.slug}^{{tree}}")
    except GitFailed:
        raise WorkshopError(f"The workspace has no checkpoints for step {step.number}. {REBUILD_HINT}") from None
    return base, after


def export_rev(root: Path, rev: str, destination: Path) -> Path:
    """Write the files of a commit or tree of the workspace's repository into `destination` (never the learner's
    working tree), byte for byte; a missing one is one clear line naming `workshop init`."""
    try:
        return open_repo(root).export_tree(rev, destination)
    except MissingRevision:
        shown = rev.removesuffix("^{tree}")
        raise WorkshopError(f"The checkpoint {shown} is missing from this workspace. {REBUILD_HINT}") from None


def export_checkpoint(root: Path, step: Step, destination: Path) -> Path:
    """The files after `step`, from the runner's private ref (never the learner's `checkpoint/*` branch)."""
    return export_rev(root, PRIVATE_PREFIX + step.slug, destination)
