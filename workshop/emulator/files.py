"""Where the emulator keeps its files inside its state folder, and the small file helpers both sides share."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

INFO = "emulator.json"  # written by the running emulator once it listens; removed on a clean stop
LOG = "emulator.log"  # the emulator's stdout and stderr
STATE = "state.pickle"  # the saved moto backends
PORTS = "ports.json"  # the ports of the last run, tried first at the next start
LOCK = "launch.lock"  # serialises start/stop between concurrent callers

EXIT_PORT_IN_USE = 98  # the emulator's exit code when its requested port is taken


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to a temp file in the same folder and move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, or None when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
