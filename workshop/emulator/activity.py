"""Tracks requests and background deliveries so the state is saved only while nothing is changing it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class Activity:
    """Counts running work; `quiet()` holds new work back while the state is written."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self.dirty = False

    @contextlib.contextmanager
    def busy(self, changes: bool = True) -> Iterator[None]:
        with self._cond:  # blocks only while a save is in progress
            self._active += 1
            self.dirty = self.dirty or changes
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def quiet(self, timeout: float) -> Iterator[bool]:
        """Wait (bounded) until no work runs, then keep new work out; yields whether it got quiet."""
        with self._cond:
            calm = self._cond.wait_for(lambda: self._active == 0, timeout=timeout)
            yield calm


activity = Activity()
