"""Backups do not pile up forever: keep the newest KEEP and every one younger than DAYS, delete the rest."""

from __future__ import annotations

import datetime as _dt

from workshop.checkpoints.backups import Backup, list_all
from workshop.checkpoints.repo import Repo

KEEP = 50
DAYS = 30


def _age_days(backup: Backup, now: _dt.datetime) -> float | None:
    try:
        created = _dt.datetime.fromisoformat(backup.created)
    except ValueError:
        return None  # unreadable: never pruned
    if created.tzinfo is None:
        created = created.replace(tzinfo=_dt.UTC)
    return (now - created).total_seconds() / 86400


def to_prune(backups: list[Backup], *, keep: int = KEEP, days: int = DAYS, now: _dt.datetime | None = None) -> list[Backup]:
    """The backups beyond the newest `keep` that are also older than `days` (oldest first, as listed)."""
    now = now or _dt.datetime.now(_dt.UTC)
    older = backups[: max(0, len(backups) - keep)]
    return [b for b in older if (age := _age_days(b, now)) is not None and age > days]


def prune(repo: Repo, *, keep: int = KEEP, days: int = DAYS, now: _dt.datetime | None = None) -> list[Backup]:
    """Delete the backups `to_prune` names (their refs; git collects the objects later); returns them."""
    gone = to_prune(list_all(repo), keep=keep, days=days, now=now)
    for backup in gone:
        repo.run("update-ref", "-d", backup.ref, backup.commit)
    return gone


def newest(repo: Repo) -> Backup | None:
    found = list_all(repo)
    return found[-1] if found else None
