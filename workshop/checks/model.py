"""What a check is and what it answers: the model shared by the registry, the families and `workshop verify`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workshop.deploy.service_file import shown

FAMILIES = ("static", "live", "behaviour")
RESULTS = ("pass", "fail", "error", "pending")


@dataclass(frozen=True)
class Check:
    """One check: what it proves, where it looks, which AWS calls it may make."""

    id: str
    title: str
    service: str  # a service folder, or "both"
    family: str  # static / live / behaviour
    run: str  # "module:function" inside workshop.checks, imported when the check runs
    calls: tuple[str, ...] = ()  # AWS API calls it may make, as "signing-name:Operation" (e.g. "lambda:GetFunction")
    holds_at_end: bool = True  # must still pass when the module is finished
    writes: bool = False  # changes the account (test rides, a poison ride): only behaviour checks may
    reference: str = ""


@dataclass
class Result:
    """A check's answer. `fix` names the edit or the command; `data` is kept in state, never shown."""

    result: str  # one of RESULTS
    observed: str = ""
    expected: str = ""
    fix: str = ""
    reference: str = ""
    seconds: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A value read from serverless.yml carries the stage as an internal placeholder (a NUL-framed word): every
        # message shows it as the learner writes it, whichever check built the message.
        for name in ("observed", "expected", "fix"):
            text = getattr(self, name)
            if isinstance(text, str) and "\x00" in text:
                setattr(self, name, shown(text))

    @property
    def passed(self) -> bool:
        return self.result == "pass"


def passed(observed: str, expected: str = "", **data: Any) -> Result:
    return Result("pass", observed, expected, data=data)


def failed(observed: str, expected: str, fix: str, **data: Any) -> Result:
    return Result("fail", observed, expected, fix, data=data)


def pending(observed: str, expected: str, fix: str, **data: Any) -> Result:
    return Result("pending", observed, expected, fix, data=data)


def errored(observed: str, fix: str) -> Result:
    return Result("error", observed, "", fix)


@dataclass
class Running:
    """A check running now (for a progress line): its id, when it started, and what it waits for until when."""

    check: str
    started: float
    until: float | None = None
    what: str = ""


_running: dict[int, Running] = {}
_running_lock = threading.Lock()


def start_running(check_id: str, started: float) -> None:
    with _running_lock:
        _running[threading.get_ident()] = Running(check_id, started)


def stop_running() -> None:
    with _running_lock:
        _running.pop(threading.get_ident(), None)


def running() -> list[Running]:
    """The checks running now on any thread, oldest first (a spinner reads this; checks never print)."""
    with _running_lock:
        return sorted((Running(r.check, r.started, r.until, r.what) for r in _running.values()), key=lambda r: r.started)


def waiting(until: float, what: str) -> None:
    """Say that the check on this thread now waits for `what` until `until` (time.monotonic), for a countdown."""
    with _running_lock:
        entry = _running.get(threading.get_ident())
        if entry is not None:
            entry.until, entry.what = until, what


class Problem(Exception):
    """Raised inside a check to end it with `result` (lets helpers stop a check from deep down)."""

    def __init__(self, result: Result):
        super().__init__(result.observed)
        self.result = result


class Context:
    """What a check sees: the workspace, the target, an AWS session made on first use, and a per-run memo."""

    def __init__(self, root: Path, target: Any, *, wait: bool = False, connect: Callable[..., Any] | None = None,
                 history: dict[str, Any] | None = None, course_root: Path | None = None):
        self.root, self.target, self.wait = Path(root), target, wait
        self.history = history or {}  # step id -> last_verify, for comparing latencies with earlier steps
        self.course_root = course_root
        self.running: frozenset[str] = frozenset()  # the ids of the checks of the current run (set by the runner)
        self._connect = connect
        self._lock = threading.Lock()
        self._memo: dict[Any, Any] = {}
        self._memo_locks: dict[Any, threading.Lock] = {}
        self._session = None
        self._clients: dict[str, Any] = {}

    def service_dir(self, service: str) -> Path:
        return self.root / service

    def step_ref(self, step_id: str) -> str:
        """`step 8`: a step named by its id, numbered as the course numbers it (fix texts never hard-code numbers)."""
        from workshop.course import model

        step = model.load(self.course_root).by_id(step_id)
        return f"step {step.number}" if step is not None else f"step {step_id!r}"

    @property
    def session(self):
        with self._lock:
            if self._session is None:
                from workshop.deploy import targets

                self._session = (self._connect or targets.connect)(self.root, self.target)
            return self._session

    @property
    def endpoint(self) -> str | None:
        return getattr(self.session, "endpoint", None)

    def client(self, name: str, region: str | None = None):
        """A client made once per run (clients are thread-safe; making them is not)."""
        session = self.session
        key = (name, region)
        with self._lock:
            if key not in self._clients:
                from workshop.deploy import targets

                if region and region != self.target.region:
                    from dataclasses import replace

                    other = (self._connect or targets.connect)(self.root, replace(self.target, region=region))
                    self._clients[key] = targets.client(other, name)
                else:
                    self._clients[key] = targets.client(session, name)
            return self._clients[key]

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        """compute() once per run for `key`, even when several checks ask at the same time; exceptions are kept too."""
        with self._lock:
            lock = self._memo_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._memo:
                try:
                    self._memo[key] = (True, compute())
                except Exception as exc:  # noqa: BLE001 - replayed to every check that asks
                    self._memo[key] = (False, exc)
            ok, value = self._memo[key]
        if not ok:
            raise value
        return value
