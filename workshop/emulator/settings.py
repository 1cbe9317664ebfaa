"""What the patched moto inside the emulator process needs to know about its own emulator (set once at start)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    port: int
    https_port: int
    ca_file: Path
    retry_delays: tuple[float, ...] = (0.5, 1.0)  # AWS waits ~1 and ~2 minutes between async attempts; keep the count

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


_current: Settings | None = None


def configure(settings: Settings) -> None:
    global _current
    _current = settings


def current() -> Settings:
    if _current is None:
        raise RuntimeError("the emulator settings are read before the server configured them")
    return _current


def retry_delays_from_env() -> tuple[float, ...]:
    """Seconds between asynchronous attempts ($WORKSHOP_EMULATOR_RETRY_DELAYS, comma separated)."""
    raw = os.environ.get("WORKSHOP_EMULATOR_RETRY_DELAYS")
    if not raw:
        return Settings.retry_delays
    return tuple(float(part) for part in raw.split(","))
