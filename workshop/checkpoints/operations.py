"""The operations that replace the learner's files (reset, solve, restore) and the read-only diff.

Every file-replacing operation follows one path: write its intent to the journal, take `.git/index.lock`, stage the whole
working tree in a private index, save it as a backup ref (all-or-nothing), then switch the files to the target tree with
`git read-tree -u -m` (which only touches files that differ) and install the private index as the real one. A command
killed half-way leaves the journal behind; `recover` (run first by every command) finishes the switch.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from workshop.checkpoints import backups, journal, merge
from workshop.checkpoints.backups import Backup
from workshop.checkpoints.refs import REBUILD_HINT, start_ref, trees_around
from workshop.checkpoints.repo import GitFailed, Repo, open_repo
from workshop.course import progress, workspace
from workshop.course.model import Course, Step
from workshop.errors import WorkshopError


@dataclass
class Outcome:
    """What an operation did, for the command to render."""

    changed: list[str] = field(default_factory=list)  # files whose content, mode or presence changed
    backup: Backup | None = None  # where the files as they were before are kept
    conflicts: list[str] = field(default_factory=list)  # solve: files left with conflict markers
    outside: list[str] = field(default_factory=list)  # restore: what the backup holds outside the services, missing now
    backup_commit: str = ""  # restore: the commit of the backup brought back
    commands: list[str] = field(default_factory=list)  # solve on a step without a patch: what completes it
    step: Step | None = None


DETACHED = "HEAD is detached (not on a branch), so the runner will not change your files. Run `git switch main`, then run the command again."
IN_PROGRESS = "A git {name} is in progress in {root}. Finish it or abort it (e.g. `git {cmd} --abort`), then run the command again."
UNMERGED = "Git has unmerged files in {root} ({files}). Resolve them and `git add` them (or `git merge --abort`), then run the command again."
RUNNING = "Another workshop command (pid {pid}) is running `{op}` in this workspace. Wait for it to finish, then run the command again."

SWITCH_FAILED = (
    "Could not replace {file} ({reason}): {what} stopped part-way. Your files as they were are safe in backup {backup}. "
    "Make {file} and its folder writable (e.g. `chmod u+w {file}`), then run `{what}` again to finish it, "
    "or `workshop restore {backup}` to go back."
)
_GIT_PATH = re.compile(r"(?:unlink old|create file|create symlink|cannot create directory at|open) '?([^':\n]+?)'?(?::|$)", re.MULTILINE)

INDEX_LOCKED = (
    "Another git command seems to be running in {root} ({lock} exists). Wait for it to finish; if none is running, "
    "delete {lock} and run the command again."
)


def lock_index(repo: Repo) -> Path:
    """Take `.git/index.lock` as git does (exclusive create), so no other git changes the index meanwhile."""
    try:
        return repo.lock_index()
    except FileExistsError as exc:
        raise GitFailed(INDEX_LOCKED.format(root=repo.root, lock=exc.args[0])) from None


def install_index(repo: Repo, new_index: Path | None) -> None:
    """Replace the real index by `new_index` through the lock we hold; None only releases it."""
    repo.install_index(new_index)


def changed_paths(before: dict | None, after: dict | None) -> list[str] | None:
    """Paths whose content, mode or presence differ between two index readings (None if either is unknown)."""
    if before is None or after is None:
        return None
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


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
    tree = repo.write_index_tree(index)  # GitPython in-process; git only for what it does not handle (unmerged, intent-to-add)
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
    services: Iterable[str], staged: Callable[[Repo], str | None] | None = None, target_ref: str | None = None, **intent,
) -> Outcome:
    """Back up the `services` folders, then make them equal those of the tree `target(repo, index, current)` returns.
    Nothing outside them is read, saved, staged or written: a learner's notes, scripts and .gitignore stay as they are,
    staged or not, whatever git makes of them.

    `target_ref` (a tree to resolve) is looked up in the same git call as HEAD and passed as `target`'s last argument.
    `staged` gives the tree whose service folders the index gets (default: the new files).
    """
    services = tuple(services)
    recover(root)
    repo = preflight(root)
    entry = journal.begin(root, op, services=list(services), **intent)
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
            current = repo.snapshot(index, services)
            wanted, conflicts = target(repo, index, current, *resolved)
            wanted = repo.graft(current, wanted, services)
            if wanted == current:
                return Outcome(conflicts=conflicts)
            entries_before = repo.index_entries(index)
            files = _count_files(repo, index, entries_before, services)
            backup = backups.save(repo, files, current, reason=reason, head=head, head_tree=head_tree, staged_tree=staged_tree)
            journal.advance(root, entry, "applying", backup=backup.name, current=current, target=wanted)
            _switch(repo, index, current, wanted, backup.name, intent.get("what", f"workshop {op}"))
            changed = changed_paths(entries_before, repo.index_entries(index))
            journal.kill_point(f"{op}:switched")
            new_staged = repo.graft(wanted, staged(repo) or wanted, services) if staged else wanted
            if new_staged != wanted:  # a backup's staged files
                repo.run("read-tree", new_staged, index=index)
                repo.call("update-index", "-q", "--refresh", index=index, exact_bytes=True)
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


def _count_files(repo: Repo, index: Path, entries: dict | None, services: tuple[str, ...]) -> int:
    """How many files of the service folders a backup holds."""
    if entries is None:
        return len(repo.lines("ls-files", "-z", "--", *services, index=index)) if services else 0
    return sum(1 for path in entries if path.split("/", 1)[0] in services)


def _switch(repo: Repo, index: Path, current: str, target: str, backup: str | None, what: str) -> None:
    """repo.switch; a file git could not replace (read-only, immutable, in a read-only folder) is named, with the
    backup that holds the files and the command that finishes the operation."""
    try:
        repo.switch(index, current, target)
    except GitFailed as exc:
        detail = exc.detail or exc.message
        found = _GIT_PATH.search(detail)
        reason = "permission denied" if "ermission denied" in detail else \
            "operation not permitted" if "not permitted" in detail else detail.strip().splitlines()[-1]
        raise WorkshopError(
            SWITCH_FAILED.format(file=found.group(1).strip() if found else "a file of the workspace", reason=reason,
                                 what=what, backup=backup or "(none)"),
            detail=detail,
        ) from None


def _finish(root: Path, entry: journal.Entry) -> None:
    """The last part of an operation, done again by `recover`: progress marker, then clear the journal."""
    if entry.op == "reset" and entry.data.get("step_id"):
        _restart_at(root, entry.data["step_id"], entry.data.get("forget") or [])
    journal.clear(root)


def _restart_at(root: Path, step_id: str, forget: list[str]) -> None:
    """The progress side of a reset: the step is current, and it and every later step must be verified again."""
    state = workspace.load_state(root)
    state.current = step_id
    progress.forget_from(state, forget)
    workspace.save_state(root, state)


def recover(root: Path) -> list[str]:
    """Finish an operation a killed command left half-done; returns what was done (empty when nothing was pending).

    Never a dead end: a journal that cannot be read or lacks what it needs is cleared (the files are left as they are
    and saved); when git's gc pruned what the operation was writing, the files go back to how they were before it."""
    entry = journal.pending(root)
    if entry is None:
        return []
    if journal.running_elsewhere(entry):
        raise WorkshopError(RUNNING.format(pid=entry.pid, op=entry.op))
    repo = open_repo(root)
    repo.wait_for_temp_locks()
    (repo.git_dir / "index.lock").unlink(missing_ok=True)  # ours: the journal says a runner held it
    what = str(entry.data.get("what") or f"workshop {entry.op}")
    backup = entry.data.get("backup")
    target, before = entry.data.get("target"), entry.data.get("current")
    if entry.op == "unknown":
        journal.clear(root)
        return [f"The journal of an interrupted command ({journal.path(root)}) could not be read; it was cleared and your "
                "files were left as they are. Check them with `workshop diff`; `workshop backups` lists the saved states."]
    if entry.phase != "applying":
        journal.clear(root)
        return [f"`{what}` was interrupted before it changed any file; cleaned up what it left."]
    if not (isinstance(target, str) and target and isinstance(before, str) and before):
        journal.clear(root)
        kept = f" The files from before it are in backup {backup} (`{backups.restore_command(backup)}`)." if isinstance(backup, str) and backup else ""
        return [f"`{what}` was interrupted and its journal is incomplete: it was cleared and your files were left as they are "
                f"(check them with `workshop diff`).{kept}"]
    lock_index(repo)
    notes = []
    services = _services_of(entry)
    found = [tree for tree in (target, before) if repo.has_objects(tree)]
    goal = target if target in found else before if before in found else None
    try:
        with repo.temp_index() as index:
            now = repo.snapshot(index, services)
            if now not in [repo.graft(now, tree, services) for tree in found]:
                files = _count_files(repo, index, repo.index_entries(index), services)
                extra = backups.save(repo, files, now, reason=f"recover-{entry.op}", head=repo.rev("HEAD"), head_tree=None, staged_tree=None)
                notes.append(f"Your files as the interrupted command left them were saved first as backup {extra.name}.")
            if goal is not None:  # only the service folders move, whatever the journal names
                _switch(repo, index, now, repo.graft(now, goal, services), backup, what)
                install_index(repo, index)
    finally:
        install_index(repo, None)
    if goal == target:
        _finish(root, entry)
        return [f"`{what}` was interrupted; it is now finished. Your files from before it are in backup {backup} "
                f"(`{backups.restore_command(backup)}`).", *notes]
    journal.clear(root)
    if goal == before:
        return [f"`{what}` was interrupted, and what it was writing is no longer in the repository (`git gc` pruned it). "
                f"Your files are back as they were before it (also in backup {backup}). Run `{what}` again.", *notes]
    return [f"`{what}` was interrupted, and `git gc` pruned both what it was writing and the files from before it: those "
            "are lost, and your files were left as the command left them. Check them with `workshop diff`.", *notes]


def _services_of(entry: journal.Entry) -> tuple[str, ...]:
    """The folders an interrupted operation was replacing: as its journal says (a file under .workshop/, so untrusted:
    plain top-level names only), else the course's."""
    named = entry.data.get("services")
    if isinstance(named, list) and named and all(
        isinstance(n, str) and n and "/" not in n and "\\" not in n and "\0" not in n and n not in (".", "..", ".git") for n in named
    ):
        return tuple(named)
    from workshop.course import model

    return tuple(model.load().services)


def reset_to_step(root: Path, course: Course, step: Step) -> Outcome:
    """Put the files at the start of `step` (the checkpoint after the previous one) and make it the current step."""

    outcome = replace_files(
        root, "reset", f"reset-to-step-{step.number:02d}", lambda repo, index, current, start_tree: (start_tree, []),
        services=course.services, target_ref=start_ref(course, step), step_id=step.id, forget=progress.ids_from(course, step),
        what=f"workshop reset --step {step.number}",
    )
    if outcome.backup is None:  # nothing to change: still move the marker and take back the marks
        _restart_at(root, step.id, progress.ids_from(course, step))
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

    outcome = replace_files(root, "solve", f"solve-step-{step.number:02d}", merged, services=course.services,
                            what=f"workshop solve --step {step.number}")
    outcome.step = step
    return outcome


def restore(root: Path, name: str, services: Iterable[str]) -> Outcome:
    """Bring back a backup's service folders (and what was staged in them); the files replaced are backed up first.
    Files outside the service folders are the learner's own and stay as they are."""
    services = tuple(services)
    repo = open_repo(root)
    chosen = backups.find(repo, name)
    tree, staged_tree = backups.trees(repo, chosen)
    outcome = replace_files(
        root, "restore", "before-restore", lambda *_: (tree, []), services=services, staged=lambda _: staged_tree,
        what=f"workshop restore {chosen.name}",
    )
    # A backup made before reset left the rest alone (or by hand) may hold a learner's notes that are gone now: named, not written.
    outcome.outside = sorted(
        name for name in repo.lines("ls-tree", "-z", "--name-only", tree)
        if name not in services and not os.path.lexists(root / name)
    )
    outcome.backup_commit = chosen.commit
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
    mine = repo.tree_of(root, None if paths else course.services)  # a path named may lie outside the services
    if against == "start":
        left, right, names = base, mine, (f"start of step {step.number}", "your files")
    else:
        left, right, names = mine, after, ("your files", f"after step {step.number}")
    args = ["diff", "--no-color", "--no-ext-diff", "--no-renames"]
    args += ["--stat=1000"] if stat else []  # wide enough that git never shortens a path; the CLI fits the bars
    text = repo.run(*args, left, right, "--", *(paths or course.services))  # files outside the services are not the course's
    return Diff(text=text, left=names[0], right=names[1])


__all__ = ["Diff", "GitFailed", "Outcome", "diff", "recover", "reset_to_step", "restore", "solve_step"]
