"""Git's own files, read and written in-process exactly as git does: refs, loose objects, the index, its tree.

Each git subprocess costs ~5-10 ms from Python, and a reset needs several; these functions do the simple cases
without one and answer None (or leave it to the caller's git call) for anything unusual: packed objects, unmerged
or flagged index entries, index formats other than v2/v3, SHA-256 repositories.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import tempfile
import zlib
from pathlib import Path

_HEX40 = re.compile(r"[0-9a-f]{40}")


def resolve(git_dir: Path, name: str) -> str | None:
    """HEAD, a full ref name or an object id, each optionally `^{tree}` of a loose commit, read from git's files.

    None whenever git should answer instead (anything else, packed objects, unusual contents).
    """
    ref, tree = (name[:-7], True) if name.endswith("^{tree}") else (name, False)
    for _ in range(5):  # a symbolic ref (HEAD: `ref: refs/heads/main`) names the next one
        if _HEX40.fullmatch(ref):
            break
        if ref != "HEAD" and not ref.startswith("refs/") or ".." in ref:
            return None
        try:
            ref = (git_dir / ref).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            ref = packed_refs(git_dir).get(ref, "")
        ref = ref[5:] if ref.startswith("ref: ") else ref
    if not _HEX40.fullmatch(ref) or not tree:
        return ref if _HEX40.fullmatch(ref) else None
    try:
        data = zlib.decompress((git_dir / "objects" / ref[:2] / ref[2:]).read_bytes())
    except (OSError, zlib.error):
        return None
    header, _, body = data.partition(b"\0")
    found = body[5:45].decode("ascii", "replace") if header.startswith(b"commit ") and body[:5] == b"tree " else ""
    return found if _HEX40.fullmatch(found) else None

def packed_refs(git_dir: Path) -> dict[str, str]:
    """Ref name -> object id, as `git pack-refs` left them in `.git/packed-refs`."""
    try:
        text = (git_dir / "packed-refs").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    return {line[41:]: line[:40] for line in text.splitlines() if line[40:41] == " " and _HEX40.fullmatch(line[:40])}


def store(git_dir: Path, kind: bytes, data: bytes) -> bytes:
    """Write one loose SHA-1 object as git does (temp file in its folder, read-only, renamed); its binary id."""
    raw = b"%s %d\0%s" % (kind, len(data), data)
    sha = hashlib.sha1(raw).digest()
    path = git_dir / "objects" / sha[:1].hex() / sha[1:].hex()
    if not path.is_file():  # objects are immutable: one already there (same id) is the same bytes
        path.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="tmp_obj_", dir=path.parent)  # the name git's gc cleans up if left behind
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(zlib.compress(raw))
            os.chmod(tmp, 0o444)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return sha

def sha1_objects(git_dir: Path) -> bool:
    """False when the repository names objects another way (SHA-256): then only git writes or parses them."""
    try:
        config = (git_dir / "config").read_text(encoding="utf-8", errors="replace").lower()
    except OSError:
        config = ""
    return "objectformat" not in config


def index_tree(git_dir: Path, index: Path) -> str | None:
    """`git write-tree` of a SHA-1 repository's index, in-process (None when git must do it: unmerged or flagged
    entries, other index formats)."""
    parsed = _parse_index(index)
    if parsed is None or not parsed[1]:
        return None
    root: dict = {}
    for path, entry in parsed[0].items():
        *folders, name = path.encode("utf-8", "surrogateescape").split(b"/")
        node = root
        for folder in folders:
            node = node.setdefault(folder, {})
            if not isinstance(node, dict):
                return None  # a file and a folder of the same name: not an index git wrote
        if isinstance(node.get(name), dict):
            return None
        node[name] = entry

    def write(node: dict) -> bytes:
        rows = []  # git sorts a tree's entries by name bytes, a folder's name as if it ended in "/"
        for name, value in node.items():
            if isinstance(value, dict):
                rows.append((name + b"/", b"40000 " + name + b"\0" + write(value)))
            else:
                rows.append((name, b"%o " % value[0] + name + b"\0" + value[1]))
        return store(git_dir, b"tree", b"".join(row for _, row in sorted(rows)))

    return write(root).hex()


def _parse_index(index: Path) -> tuple[dict[str, tuple[int, bytes]], bool] | None:
    """(stage-0 entries path -> (mode, sha), True when every entry is a plain stage-0 one); None for formats but v2/v3."""
    try:
        data = index.read_bytes()
    except FileNotFoundError:  # no index yet: git reads it as empty
        return None
    if data[:4] != b"DIRC":
        return None
    version, count = struct.unpack(">II", data[4:12])
    if version not in (2, 3):
        return None
    entries, pos, plain = {}, 12, True
    for _ in range(count):
        mode = struct.unpack(">I", data[pos + 24:pos + 28])[0]
        sha = data[pos + 40:pos + 60]
        flags = struct.unpack(">H", data[pos + 60:pos + 62])[0]
        start = pos + 62 + (2 if flags & 0x4000 else 0)
        end = data.index(b"\0", start)
        if (flags >> 12) & 3 == 0:
            entries[data[start:end].decode("utf-8", "surrogateescape")] = (mode, sha)
        plain = plain and flags & 0x7000 == 0  # unmerged, or extended flags (intent-to-add, skip-worktree)
        pos += ((end - pos) // 8 + 1) * 8  # entries are NUL-padded to a multiple of 8 bytes
    while pos + 8 <= len(data) - 20:  # extensions (signature, size, data), then the checksum
        if data[pos:pos + 4] in (b"link", b"sdir"):  # split or sparse index: the entries are not all in this file
            return None
        pos += 8 + struct.unpack(">I", data[pos + 4:pos + 8])[0]
    return entries, plain


def read_index(index: Path) -> dict[str, tuple[int, bytes]] | None:
    """The stage-0 entries of an index file (path -> (mode, sha)), read in-process; None for formats other than v2/v3."""
    parsed = _parse_index(index)
    return parsed[0] if parsed else None


def changed_paths(before: dict | None, after: dict | None) -> list[str] | None:
    """Paths whose content, mode or presence differ between two read_index results (None if either is unknown)."""
    if before is None or after is None:
        return None
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
