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

from workshop.checkpoints import backups
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
    kept: list[str] = field(default_factory=list)  # learner's `checkpoint/*` branches left as they are
    adopted: str | None = None  # the repository was rebuilt under existing files: the backup holding them as they were


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


def _merge_exclude(repo: Repo) -> None:
    """`.git/info/exclude` holds the runner's lines; every line already there is kept."""
    exclude = repo.git_dir / "info" / "exclude"
    try:
        text = exclude.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        text = ""
    have = set(text.splitlines())
    missing = [line for line in GITIGNORE.splitlines() if line not in have]
    if missing:
        merged = text + ("" if not text or text.endswith("\n") else "\n") + "\n".join(missing) + "\n"
        workspace.write_atomic(exclude, merged.encode("utf-8", "surrogateescape"))


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


NOT_OURS = (
    "{root} is already a git repository with its own history ({branches}), not a workshop workspace. The workshop keeps "
    "its checkpoints and backups in a repository of its own: choose an empty folder, e.g. `workshop init {root}/wild-rydes-workshop`."
)


def create_workspace(root: Path, course: Course) -> InitResult:
    """A learner workspace at `root`: its progress file, then its repository and checkpoints (both safe to redo).

    A folder that is a workspace but lost its `.git` gets a rebuilt repository with the files kept on top; a git
    repository that is not a workspace is refused (nothing in it is changed)."""
    workspace.check_state_dir(root)
    was_workspace = workspace.state_path(root).is_file()
    if not was_workspace and (root / ".git").exists():
        require_git()
        repo = Repo(root)
        branches = sorted(repo.ref_ids("refs/heads/"))
        if branches and START_REF not in repo.ref_ids("refs/workshop/"):  # the runner's own refs: a workspace
            names = ", ".join(b[len("refs/heads/"):] for b in branches[:3]) + (" ..." if len(branches) > 3 else "")
            raise WorkshopError(NOT_OURS.format(root=root, branches=f"branches: {names}"))
    workspace.create(root, course.course_version, course.steps[0].id)
    return init_repo(root, course, adopt_files=was_workspace)


def init_repo(root: Path, course: Course, *, adopt_files: bool = False) -> InitResult:
    """Make `root` a git repository holding the start on `main` and the checkpoint branches; safe to re-run.

    Only refs the runner made are moved or deleted: a `checkpoint/*` branch the learner committed on (or made) is kept,
    and so is the branch HEAD is on. `adopt_files`: a workspace whose repository is rebuilt keeps its files as they are,
    on top of the start commit (saved first as a backup)."""
    require_git()
    repo = Repo(root)
    created = not repo.exists()
    if created:
        repo.run("init", "-q")
        repo.run("symbolic-ref", "HEAD", MAIN)
        repo.run("config", "core.autocrlf", "false")
    _merge_exclude(repo)
    start, commits = build(repo, course)
    existing = repo.ref_ids("refs/workshop/", "refs/heads/")
    wanted = {START_REF: start}
    for step, commit in commits:
        wanted[PRIVATE_PREFIX + step.slug] = commit
        wanted[BRANCH_PREFIX + step.slug] = commit
    head = repo.head_branch()
    if not any(ref.startswith("refs/heads/") for ref in existing) and head != "main":
        repo.run("symbolic-ref", "HEAD", MAIN)  # an empty repository (nothing committed): the workshop's `main`
        head = "main"
    on_head = f"refs/heads/{head}" if head else None

    def ours(ref: str) -> bool:
        """A branch only the runner ever wrote (its reflog says so) and HEAD is not on."""
        return ref != on_head and repo.written_only_by(ref, "workshop init")

    updates, deletes, kept = [], [], []
    for ref, sha in wanted.items():
        old = existing.get(ref)
        if old is None:
            updates.append((ref, sha, ""))
        elif old != sha:
            if ref.startswith(BRANCH_PREFIX) and not ours(ref):
                kept.append(ref)
            else:
                updates.append((ref, sha, old))
    for ref, old in existing.items():
        if ref in wanted:
            continue
        if ref.startswith(PRIVATE_PREFIX) or (ref.startswith(BRANCH_PREFIX) and ours(ref)):
            deletes.append((ref, old))
        elif ref.startswith(BRANCH_PREFIX):
            kept.append(ref)
    populated = adopted = False
    if MAIN not in existing and head == "main":
        clashes = [] if adopt_files and created else _clobbered(root, repo, start)
        adopted = adopt_files and created
        if clashes:
            raise WorkshopError(
                f"{root} already holds files the workshop would overwrite ({', '.join(clashes[:5])}). "
                "Move them away or choose an empty folder: `workshop init DIR`."
            )
        updates.append((MAIN, start, ""))
        populated = not adopted
    backup = None
    if adopted:  # the files stay as they are; a backup holds them before anything else happens
        with repo.temp_index(seed=False) as index:
            tree = repo.snapshot(index)
            files = len(repo.lines("ls-files", "-z", index=index))
            backup = backups.save(repo, files, tree, reason="rebuilt-repository", head=start, head_tree=None, staged_tree=None)
    repo.update_refs(updates, "workshop init: checkpoints")
    repo.delete_refs(deletes, "workshop init: checkpoints")
    if populated:
        repo.check_out(repo.git_dir / "index", start)
    elif adopted:
        repo.run("read-tree", start)  # the index holds the start: `git status` shows the learner's files as changes
        repo.call("update-index", "-q", "--refresh", exact_bytes=True)
    return InitResult(
        created_repo=created,
        populated=populated,
        start=start,
        checkpoints={branch_name(step): commit for step, commit in commits},
        updated=[ref for ref, _, _ in updates] + [ref for ref, _ in deletes],
        kept=sorted(kept),
        adopted=backup.name if backup else None,
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

