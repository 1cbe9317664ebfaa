"""Backups of the learner's files: commits under `refs/workshop/backups/<UTC time>-<reason>`.

A backup commit's tree is the whole working tree (tracked, modified and untracked; the ignored folders never), staged in
a temporary index so the learner's own index is untouched and the save is all-or-nothing (the ref is written last).
Its first parent is HEAD; a second parent, when present, holds the learner's staged index, so nothing staged is lost.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

from workshop.checkpoints.repo import Repo
from workshop.errors import BadInput

PREFIX = "refs/workshop/backups/"
_REASON = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Backup:
    """One saved state of the learner's files."""

    name: str  # the part after refs/workshop/backups/, as `workshop restore NAME` takes it
    created: str  # ISO 8601, UTC
    reason: str
    files: int
    commit: str

    @property
    def ref(self) -> str:
        return PREFIX + self.name

    def to_json(self) -> dict:
        return {"name": self.name, "created": self.created, "reason": self.reason, "files": self.files}


def restore_command(name: str) -> str:
    """The exact command that brings a backup back."""
    return f"workshop restore {name}"


def slug(reason: str) -> str:
    return _REASON.sub("-", reason.lower()).strip("-") or "backup"


def save(repo: Repo, files: int, tree: str, *, reason: str, head: str | None, head_tree: str | None, staged_tree: str | None) -> Backup:
    """Commit `tree` (the working tree: `files` files) as a new backup ref; returns it."""
    now = _dt.datetime.now(_dt.timezone.utc)
    reason = slug(reason)
    name = f"{now:%Y%m%dT%H%M%S.%f}Z-{reason}"
    created = now.isoformat(timespec="seconds")
    parents = [head] if head else []
    if staged_tree and staged_tree not in (head_tree, tree):
        parents.append(repo.write_commit(staged_tree, f"workshop backup {name}: the staged index\n", parents[:1]))
    message = (
        f"workshop backup: {reason}\n\nReason: {reason}\nCreated: {created}\nFiles: {files}\n"
        f"Restore: {restore_command(name)}\n"
    )
    commit = repo.write_commit(tree, message, parents)
    repo.create_ref(PREFIX + name, commit, f"workshop backup {name}")  # the backup exists once this ref does (objects first, ref last)
    return Backup(name=name, created=created, reason=reason, files=files, commit=commit)


def _trailer(message: str, key: str) -> str:
    match = re.search(rf"^{key}: (.*)$", message, re.MULTILINE)
    return match.group(1).strip() if match else ""


def list_all(repo: Repo) -> list[Backup]:
    """Every backup, oldest first (names start with their UTC time)."""
    out = repo.run("for-each-ref", "--format=%(refname)%00%(objectname)%00%(contents)%00%00", PREFIX)
    found = []
    for record in out.split("\0\0"):
        record = record.strip("\n")
        if not record:
            continue
        ref, commit, message = (record.split("\0") + ["", ""])[:3]
        files = _trailer(message, "Files")
        found.append(
            Backup(
                name=ref[len(PREFIX):],
                created=_trailer(message, "Created"),
                reason=_trailer(message, "Reason"),
                files=int(files) if files.isdigit() else 0,
                commit=commit,
            )
        )
    return sorted(found, key=lambda b: b.name)


def find(repo: Repo, name: str) -> Backup:
    """A backup by its full name, its ref, or an unambiguous start of its name."""
    wanted = name.strip()
    if wanted.startswith(PREFIX):
        wanted = wanted[len(PREFIX):]
    backups = list_all(repo)
    exact = [b for b in backups if b.name == wanted]
    matches = exact or [b for b in backups if wanted and b.name.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise BadInput(f"There is no backup named {name!r}. Run `workshop backups` to list them.")
    raise BadInput(f"{name!r} matches {len(matches)} backups; give the full name (see `workshop backups`).")


def trees(repo: Repo, backup: Backup) -> tuple[str, str | None]:
    """(working-tree tree, staged-index tree or None) of a backup."""
    tree = repo.revs(f"{backup.commit}^{{tree}}")[0]
    staged = repo.rev(f"{backup.commit}^2^{{tree}}")
    return tree, staged
