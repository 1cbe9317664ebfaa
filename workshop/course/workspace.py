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

from workshop.course import paths
from workshop.errors import NotAWorkspace, StateError

STATE_DIR = paths.STATE_DIR
STATE_FORMAT = 1
# Never part of backups or resets: progress, logs, osls caches, build output.
IGNORED = (f"{paths.STATE_DIR}/", ".serverless/", "__pycache__/", "node_modules/", ".pytest_cache/", "*.pyc")

STEP_STATES = ("verified", "skipped", "not yet")


def now() -> str:
    """The current time in UTC, ISO 8601, as state and backups store it."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def locate(explicit: Path | None = None, start: Path | None = None) -> Path | None:
    """The workspace root: `explicit` if it is one, else the nearest folder at or above `start` holding `.workshop/`."""
    if explicit is not None:
        try:
            root = Path(explicit).expanduser().resolve()
            return root if paths.state_dir(root).is_dir() else None
        except (OSError, ValueError):  # a NUL byte, a name too long: not a workspace, whatever it is
            return None
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        # exists, not is_file: a progress file damaged into a folder still marks the workspace (load_state explains)
        if paths.state_file(folder).exists():
            return folder
    return None


def require(explicit: Path | None = None, start: Path | None = None) -> Path:
    """Like `locate`, but a missing workspace is an error that says how to make one."""
    root = locate(explicit, start)
    if root is None:
        where = Path(explicit).expanduser() if explicit is not None else (start or Path.cwd())
        check_state_dir(where)
        raise NotAWorkspace(
            f"No workshop workspace at {where}. Run `workshop init DIR` to create one, "
            "or pass `--workspace DIR` / cd into an existing one."
        )
    return root


def check_state_dir(root: Path) -> None:
    """A `.workshop` that is a file (not the runner's folder) is an error naming how to get past it."""
    folder = Path(root) / STATE_DIR
    try:
        is_file = folder.exists() and not folder.is_dir()
    except (OSError, ValueError):
        return
    if is_file:
        raise StateError(
            f"{folder} is a file, not the workshop's folder. Move it away (`mv {folder} {folder}.old`), "
            f"then run `workshop init {Path(root)}` (your other files are untouched)."
        )


@dataclass
class StepProgress:
    """What the runner remembers of one step."""

    state: str = "not yet"  # one of STEP_STATES
    hints_revealed: int = 0
    verified_at: str | None = None
    verified_on: str | None = None  # the fingerprint of the files (and deploys) the mark was earned on
    last_verify: dict[str, Any] | None = None  # {"passed": bool, "at": iso, "checks": {id: result}}
    started_at: str | None = None  # when the step first became the current one (for the time status shows)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_json(cls, data: Any) -> StepProgress:
        if not isinstance(data, dict):
            raise ValueError(f"a step's progress is {type(data).__name__}, not an object")
        state = data.get("state", "not yet")
        if not isinstance(state, str) or state not in STEP_STATES:
            raise ValueError(f"unknown step state {state!r}")
        hints = data.get("hints_revealed", 0)
        if isinstance(hints, bool) or not isinstance(hints, int) or hints < 0:
            raise ValueError(f"'hints_revealed' is {hints!r}, not a count")
        verified_at, last_verify = data.get("verified_at"), data.get("last_verify")
        if verified_at is not None and not isinstance(verified_at, str):
            raise ValueError("'verified_at' is not a time")
        if last_verify is not None and not (isinstance(last_verify, dict) and isinstance(last_verify.get("checks", {}), dict)):
            raise ValueError("'last_verify' is not an object of check results")
        verified_on = data.get("verified_on")
        if verified_on is not None and not isinstance(verified_on, str):
            raise ValueError("'verified_on' is not a fingerprint")
        started_at = data.get("started_at")
        if started_at is not None and not isinstance(started_at, str):
            raise ValueError("'started_at' is not a time")
        return cls(state=state, hints_revealed=hints, verified_at=verified_at, verified_on=verified_on, last_verify=last_verify,
                   started_at=started_at)


@dataclass
class State:
    """The progress file's content."""

    course_version: str
    current: str
    created: str = field(default_factory=now)
    steps: dict[str, StepProgress] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)  # name, stage, region, profile (the targets module owns it)
    deploys: dict[str, dict[str, Any]] = field(default_factory=dict)  # service -> {"files", "target", "at"} of its last deploy
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
            **({"deploys": self.deploys} if self.deploys else {}),
        }

    @classmethod
    def from_json(cls, data: Any) -> State:
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise ValueError("not a workshop progress file (format 1)")
        known = {"format", "course_version", "current", "created", "steps", "target", "deploys"}
        steps = data.get("steps", {})
        if not isinstance(steps, dict):
            raise ValueError("'steps' is not an object")
        for key in ("course_version", "current"):
            if not isinstance(data.get(key), str):
                raise ValueError(f"{key!r} is missing or not text")
        target = data.get("target") or {}
        if not valid_target(target):
            raise ValueError("'target' is not an object of names (name, stage, region, profile)")
        return cls(
            course_version=data["course_version"],
            current=data["current"],
            created=str(data.get("created", now())),
            steps={str(k): StepProgress.from_json(v) for k, v in steps.items()},
            target=dict(target),
            deploys=_deploys(data.get("deploys")),
            extra={k: v for k, v in data.items() if k not in known},
        )


TARGET_TEXT_KEYS = ("name", "stage", "region", "profile", "confirmed")  # what deploy reads: text or absent


def valid_target(target: Any) -> bool:
    """The stored target is an object whose known keys hold text (the deploy targets module checks what they say)."""
    return isinstance(target, dict) and all(isinstance(target.get(k, ""), str) for k in TARGET_TEXT_KEYS)


def _deploys(value: Any) -> dict[str, dict[str, Any]]:
    """The deploy records kept in the progress file; anything else there is dropped (they are a cache)."""
    if not isinstance(value, dict):
        return {}
    return {str(k): dict(v) for k, v in value.items() if isinstance(v, dict)}


def state_path(root: Path) -> Path:
    """Where a workspace keeps its progress."""
    return paths.state_file(root)


REPAIR_HINT = "Run `workshop status --repair` to rebuild it (your files are untouched)."


def load_state(root: Path) -> State:
    """Read the progress file; a damaged or foreign one is a StateError naming the repair command."""
    path = state_path(root)
    check_state_dir(root)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise StateError(f"The progress file {path} is missing. {REPAIR_HINT}") from None
    except IsADirectoryError:
        raise StateError(f"The progress file {path} is a folder, not a file. {REPAIR_HINT}") from None
    except OSError as exc:
        raise StateError(f"The progress file {path} cannot be read ({exc.strerror}). {REPAIR_HINT}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise StateError(f"The progress file {path} is not UTF-8 text. {REPAIR_HINT}") from None
    except json.JSONDecodeError as exc:
        raise StateError(f"The progress file {path} is not valid JSON (line {exc.lineno}). {REPAIR_HINT}") from None
    except RecursionError:
        raise StateError(f"The progress file {path} is nested too deeply to be a progress file. {REPAIR_HINT}") from None
    try:
        return State.from_json(data)
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
    check_state_dir(root)
    paths.logs_dir(root).mkdir(parents=True, exist_ok=True)
    path = state_path(root)
    if path.exists():
        return load_state(root)
    state = State(course_version=course_version, current=first_step)
    save_state(root, state)
    return state


def needs_repair(root: Path) -> str | None:
    """Why the progress file needs `workshop status --repair`, or None when it loads."""
    try:
        load_state(root)
    except StateError as exc:
        return exc.message
    return None


def repair(root: Path, course_version: str, step_ids: list[str]) -> tuple[State, Path | None]:
    """Rebuild a damaged progress file, keeping what can be read; the old file is kept beside it.

    A healthy file is left as it is (returned with no kept path): repairing is never a way to lose progress."""
    check_state_dir(root)
    path = state_path(root)
    if needs_repair(root) is None:
        return load_state(root), None
    kept: Path | None = None
    salvaged: dict[str, Any] = {}
    if path.exists():
        try:
            data = json.loads(path.read_bytes().decode("utf-8", errors="replace"))
            salvaged = data if isinstance(data, dict) else {}
        except (OSError, ValueError, RecursionError):  # a folder, unreadable, not JSON, nested too deeply
            salvaged = {}
        kept = path.with_name(f"state.json.damaged-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S-%f')}")
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
    target = salvaged.get("target")
    if isinstance(target, dict):  # known keys only as text: `{"region": 5}` would stop every deploy again
        state.target = {str(k): v for k, v in target.items() if k not in TARGET_TEXT_KEYS or isinstance(v, str)}
    state.deploys = _deploys(salvaged.get("deploys"))
    paths.state_dir(root).mkdir(parents=True, exist_ok=True)
    save_state(root, state)
    return state, kept
