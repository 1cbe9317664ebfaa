"""The operations that replace the learner's files (reset, solve, restore) and the read-only diff.

Every file-replacing operation follows one path: write its intent to the journal, take `.git/index.lock`, stage the whole
working tree in a private index, save it as a backup ref (all-or-nothing), then switch the files to the target tree with
`git read-tree -u -m` (which only touches files that differ) and install the private index as the real one. A command
killed half-way leaves the journal behind; `recover` (run first by every command) finishes the switch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from workshop.checkpoints import backups, journal, merge
from workshop.checkpoints.backups import Backup
from workshop.checkpoints.refs import REBUILD_HINT, start_ref, trees_around
from workshop.checkpoints.repo import (
    GitFailed,
    Repo,
    changed_paths,
    open_repo,
    read_index,
)
from workshop.course import workspace
from workshop.course.model import Course, Step
from workshop.errors import WorkshopError


@dataclass
class Outcome:
    """What an operation did, for the command to render."""

    changed: list[str] = field(default_factory=list)  # files whose content, mode or presence changed
    backup: Backup | None = None  # where the files as they were before are kept
    conflicts: list[str] = field(default_factory=list)  # solve: files left with conflict markers
    commands: list[str] = field(default_factory=list)  # solve on a step without a patch: what completes it
    step: Step | None = None


DETACHED = "HEAD is detached (not on a branch), so the runner will not change your files. Run `git switch main`, then run the command again."
IN_PROGRESS = "A git {name} is in progress in {root}. Finish it or abort it (e.g. `git {cmd} --abort`), then run the command again."
UNMERGED = "Git has unmerged files in {root} ({files}). Resolve them and `git add` them (or `git merge --abort`), then run the command again."
RUNNING = "Another workshop command (pid {pid}) is running `{op}` in this workspace. Wait for it to finish, then run the command again."

INDEX_LOCKED = (
    "Another git command seems to be running in {root} ({lock} exists). Wait for it to finish; if none is running, "
    "delete {lock} and run the command again."
)


def lock_index(repo: Repo) -> Path:
    """Take `.git/index.lock` as git does (exclusive create), so no other git changes the index meanwhile."""
    lock = repo.git_dir / "index.lock"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        raise GitFailed(INDEX_LOCKED.format(root=repo.root, lock=lock)) from None
    os.close(fd)
    return lock


def install_index(repo: Repo, new_index: Path | None) -> None:
    """Replace the real index by `new_index` through the lock we hold (git's own protocol); None only releases it."""
    lock = repo.git_dir / "index.lock"
    if new_index is not None and new_index.exists():
        os.replace(new_index, lock)
        os.replace(lock, repo.git_dir / "index")
    else:
        lock.unlink(missing_ok=True)


def preflight(root: Path) -> Repo:
    """The workspace's repository, refusing (with the way out) what the runner must not work over."""
    repo = open_repo(root)
    if repo.head_branch() is None:
        raise WorkshopError(DETACHED)
    if name := repo.operation_in_progress():
        cmd = {"merge": "merge", "cherry-pick": "cherry-pick", "revert": "revert"}.get(name, "rebase")
        raise WorkshopError(IN_PROGRESS.format(name=name, root=root, cmd=cmd))
    return repo


def _staged_tree(repo: Repo, index: Path) -> str | None:
    """The tree of the learner's index (copied into `index`); unmerged entries are a merge the runner did not make."""
    tree = repo.write_index_tree(index)  # in-process; git only for what it does not handle (unmerged, intent-to-add)
    if tree:
        return tree
    status, out, _ = repo.call("write-tree", index=index)
    if status == 0:
        return out.strip()
    unmerged = repo.unmerged_paths(index)
    if unmerged:
        raise WorkshopError(UNMERGED.format(root=repo.root, files=", ".join(unmerged[:5])))
    return None


def _changed(repo: Repo, old: str, new: str) -> list[str]:
    return repo.lines("diff-tree", "-r", "-z", "--name-only", "--no-renames", old, new)


def replace_files(
    root: Path, op: str, reason: str, target: Callable[[Repo, Path, str], tuple[str, list[str]]], *,
    staged: Callable[[Repo], str | None] | None = None, target_ref: str | None = None, **intent,
) -> Outcome:
    """Back up the working tree, then make it equal the tree `target(repo, index, current)` returns.

    `target_ref` (a tree to resolve) is looked up in the same git call as HEAD and passed as `target`'s last argument.
    """
    recover(root)
    repo = preflight(root)
    entry = journal.begin(root, op, **intent)
    try:
        lock_index(repo)
    except BaseException:
        journal.clear(root)
        raise
    installed = False
    try:
        with repo.temp_index() as index:
            try:
                head, head_tree, *resolved = repo.revs("HEAD", "HEAD^{tree}", *([target_ref] if target_ref else []))
            except GitFailed:

                raise WorkshopError(f"The workspace is missing a branch or checkpoint it needs. {REBUILD_HINT}") from None
            staged_tree = _staged_tree(repo, index)
            current = repo.snapshot(index)
            wanted, conflicts = target(repo, index, current, *resolved)
            if wanted == current:
                return Outcome(conflicts=conflicts)
            backup = backups.save(repo, index, current, reason=reason, head=head, head_tree=head_tree, staged_tree=staged_tree)
            journal.advance(root, entry, "applying", backup=backup.name, current=current, target=wanted)
            entries_before = read_index(index)
            repo.switch(index, current, wanted)
            changed = changed_paths(entries_before, read_index(index))
            journal.kill_point(f"{op}:switched")
            new_staged = staged(repo) if staged else None
            if new_staged:
                repo.run("read-tree", new_staged, index=index)
                repo.call("update-index", "-q", "--refresh", index=index)
            install_index(repo, index)
            installed = True
            journal.kill_point(f"{op}:installed")
            _finish(root, entry)
            if changed is None:
                changed = _changed(repo, current, wanted)
            return Outcome(changed=changed, backup=backup, conflicts=conflicts)
    finally:
        if not installed:
            install_index(repo, None)
        if journal.pending(root) is not None and journal.pending(root).phase == "saving":
            journal.clear(root)


def _finish(root: Path, entry: journal.Entry) -> None:
    """The last part of an operation, done again by `recover`: progress marker, then clear the journal."""
    if entry.op == "reset" and entry.data.get("step_id"):
        state = workspace.load_state(root)
        state.current = entry.data["step_id"]
        workspace.save_state(root, state)
    journal.clear(root)


def recover(root: Path) -> list[str]:
    """Finish an operation a killed command left half-done; returns what was done (empty when nothing was pending)."""
    entry = journal.pending(root)
    if entry is None:
        return []
    if journal.running_elsewhere(entry):
        raise WorkshopError(RUNNING.format(pid=entry.pid, op=entry.op))
    repo = open_repo(root)
    repo.wait_for_temp_locks()
    (repo.git_dir / "index.lock").unlink(missing_ok=True)  # ours: the journal says a runner held it
    what = entry.data.get("what", f"workshop {entry.op}")
    if entry.phase != "applying":
        journal.clear(root)
        return [f"`{what}` was interrupted before it changed any file; cleaned up what it left."]
    lock_index(repo)
    notes = []
    try:
        with repo.temp_index() as index:
            now = repo.snapshot(index)
            target, before = entry.data["target"], entry.data["current"]
            if now not in (target, before):
                extra = backups.save(repo, index, now, reason=f"recover-{entry.op}", head=repo.rev("HEAD"), head_tree=None, staged_tree=None)
                notes.append(f"Your files were saved first as backup {extra.name}.")
            repo.switch(index, now, target)
            install_index(repo, index)
    finally:
        install_index(repo, None)
    _finish(root, entry)
    backup = entry.data.get("backup")
    return [f"`{what}` was interrupted; it is now finished. Your files from before it are in backup {backup} "
            f"(`{backups.restore_command(backup)}`).", *notes]


def reset_to_step(root: Path, course: Course, step: Step) -> Outcome:
    """Put the files at the start of `step` (the checkpoint after the previous one) and make it the current step."""

    outcome = replace_files(
        root, "reset", f"reset-to-step-{step.number:02d}", lambda repo, index, current, start_tree: (start_tree, []),
        target_ref=start_ref(course, step), step_id=step.id, what=f"workshop reset --step {step.number}",
    )
    if outcome.backup is None:  # nothing to change: still move the marker
        state = workspace.load_state(root)
        state.current = step.id
        workspace.save_state(root, state)
    outcome.step = step
    return outcome


def completing_commands(step: Step) -> list[str]:
    """What completes a step that has no patch: its deploys, then `workshop verify` for behaviour."""
    commands = [f"workshop deploy {service}" for service in step.deploys]
    if "behaviour" in step.kinds or "reliability" in step.kinds or not commands:
        commands.append("workshop verify")
    return commands


def solve_step(root: Path, course: Course, step: Step) -> Outcome:
    """Apply `step`'s solution onto the learner's files with a three-way merge (conflicts keep markers)."""

    repo = open_repo(root)
    base, after = trees_around(repo, course, step)
    if base == after:
        return Outcome(commands=completing_commands(step), step=step)
    labels = ("your files", f"start of step {step.number}", f"solution of step {step.number}")

    def merged(repo: Repo, index: Path, current: str) -> tuple[str, list[str]]:
        return merge.three_way(repo, index, current, base, after, labels=labels)

    outcome = replace_files(root, "solve", f"solve-step-{step.number:02d}", merged, what=f"workshop solve --step {step.number}")
    outcome.step = step
    return outcome


def restore(root: Path, name: str) -> Outcome:
    """Bring back a backup's files (and staged index); the files replaced are backed up first."""
    repo = open_repo(root)
    chosen = backups.find(repo, name)
    tree, staged_tree = backups.trees(repo, chosen)
    outcome = replace_files(
        root, "restore", "before-restore", lambda *_: (tree, []), staged=lambda _: staged_tree,
        what=f"workshop restore {chosen.name}",
    )
    return outcome


@dataclass
class Diff:
    """A diff for the command to render."""

    text: str
    left: str
    right: str


def diff(root: Path, course: Course, step: Step, *, against: str = "solution", stat: bool = False, paths: tuple[str, ...] = ()) -> Diff:
    """Your files against the state after `step` (`against="start"`: what you changed since the step began)."""

    repo = open_repo(root)
    base, after = trees_around(repo, course, step)
    mine = repo.tree_of(root)
    if against == "start":
        left, right, names = base, mine, (f"start of step {step.number}", "your files")
    else:
        left, right, names = mine, after, ("your files", f"after step {step.number}")
    args = ["diff", "--no-color", "--no-ext-diff", "--no-renames"]
    args += ["--stat=1000"] if stat else []  # wide enough that git never shortens a path; the CLI fits the bars
    text = repo.run(*args, left, right, "--", *paths)
    return Diff(text=text, left=names[0], right=names[1])


__all__ = ["Diff", "GitFailed", "Outcome", "diff", "recover", "reset_to_step", "restore", "solve_step"]
