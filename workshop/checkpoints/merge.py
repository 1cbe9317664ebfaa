"""The three-way merge behind `workshop solve`: the step's change (start of step -> after step) onto the learner's files.

Computed entirely in the object store and a private index (no file of the learner is touched here); the result is a
tree that operations.py then writes out like any other target. Conflicts keep both sides with standard markers.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from workshop.checkpoints.repo import Repo

ZERO = "0" * 40
REGULAR = ("100644", "100755")


@dataclass(frozen=True)
class Entry:
    mode: str
    sha: str


def _tree_entries(repo: Repo, tree: str, paths: list[str]) -> dict[str, Entry]:
    """The entries of `tree` at `paths` (the whole listing is read: no pathspec, so no name is taken as a glob)."""
    wanted = set(paths)
    found = {}
    for line in repo.lines("ls-tree", "-r", "-z", "--full-tree", tree):
        meta, path = line.split("\t", 1)
        if path in wanted:
            mode, _, sha = meta.split()
            found[path] = Entry(mode, sha)
    return found


def _changes(repo: Repo, base: str, theirs: str) -> list[str]:
    return repo.lines("diff-tree", "-r", "-z", "--name-only", "--no-renames", base, theirs)


def _blobs(repo: Repo, shas: set[str]) -> dict[str, bytes]:
    """Read several blobs with one `cat-file --batch`."""
    if not shas:
        return {}
    order = sorted(shas)
    out = repo.run("cat-file", "--batch", stdin=("\n".join(order) + "\n").encode(), binary=True)
    blobs, pos = {}, 0
    for sha in order:
        end = out.index(b"\n", pos)
        _, _, size = out[pos:end].split()
        start = end + 1
        blobs[sha] = out[start:start + int(size)]
        pos = start + int(size) + 1
    return blobs


def three_way(repo: Repo, index: Path, ours: str, base: str, theirs: str, *, labels: tuple[str, str, str]) -> tuple[str, list[str]]:
    """Merge base->theirs onto `ours` (a tree staged in `index`, left untouched); returns (result tree, conflicted paths)."""
    paths = _changes(repo, base, theirs)
    if not paths:
        return ours, []
    b, t, o = (_tree_entries(repo, tree, paths) for tree in (base, theirs, ours))
    updates: list[str] = []
    to_merge: list[tuple[str, Entry, Entry | None, Entry]] = []
    conflicts: list[str] = []
    for path in paths:
        mine, old, new = o.get(path), b.get(path), t.get(path)
        if mine == old:
            updates.append(f"{new.mode} {new.sha}\t{path}" if new else f"0 {ZERO}\t{path}")
        elif mine == new:
            continue
        elif mine and new and mine.mode in REGULAR and new.mode in REGULAR:
            to_merge.append((path, mine, old if old and old.mode in REGULAR else None, new))
        else:
            conflicts.append(path)  # deleted on one side, changed on the other: the learner's version stays
    if to_merge:
        updates += _merge_files(repo, to_merge, labels, conflicts)
    if not updates:
        return ours, sorted(conflicts)
    with tempfile.TemporaryDirectory(dir=repo.temp_dir()) as scratch:
        work_index = Path(scratch) / "index"
        shutil.copyfile(index, work_index)
        repo.run("update-index", "--index-info", index=work_index, stdin=("\n".join(updates) + "\n").encode("utf-8"))
        tree = repo.run("write-tree", index=work_index).strip()
    return tree, sorted(conflicts)


def _merge_files(repo: Repo, items, labels: tuple[str, str, str], conflicts: list[str]) -> list[str]:
    """`git merge-file` on each text file; the merged (possibly conflicted) content is written as a new blob."""
    blobs = _blobs(repo, {e.sha for _, mine, old, new in items for e in (mine, old, new) if e})
    updates = []
    with tempfile.TemporaryDirectory(dir=repo.temp_dir()) as scratch:
        folder = Path(scratch)
        merged_paths = []
        for number, (path, mine, old, new) in enumerate(items):
            files = []
            for side, entry in (("ours", mine), ("base", old), ("theirs", new)):
                target = folder / f"{number}.{side}"
                target.write_bytes(blobs[entry.sha] if entry else b"")
                files.append(str(target))
            if any(b"\0" in blobs[e.sha][:8000] for e in (mine, old, new) if e):
                conflicts.append(path)  # binary on some side: keep the learner's file
                continue
            status, _, _ = repo.call("merge-file", "-L", labels[0], "-L", labels[1], "-L", labels[2], *files)
            if status:
                conflicts.append(path)
            mode = new.mode if old is None or mine.mode == old.mode else mine.mode
            merged_paths.append((path, mode, files[0]))
        if merged_paths:
            shas = repo.run("hash-object", "-w", "--no-filters", "--stdin-paths", stdin=("\n".join(p for _, _, p in merged_paths) + "\n").encode()).split()
            updates = [f"{mode} {sha}\t{path}" for (path, mode, _), sha in zip(merged_paths, shas)]
    return updates

