"""Navigation over the course: the current step, moving on and back, hints. Pure functions over Course + State."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from workshop.course import paths, workspace
from workshop.course.model import Course, Step
from workshop.course.workspace import State
from workshop.errors import WorkshopError


@dataclass
class Session:
    """A workspace opened for one command: its root, the course and the progress."""

    root: Path
    course: Course
    state: State

    def current(self) -> Step:
        return self.course.by_id(self.state.current) or self.course.steps[0]

    def save(self) -> None:
        workspace.save_state(self.root, self.state)


def open_session(explicit: Path | None, course: Course) -> Session:
    """Find the workspace, load its progress and bring it in line with this course version."""
    root = workspace.require(explicit)
    state = workspace.load_state(root)
    notes = migrate(state, course)
    session = Session(root, course, state)
    if notes:
        session.save()
    return session


def migrate(state: State, course: Course) -> list[str]:
    """Adapt progress written for another course version: keep known step ids, drop unknown ones."""
    if state.course_version == course.course_version:
        return []
    notes = [f"progress was written for course {state.course_version}; now {course.course_version}"]
    known = {s.id for s in course.steps}
    for step_id in [k for k in state.steps if k not in known]:
        del state.steps[step_id]
        notes.append(f"forgot progress of removed step {step_id!r}")
    if state.current not in known:
        first_open = next((s for s in course.steps if state.step(s.id).state == "not yet"), course.steps[-1])
        notes.append(f"current step {state.current!r} no longer exists; moved to {first_open.id!r}")
        state.current = first_open.id
    state.course_version = course.course_version
    return notes


def step_state(session: Session, step: Step) -> str:
    """verified / skipped / not yet, as status shows it."""
    progress = session.state.steps.get(step.id)
    return progress.state if progress else "not yet"


def move_to(session: Session, step: Step) -> Step:
    """Make `step` the current one (never gated)."""
    session.state.current = step.id
    progress = session.state.step(step.id)
    progress.started_at = progress.started_at or workspace.now()
    session.save()
    return step


def time_spent(session: Session, step: Step, now: str | None = None) -> float | None:
    """Seconds from when the step first became current to its verification (or to now, for the current step)."""
    import datetime as _dt

    progress = session.state.steps.get(step.id)
    first = session.course.steps[0].id == step.id
    started = (progress.started_at if progress else None) or (session.state.created if first else None)
    if started is None:
        return None
    if progress is not None and progress.verified_at:
        end = progress.verified_at
    elif step.id == session.state.current:
        end = now or workspace.now()
    else:
        return None
    try:
        seconds = (_dt.datetime.fromisoformat(end) - _dt.datetime.fromisoformat(started)).total_seconds()
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def module_complete(session: Session) -> bool:
    """Every step verified."""
    return all(step_state(session, s) == "verified" for s in session.course.steps)


def move_next(session: Session, *, force: bool = False) -> tuple[Step, bool]:
    """Move to the following step; returns (new current, finished). `force` records the step as skipped."""
    current = session.current()
    if force and step_state(session, current) != "verified":
        session.state.step(current.id).state = "skipped"
    index = session.course.index(current)
    if index + 1 >= len(session.course.steps):
        session.save()
        return current, True
    return move_to(session, session.course.steps[index + 1]), False


def move_back(session: Session) -> Step:
    """Move to the previous step."""
    index = session.course.index(session.current())
    if index == 0:
        raise WorkshopError("You are at the first step already. Run `workshop show` to read it.")
    return move_to(session, session.course.steps[index - 1])


def reveal_hint(session: Session, step: Step) -> tuple[int, list[str]]:
    """Reveal one more hint of `step`; returns (how many exist, the hints revealed so far)."""
    progress = session.state.step(step.id)
    if progress.hints_revealed < len(step.hints):
        progress.hints_revealed += 1
        session.save()
    return len(step.hints), list(step.hints[: progress.hints_revealed])


# --- a verified mark belongs to the files (and deploys) it was earned on ---

# Folders and files that are build output or caches, never the learner's work (see workspace.IGNORED).
_NOT_WORK_DIRS = frozenset({".serverless", "__pycache__", "node_modules", ".pytest_cache", ".git", paths.STATE_DIR})


def files_fingerprint(root: Path, services: tuple[str, ...] | list[str]) -> str:
    """A hash of every file of the services' folders (names, executable bits and contents; build output left out)."""
    import hashlib

    digest = hashlib.sha256()
    for service in sorted(services):
        folder = root / service
        digest.update(f"service {service}\0".encode())
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if d not in _NOT_WORK_DIRS)
            for name in sorted(filenames):
                if name.endswith(".pyc"):
                    continue
                path = Path(dirpath) / name
                try:
                    data = path.read_bytes()
                    executable = os.access(path, os.X_OK)
                except OSError:
                    continue  # vanished or unreadable while walking: it is not part of the work
                relative = path.relative_to(root).as_posix()
                digest.update(f"{relative}\0{int(executable)}\0{len(data)}\0".encode())
                digest.update(data)
    return digest.hexdigest()[:32]


def step_fingerprint(session: Session, step: Step) -> str:
    """What a step's mark depends on: its services' files, and the last deploy of each service it deploys."""
    import hashlib
    import json

    deploys = {s: session.state.deploys.get(s) for s in step.deploys}
    text = files_fingerprint(session.root, step.services) + json.dumps(deploys, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def mark_verified(session: Session, step: Step, at: str) -> None:
    """Record that `step`'s checks all passed on the files (and deploys) as they are now (saved by the caller)."""
    progress = session.state.step(step.id)
    progress.state, progress.verified_at, progress.verified_on = "verified", at, step_fingerprint(session, step)


def changed_since_verified(session: Session, step: Step) -> bool:
    """True when `step` is marked verified but its files or deploys are no longer those it was verified on."""
    progress = session.state.steps.get(step.id)
    if progress is None or progress.state != "verified":
        return False
    return progress.verified_on != step_fingerprint(session, step)  # a mark from an older runner has none: check again


def forget_from(state: State, step_ids: list[str]) -> None:
    """Take back the verified and skipped marks of these steps (a reset to the first of them); hints stay revealed."""
    for step_id in step_ids:
        progress = state.steps.get(step_id)
        if progress is not None:
            progress.state, progress.verified_at, progress.verified_on = "not yet", None, None


def ids_from(course: Course, step: Step) -> list[str]:
    """The ids of `step` and every later step, in course order."""
    return [s.id for s in course.steps[course.index(step):]]


# --- deploys: which of a step's deploys still has to happen for the files as they are ---

def target_key(target: dict) -> str:
    """`local/dev/us-east-1`: a deploy counts only for the target, stage and region it went to."""
    return "/".join(str(target.get(k, "")) for k in ("name", "stage", "region"))


def record_deploys(session: Session, services: list[str], target: dict) -> None:
    """Remember that these services were deployed, as their files are now, to `target` (a Target's to_json)."""
    for service in services:
        session.state.deploys[service] = {"files": files_fingerprint(session.root, [service]), "target": target_key(target),
                                          "at": workspace.now()}
    session.save()


def deploys_missing(session: Session, step: Step, target: dict) -> list[str]:
    """The step's deploys not yet done for the files as they are now, on this target, in the step's order."""
    missing = []
    for service in step.deploys:
        done = session.state.deploys.get(service) or {}
        if done.get("target") != target_key(target) or done.get("files") != files_fingerprint(session.root, [service]):
            missing.append(service)
    return missing
