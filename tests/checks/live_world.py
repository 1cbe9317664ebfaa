"""A deployed world for the live and behaviour checks: the embedded emulator, osls deploys, a declared-calls hook."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.checks.conftest import build_state
from tests.conftest import REPO

OSLS = REPO / "node_modules" / ".bin" / "osls"
DEPLOY_TIMEOUT = 180


class UndeclaredCall(AssertionError):
    """A check made an AWS call it did not declare."""


@dataclass
class World:
    base: Path
    source: Path  # checkpoints/start + solutions/ as committed
    endpoint: str
    undeclared: list = field(default_factory=list)
    deploys: int = 0
    deploy_seconds: list = field(default_factory=list)

    def workspace_after(self, n: int) -> Path:
        """The workspace holding checkpoint n, built once (deploys run from it)."""
        root = self.base / f"ws-{n:02d}"
        if not root.exists():
            build_state(root, n, self.source)
        return root

    def deploy(self, root: Path, service: str, stage: str = "dev") -> None:
        from workshop.deploy import targets

        env = targets.deploy_env(targets.Target(stage=stage), endpoint=self.endpoint, home=self.base / "home")
        started = time.monotonic()
        done = subprocess.run([str(OSLS), "deploy", "--stage", stage], cwd=root / service, env=env, capture_output=True,
                              text=True, timeout=DEPLOY_TIMEOUT)
        self.deploys += 1
        self.deploy_seconds.append((service, round(time.monotonic() - started, 1)))
        assert done.returncode == 0, f"deploy of {service} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    def connect(self, root, target):
        """targets.boto3_session for the emulator, with the hook that holds each check to its declared calls."""
        from workshop.deploy import targets

        session = targets.boto3_session(target, endpoint=self.endpoint)
        session._session.events.register("before-call", self._hook)
        return session

    def _hook(self, model, **_kwargs):
        from workshop.checks import registry
        from workshop.checks import runner as verify

        check = verify.current_check()
        call = f"{model.service_model.signing_name}:{model.name}"
        if check is not None and call not in registry.get(check).calls:
            self.undeclared.append((check, call))
            raise UndeclaredCall(f"{check} made the undeclared call {call}")

    def client(self, name: str, region: str = "us-east-1"):
        """A plain client for test set-up (not held to any check's declarations)."""
        from workshop.deploy import targets

        return targets.client(targets.boto3_session(targets.Target(region=region), endpoint=self.endpoint), name)

    def run(self, root: Path, ids, **target_changes):
        from workshop.checks import runner as verify
        from workshop.checks.model import Context
        from workshop.deploy.targets import Target

        ctx = Context(root, Target(**target_changes), connect=self.connect, course_root=REPO)
        return {r.check.id: r.result for r in verify.run_checks(ctx, ids)}


def copy_tree(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest
