"""The emulator's log file: its stdout and stderr (requests, function runs, state saves)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

from workshop.emulator import files


def log_file(state_dir: Path) -> Path:
    """The emulator's log file (its stdout and stderr)."""
    return Path(state_dir) / files.LOG


def tail_log(state_dir: Path, lines: int) -> list[str]:
    """The last `lines` lines of the emulator's log."""
    path = log_file(state_dir)
    if not path.exists():
        return []
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        chunk = 256 * max(lines, 1)
        while True:  # read back from the end until enough lines are in hand
            begin = max(0, size - chunk)
            handle.seek(begin)
            data = handle.read()
            if begin == 0 or data.count(b"\n") > lines:
                break
            chunk *= 4
    return data.decode("utf-8", "replace").splitlines()[-lines:] if lines > 0 else []


def follow_log(state_dir: Path, poll: float = 0.25) -> Iterator[str]:
    """Yield lines appended to the log from now on, until the caller stops iterating."""
    path = log_file(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=True)
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        handle.seek(0, os.SEEK_END)
        while True:
            line = handle.readline()
            if line:
                yield line.rstrip("\n")
            else:
                time.sleep(poll)
