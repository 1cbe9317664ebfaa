"""The live half of `workshop dev check`: on a fresh embedded emulator, every step's checks FAIL at its start and
PASS after its solution and deploys (walking the module in order, which replays the deploys across services)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from workshop import emulator
from workshop.checkpoints import build as checkpoints
from workshop.checkpoints import refs
from workshop.checks import runner as verify
from workshop.course.model import Course
from workshop.deploy import osls as deploy
from workshop.deploy import replay, targets
from workshop.deploy.targets import Target


def check_steps(course: Course, on_step: Callable[[verify.DevStep], None] = lambda _s: None) -> list[verify.DevStep]:
    """Run the fail-at-start / pass-after rule for every step; the emulator and files live in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="workshop-dev-check-") as tmp:
        base = Path(tmp)
        ws = base / "workspace"
        checkpoints.create_workspace(ws, course)
        info = emulator.start(base / "emulator")
        try:
            target = Target("local")
            exports: dict[int, Path] = {}

            def after(number: int) -> Path:
                """The files as they are after step `number` (-1: the start)."""
                if number not in exports:
                    ref = (refs.start_ref(course, course.steps[0]) if number < 0
                           else f"checkpoint/{course.steps[number].slug}")
                    exports[number] = replay.export(ws, ref, base / f"after-{number:02d}")
                return exports[number]

            def deploy_service(root: Path, service: str) -> None:
                deploy.run_osls(ws, target, service, "deploy", root / service, endpoint=info.endpoint)

            def connect(_root: Path, chosen: Target):
                return targets.boto3_session(chosen, endpoint=info.endpoint)

            return verify.dev_check_steps(course, target, after, deploy_service, connect=connect,
                                          on_step=lambda done, _ctx: on_step(done))
        finally:
            emulator.stop(base / "emulator")
