"""The live half of `workshop dev check`: on a fresh embedded emulator, every step's checks FAIL at its start and
PASS after its solution and deploys (walking the module in order, which replays the deploys across services); and each
live case of steps/cases/ is deployed on top of its step's deploys, judged, then the step's own files redeployed."""

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
from workshop.errors import WorkshopError
from workshop.instructor import devcheck_cases


def check_steps(course: Course, on_item: Callable) -> None:
    """Run the fail-at-start / pass-after rule for every step and the live cases; the emulator and files live in a
    temporary folder. `on_item(name, ok, detail)` is called once per step and per live case."""

    cases = [c for c in devcheck_cases.load(course) if c.live]
    with tempfile.TemporaryDirectory(prefix="workshop-dev-check-") as tmp:
        base = Path(tmp)
        ws = base / "workspace"
        checkpoints.create_workspace(ws, course)
        # The workspace's own emulator folder: a failed deploy asks it whether the emulator still answers.
        info = emulator.start(targets.emulator_dir(ws))
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

            def on_step(done: verify.DevStep, ctx) -> None:
                rule = "checks fail at its start, pass after" if done.before is not None else "checks pass after (behaviour: exempt at its start)"
                on_item(f"step {done.step.number} ({done.step.id}): {rule}", done.ok, done.problem())
                for case in (c for c in cases if c.step is done.step):
                    on_item(*_live_case(case, after(done.step.number), base, deploy_service, connect, target, course))

            verify.dev_check_steps(course, target, after, deploy_service, connect=connect, on_step=on_step)
        finally:
            emulator.stop(targets.emulator_dir(ws))


def _live_case(case, tree: Path, base: Path, deploy_service, connect, target, course) -> tuple[str, bool, str]:
    """Deploy the case's edit of the step's files, run the step's checks, then redeploy the step's own files."""
    from workshop.checks.model import Context

    label = f"live case, {case.label}"
    folder = base / f"case-{case.step.slug}-{abs(hash(case.name)) % 10**8}"
    try:
        root = devcheck_cases.apply(case, tree, folder)
    except WorkshopError as exc:
        return label, False, exc.message
    services = list(case.step.deploys) or sorted({e.file.split("/", 1)[0] for e in case.edits})
    try:
        try:
            for service in services:
                deploy_service(root, service)
        except WorkshopError as exc:
            return (label, case.kind == "mistake" and bool(case.fix_says) and case.fix_says.lower() in exc.message.lower(),
                    f"the deploy failed: {exc.message}")
        runs = verify.run_checks(Context(root, target, connect=connect, course_root=course.root), case.checks or case.step.checks)
        outcome = devcheck_cases.judge(case, {r.check.id: r.result for r in runs})
        return label, outcome.ok, outcome.detail
    finally:
        for service in services:
            deploy_service(tree, service)
