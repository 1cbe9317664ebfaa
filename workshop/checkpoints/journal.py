"""The operation journal (`.workshop/journal.json`): what a file-replacing command intends, written before it starts.

A command writes its intent atomically, advances the phase as it goes and clears the journal when done. If it is killed
half-way (SIGKILL, power loss), the next command finds the journal and finishes or rolls back the operation
(checkpoints.recover decides which). Tests kill a command at a named point with $WORKSHOP_TEST_KILL_AT.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workshop.course import paths, workspace
KILL_ENV = "WORKSHOP_TEST_KILL_AT"


def process_start(pid: int) -> str:
    """When process `pid` started (clock ticks since boot, from /proc); "" when unknown. With the pid it names one
    process: a pid the system gave again to another program has another start time."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[19]
    except (OSError, IndexError):
        return ""


@dataclass
class Entry:
    """One operation in flight."""

    op: str  # reset / solve / restore
    phase: str  # saving -> applying (the only phase in which files change) -> done
    pid: int = field(default_factory=os.getpid)
    started: str = field(default_factory=workspace.now)
    data: dict[str, Any] = field(default_factory=dict)
    pid_start: str = field(default_factory=lambda: process_start(os.getpid()))


def path(root: Path) -> Path:
    return paths.journal_file(root)


def pending(root: Path) -> Entry | None:
    """The operation a previous command left unfinished, if any (an unreadable journal counts as one)."""
    try:
        raw = json.loads(path(root).read_text(encoding="utf-8"))
        return Entry(op=str(raw["op"]), phase=str(raw["phase"]), pid=int(raw["pid"]), started=str(raw["started"]),
                     data=dict(raw["data"]), pid_start=str(raw.get("pid_start", "")))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError, OSError):
        return Entry(op="unknown", phase="unknown", pid=0, data={}, pid_start="")


def write(root: Path, entry: Entry, *, durable: bool = True) -> Entry:
    """Record `entry` atomically (a reader sees the previous phase or this one, never a torn file)."""
    workspace.write_atomic(path(root), json.dumps(asdict(entry), indent=2, sort_keys=True) + "\n", durable=durable)
    return entry


def begin(root: Path, op: str, **data: Any) -> Entry:
    """Write the intent of `op` before anything is changed. Not fsynced: until `advance(..., "applying")`, which is,
    no file has changed, so a power cut that loses this entry loses nothing else (a SIGKILL never loses it)."""
    entry = write(root, Entry(op=op, phase="saving", data=data), durable=False)
    kill_point(f"{op}:begun")
    return entry


def advance(root: Path, entry: Entry, phase: str, **data: Any) -> Entry:
    """Move `entry` to `phase`, adding what the next command needs to finish it."""
    entry.phase = phase
    entry.data.update(data)
    write(root, entry)
    kill_point(f"{entry.op}:{phase}")
    return entry


def clear(root: Path) -> None:
    """The operation is complete (or undone)."""
    path(root).unlink(missing_ok=True)


def running_elsewhere(entry: Entry) -> bool:
    """True when the process that wrote `entry` is still alive (another command is running).

    The pid alone is not enough: after a kill the system may give it to another program. The journal names the process
    by its pid and start time; a journal without a start time counts only if the live process is a workshop command
    (its command line names workshop, as the emulator's launcher checks its server)."""
    if entry.pid <= 0 or entry.pid == os.getpid():
        return False
    try:
        os.kill(entry.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if not _not_zombie(entry.pid):
        return False
    started = process_start(entry.pid)
    if entry.pid_start and started:
        return started == entry.pid_start
    try:
        cmdline = Path(f"/proc/{entry.pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the pid
    return b"workshop" in cmdline


def _not_zombie(pid: int) -> bool:
    """A killed child not yet reaped by its parent still answers kill(0); /proc tells them apart on Linux."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def kill_point(name: str) -> None:
    """Test hook: die here, at once and without cleanup, when $WORKSHOP_TEST_KILL_AT names this point."""
    if os.environ.get(KILL_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
