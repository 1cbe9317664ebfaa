"""The learner's workspace: where it is and its progress file (`.workshop/state.json`).

The state is a cache: step ids (never positions), revealed hints, verification results. The checks are the truth.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workshop.errors import NotAWorkspace, StateError

STATE_DIR = ".workshop"
STATE_FILE = "state.json"
STATE_FORMAT = 1
# Never part of backups or resets: progress, logs, osls caches, build output.
IGNORED = (".workshop/", ".serverless/", "__pycache__/", "node_modules/", ".pytest_cache/", "*.pyc")

STEP_STATES = ("verified", "skipped", "not yet")


def now() -> str:
    """The current time in UTC, ISO 8601, as state and backups store it."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def locate(explicit: Path | None = None, start: Path | None = None) -> Path | None:
    """The workspace root: `explicit` if it is one, else the nearest folder at or above `start` holding `.workshop/`."""
    if explicit is not None:
        try:
            root = Path(explicit).expanduser().resolve()
            return root if (root / STATE_DIR).is_dir() else None
        except (OSError, ValueError):  # a NUL byte, a name too long: not a workspace, whatever it is
            return None
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / STATE_DIR / STATE_FILE).is_file():
            return folder
    return None


def require(explicit: Path | None = None, start: Path | None = None) -> Path:
    """Like `locate`, but a missing workspace is an error that says how to make one."""
    root = locate(explicit, start)
    if root is None:
        where = Path(explicit).expanduser() if explicit is not None else (start or Path.cwd())
        raise NotAWorkspace(
            f"No workshop workspace at {where}. Run `workshop init DIR` to create one, "
            "or pass `--workspace DIR` / cd into an existing one."
        )
    return root


@dataclass
class StepProgress:
    """What the runner remembers of one step."""

    state: str = "not yet"  # one of STEP_STATES
    hints_revealed: int = 0
    verified_at: str | None = None
    last_verify: dict[str, Any] | None = None  # {"passed": bool, "at": iso, "checks": {id: result}}
    started_at: str | None = None  # when the step first became the current one (for the time status shows)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepProgress:
        state = data.get("state", "not yet")
        if state not in STEP_STATES:
            raise ValueError(f"unknown step state {state!r}")
        return cls(
            state=state,
            hints_revealed=int(data.get("hints_revealed", 0)),
            verified_at=data.get("verified_at"),
            last_verify=data.get("last_verify"),
            started_at=data.get("started_at"),
        )


@dataclass
class State:
    """The progress file's content."""

    course_version: str
    current: str
    created: str = field(default_factory=now)
    steps: dict[str, StepProgress] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)  # name, stage, region, profile (the targets module owns it)
    extra: dict[str, Any] = field(default_factory=dict)  # keys written by newer runners, kept as they are

    def step(self, step_id: str) -> StepProgress:
        """The progress of one step (created on first use)."""
        return self.steps.setdefault(step_id, StepProgress())

    def to_json(self) -> dict[str, Any]:
        return {
            **self.extra,
            "format": STATE_FORMAT,
            "course_version": self.course_version,
            "current": self.current,
            "created": self.created,
            "steps": {k: v.to_json() for k, v in self.steps.items()},
            "target": self.target,
        }

    @classmethod
    def from_json(cls, data: Any) -> State:
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise ValueError("not a workshop progress file (format 1)")
        known = {"format", "course_version", "current", "created", "steps", "target"}
        steps = data.get("steps", {})
        if not isinstance(steps, dict):
            raise ValueError("'steps' is not an object")
        return cls(
            course_version=str(data["course_version"]),
            current=str(data["current"]),
            created=str(data.get("created", now())),
            steps={str(k): StepProgress.from_json(v) for k, v in steps.items()},
            target=dict(data.get("target") or {}),
            extra={k: v for k, v in data.items() if k not in known},
        )


def state_path(root: Path) -> Path:
    """Where a workspace keeps its progress."""
    return root / STATE_DIR / STATE_FILE


REPAIR_HINT = "Run `workshop status --repair` to rebuild it (your files are untouched)."


def load_state(root: Path) -> State:
    """Read the progress file; a damaged or foreign one is a StateError naming the repair command."""
    path = state_path(root)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StateError(f"The progress file {path} is missing. {REPAIR_HINT}") from None
    try:
        return State.from_json(json.loads(raw))
    except json.JSONDecodeError as exc:
        raise StateError(f"The progress file {path} is not valid JSON (line {exc.lineno}). {REPAIR_HINT}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError(f"The progress file {path} was not written by this runner ({exc}). {REPAIR_HINT}") from None


def save_state(root: Path, state: State) -> None:
    """Write the progress file atomically (temp file in the same folder, fsync, rename)."""
    write_atomic(state_path(root), json.dumps(state.to_json(), indent=2, sort_keys=True) + "\n")


def write_atomic(path: Path, data: str | bytes, *, durable: bool = True) -> None:
    """Replace `path` with `data` so a reader sees the old or the new content, never a torn file.

    `durable` also fsyncs the data before the rename, so a power cut cannot leave an empty file behind."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create(root: Path, course_version: str, first_step: str) -> State:
    """Make `root` a workspace with fresh progress (an existing progress file is kept)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / STATE_DIR / "logs").mkdir(parents=True, exist_ok=True)
    path = state_path(root)
    if path.exists():
        return load_state(root)
    state = State(course_version=course_version, current=first_step)
    save_state(root, state)
    return state


def repair(root: Path, course_version: str, step_ids: list[str]) -> tuple[State, Path | None]:
    """Rebuild a damaged progress file, keeping what can be read; the old file is kept beside it."""
    path = state_path(root)
    kept: Path | None = None
    salvaged: dict[str, Any] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            salvaged = data if isinstance(data, dict) else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            salvaged = {}
        kept = path.with_name(f"state.json.damaged-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}")
        os.replace(path, kept)
    current = salvaged.get("current") if salvaged.get("current") in step_ids else step_ids[0]
    state = State(course_version=course_version, current=str(current))
    steps = salvaged.get("steps")
    if isinstance(steps, dict):
        for step_id, value in steps.items():
            if step_id in step_ids and isinstance(value, dict):
                try:
                    state.steps[step_id] = StepProgress.from_json(value)
                except (ValueError, TypeError):
                    continue
    if isinstance(salvaged.get("target"), dict):
        state.target = salvaged["target"]
    root.joinpath(STATE_DIR).mkdir(parents=True, exist_ok=True)
    save_state(root, state)
    return state, kept
