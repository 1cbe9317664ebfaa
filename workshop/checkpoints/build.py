"""Checkpoints: the workspace repository, the start commit on `main` and one branch per step holding the state AFTER it.

`checkpoint/NN-<id>` branches are for the learner (`git diff checkpoint/05-...`); the runner reads its private copies under
`refs/workshop/checkpoints/` so a learner committing on a branch never changes what `reset` puts back. Checkpoints are built
from `checkpoints/start/` and `solutions/NN-<id>.patch` in a temporary index: the learner's files are never touched.
Commits carry the runner's identity and a fixed date, so rebuilding gives the same ids and re-running init is a no-op.

Ref names and resolution live in refs.py; reset, solve, restore and diff in operations.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from workshop.checkpoints.refs import (
    BRANCH_PREFIX,
    MAIN,
    PRIVATE_PREFIX,
    START_REF,
    branch_name,
    trees_around,
)
from workshop.checkpoints.repo import (
    FIXED_DATE,
    GitFailed,
    Repo,
    exclude_pathspecs,
    open_repo,
    require_git,
)
from workshop.course import workspace
from workshop.course.model import Course, Step
from workshop.errors import CourseError, WorkshopError

GITIGNORE = "# Written by `workshop init`: never part of checkpoints or backups.\n" + "\n".join(workspace.IGNORED) + "\n"


def patch_path(course: Course, step: Step) -> Path:
    return course.root / "solutions" / f"{step.slug}.patch"


def start_dir(course: Course) -> Path:
    return course.root / "checkpoints" / "start"


@dataclass
class InitResult:
    """What `init_repo` built."""

    created_repo: bool
    populated: bool  # the start files were written into the workspace
    start: str
    checkpoints: dict[str, str]  # branch name -> commit
    updated: list[str] = field(default_factory=list)  # refs that were created or moved


def build(repo: Repo, course: Course) -> tuple[str, list[tuple[Step, str]]]:
    """Write the start commit and one commit per step into the object store (no ref, no file touched)."""
    source = start_dir(course)
    if not source.is_dir():
        raise CourseError(f"{source} is missing: the course has no start state.")
    with repo.temp_index(seed=False) as index:
        specs = [":/" if s == "." else s for s in exclude_pathspecs()]
        repo.run("-C", str(source), "add", "-A", "-f", "--", *specs, index=index, exact_bytes=True, env={"GIT_WORK_TREE": str(source)})
        blob = repo.run("hash-object", "-w", "--stdin", stdin=GITIGNORE.encode()).strip()
        repo.run("update-index", "--add", "--cacheinfo", f"100644,{blob},.gitignore", index=index)
        tree = repo.run("write-tree", index=index).strip()
        start = repo.commit_tree(tree, "Start of the workshop\n\nThe two services as the learner first gets them.\n", date=FIXED_DATE)
        commits: list[tuple[Step, str]] = []
        previous = start
        for step in course.steps:
            patch = patch_path(course, step)
            if patch.is_file():
                try:
                    repo.run("apply", "--cached", "--binary", "--whitespace=nowarn", str(patch), index=index)
                except GitFailed as exc:
                    raise CourseError(
                        f"{patch.name} does not apply on the state after the previous step: {exc.message}", detail=exc.detail
                    ) from None
                tree = repo.run("write-tree", index=index).strip()
                previous = repo.commit_tree(tree, f"Checkpoint {step.slug}: {step.title}\n", [previous], date=FIXED_DATE)
            commits.append((step, previous))
    return start, commits


def _existing_refs(repo: Repo, *prefixes: str) -> dict[str, str]:
    out = repo.run("for-each-ref", "--format=%(refname) %(objectname)", *prefixes)
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def _clobbered(root: Path, repo: Repo, tree: str) -> list[str]:
    """Start files that already exist in the folder with other content (init must not overwrite them)."""
    clashes = []
    for line in repo.lines("ls-tree", "-r", "-z", tree):
        meta, path = line.split("\t", 1)
        target = root / path
        if target.exists() or target.is_symlink():
            sha = meta.split()[2]
            if target.is_symlink() or not target.is_file() or repo.run("hash-object", "--no-filters", "--", str(target)).strip() != sha:
                clashes.append(path)
    return clashes


def create_workspace(root: Path, course: Course) -> InitResult:
    """A learner workspace at `root`: its progress file, then its repository and checkpoints (both safe to redo)."""
    workspace.create(root, course.course_version, course.steps[0].id)
    return init_repo(root, course)


def init_repo(root: Path, course: Course) -> InitResult:
    """Make `root` a git repository holding the start on `main` and the checkpoint branches; safe to re-run."""
    require_git()
    repo = Repo(root)
    created = not repo.exists()
    if created:
        repo.run("init", "-q")
        repo.run("symbolic-ref", "HEAD", MAIN)
    repo.run("config", "core.autocrlf", "false")
    exclude = repo.git_dir / "info" / "exclude"
    if not exclude.is_file() or exclude.read_text(encoding="utf-8") != GITIGNORE:
        workspace.write_atomic(exclude, GITIGNORE)
    start, commits = build(repo, course)
    existing = _existing_refs(repo, "refs/workshop/", "refs/heads/")
    wanted = {START_REF: start}
    for step, commit in commits:
        wanted[PRIVATE_PREFIX + step.slug] = commit
        wanted[BRANCH_PREFIX + step.slug] = commit
    updates = [(ref, sha, None) for ref, sha in wanted.items() if existing.get(ref) != sha]
    stale = [ref for ref in existing if ref.startswith((PRIVATE_PREFIX, BRANCH_PREFIX)) and ref not in wanted]
    populated = False
    if MAIN not in existing and repo.head_branch() == "main":
        clashes = _clobbered(root, repo, start)
        if clashes:
            raise WorkshopError(
                f"{root} already holds files the workshop would overwrite ({', '.join(clashes[:5])}). "
                "Move them away or choose an empty folder: `workshop init DIR`."
            )
        updates.append((MAIN, start, ""))
        populated = True
    if updates or stale:
        repo.update_refs(updates, "workshop init: checkpoints")
        for ref in stale:
            repo.run("update-ref", "-d", ref)
    if populated:
        repo.check_out(repo.git_dir / "index", start)
    return InitResult(
        created_repo=created,
        populated=populated,
        start=start,
        checkpoints={branch_name(step): commit for step, commit in commits},
        updated=[ref for ref, _, _ in updates] + stale,
    )


@dataclass
class RecordResult:
    """What `record_step` wrote."""

    patch: Path
    files: list[str]
    later_problem: str | None  # a later patch that no longer applies, if any


def record_step(root: Path, course: Course, step: Step) -> RecordResult:
    """Regenerate `solutions/NN-<id>.patch` from the workspace's files (the edited checkpoint after `step`)."""
    repo = open_repo(root)
    base, _ = trees_around(repo, course, step)
    tree = repo.tree_of(root)
    if tree == base:
        raise WorkshopError(
            f"Your files equal the start of step {step.number}: there is nothing to record. "
            f"Run `workshop reset --step {step.number + 1}`, edit, then `workshop dev record {step.number}`."
        )
    files = repo.lines("diff", "--name-only", "-z", "--no-renames", base, tree)
    patch = repo.run("diff", "--no-color", "--no-ext-diff", "--no-renames", "--binary", "--full-index", base, tree, binary=True)
    target = patch_path(course, step)
    workspace.write_atomic(target, patch)
    problem = None
    try:
        init_repo(root, course)
    except CourseError as exc:
        problem = exc.message
    return RecordResult(patch=target, files=files, later_problem=problem)

