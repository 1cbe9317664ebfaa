"""The expected errors of the runner, and the one place that decides exit codes.

Core code raises WorkshopError (or a subclass) with a one-line message that names the next command to run.
The CLI turns it into a red line and `exit_code`; anything unexpected becomes exit 3 with the traceback in a log file.
"""

from __future__ import annotations

import os
from pathlib import Path

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CRASH = 3
EXIT_INTERRUPTED = 130


class WorkshopError(Exception):
    """An error the learner can act on: a one-line message naming the next command, exit 1."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, *, detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail  # optional extra lines (a log tail, a list of files), shown under the message


class BadInput(WorkshopError):
    """A value the learner typed is out of range or unknown (exit 2, like a usage error)."""

    exit_code = EXIT_USAGE


class NotAWorkspace(WorkshopError):
    """No workspace at or above the folder."""


class StateError(WorkshopError):
    """The progress file is unreadable or was written by something else."""


class CourseError(WorkshopError):
    """The course files (steps/course.toml and friends) are invalid: an author's error."""


def workshop_home() -> Path:
    """Per-user folder for logs, caches and the emulator when no workspace is in use ($WORKSHOP_HOME overrides)."""
    if env := os.environ.get("WORKSHOP_HOME"):
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "workshop"


def write_crash_log(exc: BaseException) -> Path:
    """Write the traceback of an unexpected error to a log file and return its path."""
    import datetime as _dt
    import traceback

    folder = workshop_home() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    path = folder / f"crash-{stamp}.log"
    path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    return path
