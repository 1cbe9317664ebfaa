"""A class on one emulator: learner stages deployed at chosen steps by replaying checkpoint exports (never by hand)."""

from __future__ import annotations

import time
from pathlib import Path


def class_workspace(root: Path):
    """A workspace built by the runner's own init (its checkpoint refs are what the replay exports)."""
    from workshop.checkpoints import build
    from workshop.course import model as course

    loaded = course.load()
    build.create_workspace(root, loaded)
    return loaded


def deploy_at(root: Path, course, stage: str, number: int) -> float:
    """Make `stage` hold what it holds after step `number`: every deploy of steps <= number, from their checkpoints,
    in the module's order (workshop/deploy/replay.py through rollout's osls runner). Returns the seconds it took."""
    from workshop.deploy import replay, rollout
    from workshop.deploy.targets import Target

    started = time.monotonic()
    rctx = rollout.Context.open(root, Target("local", stage=stage))
    steps = [s for s in course.steps if s.number <= number and s.deploys]
    replay.replay_until(steps, root, stage, lambda service, folder, why: rctx.osls(service, "deploy", folder, why), lambda: False)
    return time.monotonic() - started
