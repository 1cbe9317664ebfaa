"""The real-account kit (`make test-aws`): the whole demo on a personal stage, under the learner policy of
docs/class-account.yml, waiting for AWS where it must, then `workshop teardown` must leave nothing.

The same scenario runs against the embedded emulator (marked slow) so the kit itself is tested offline; once the
emulator enforces IAM it runs there under the same learner policy. What only a real account proves is listed in
docs/instructor.md ("Testing against a real account").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from workshop.course import model as course
from workshop.course import workspace
from workshop.deploy import inventory, targets, tools

RUN = [sys.executable, "-m", "workshop"]


def _cli(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    return subprocess.run([*RUN, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _demo_then_teardown(ws: Path, target: str) -> targets.Target:
    """Run the whole demo, then teardown; returns the target the workspace used. Teardown runs even if the demo fails."""
    demo = _cli("demo", "--yes", "--target", target, "--workspace", str(ws))
    try:
        assert demo.returncode == 0, demo.stdout[-6000:] + demo.stderr[-3000:]
        assert f"All {len(course.load().steps)} steps verified." in demo.stdout + demo.stderr
    finally:
        stored = workspace.load_state(ws).target if workspace.locate(ws) is not None else {}
        torn = _cli("teardown", "--workspace", str(ws), timeout=1800)
    assert torn.returncode == 0, torn.stdout[-4000:] + torn.stderr[-2000:]
    assert "Nothing of the workshop is left" in torn.stdout + torn.stderr
    return targets.resolve(stored or {"name": target})


@pytest.mark.aws
def test_a_learner_runs_the_whole_module_and_teardown_leaves_nothing(tmp_path):
    learner = targets.Target("aws", stage="probe", region=os.environ.get("AWS_REGION", targets.DEFAULT_REGION))
    session = targets.boto3_session(learner)
    # a prepared class account, and credentials of a learner of it (not an administrator's)
    account = targets.class_account(learner, session=session)
    assert account.get("WORKSHOP_DEPLOYMENT_ROLE"), "deploy docs/class-account.yml first (docs/instructor.md)"
    iam = targets.client(session, "iam")
    probe = f"wild-rydes-kit-probe-{uuid.uuid4().hex[:8]}"
    try:
        iam.create_role(RoleName=probe, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    except iam.exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException"), exc
    else:
        iam.delete_role(RoleName=probe)
        pytest.fail("these credentials may create roles: run the kit as a learner (the WildRydesWorkshopLearners group)")
    used = _demo_then_teardown(tmp_path / "ws", "aws")
    assert used.stage.startswith("dev-")  # the personal stage from the caller's identity
    assert inventory.leftovers(targets.boto3_session(used), used) == []


@pytest.mark.slow
@pytest.mark.skipif(tools.find_osls() is None, reason="osls is not installed (run `make setup`)")
def test_the_kit_against_the_emulator(tmp_path):
    from workshop import emulator

    ws = tmp_path / "ws"
    try:
        used = _demo_then_teardown(ws, "local")
        assert inventory.leftovers(targets.connect(ws, used), used) == []
    finally:
        emulator.stop(targets.emulator_dir(ws))
