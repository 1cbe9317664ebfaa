"""End to end: the instructor demo through every step on the emulator, and a learner who makes typical mistakes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from workshop.course import model as course
from workshop.deploy import tools

PASTED_ARN = "arn:aws:sns:us-east-1:123456789012:wild-rydes-dev-RidesSnsTopic-ABC123"


@pytest.mark.slow
@pytest.mark.skipif(tools.find_osls() is None, reason="osls is not installed (run `make setup`)")
def test_demo_runs_every_step_headless_and_verifies_each(tmp_path):
    before = _demo_processes()
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    done = subprocess.run([sys.executable, "-m", "workshop", "demo", "--yes"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    steps = len(course.load().steps)  # the bonus step included: the demo runs to the module's last step
    assert f"All {steps} steps verified." in done.stdout
    summary = done.stdout[done.stdout.index("Demo summary"):]
    assert len(re.findall(r"│\s+\d+ │.*│ verified │", summary)) == steps
    assert "Ride latency, HTTP path against SNS path" in summary and "emulator figures" in summary
    assert "$39.08" in summary and "$9.08" in summary
    leftovers = [p for p in Path(tmp_path).iterdir()]
    assert leftovers == []  # the demo's temporary workspace lives elsewhere and is removed
    assert _demo_processes() <= before  # no emulator of the demo is left running


@pytest.fixture
def learner(tmp_path, cli, monkeypatch):
    root = tmp_path / "ws"
    assert cli("init", str(root)).exit_code == 0
    monkeypatch.chdir(root)
    return root


def _verify(cli, step: int) -> dict:
    result = cli("verify", "--step", str(step), "--json")
    assert result.exit_code in (0, 1), result.output
    return {c["id"]: c for c in json.loads(result.stdout)["checks"]}


def test_a_learner_pastes_the_topic_arn_then_fixes_it(learner, cli):
    assert cli("reset", "--step", "9").exit_code == 0
    yml = learner / "wild-rydes-ride-record" / "serverless.yml"
    text = yml.read_text()
    assert "PutRideRecordSns:" in text
    pasted = text.replace("    handler: handlers/put_ride_record.handler_sns\n",
                          f"    handler: handlers/put_ride_record.handler_sns\n    events:\n      - sns:\n          arn: {PASTED_ARN}\n", 1)
    assert pasted != text
    yml.write_text(pasted)
    check = _verify(cli, 9)["sns-event-declared"]
    assert check["result"] == "fail" and PASTED_ARN in check["observed"]
    assert "${ssm:/wild-rydes/" in check["fix"]
    yml.write_text(pasted.replace(PASTED_ARN, "${ssm:/wild-rydes/${sls:stage}/SnsTopicArn}"))  # the fix, as the check says
    assert _verify(cli, 9)["sns-event-declared"]["result"] == "pass"


def test_a_learner_forgets_the_publish_permission_then_adds_it(learner, cli):
    assert cli("reset", "--step", "11").exit_code == 0
    assert cli("solve").exit_code == 0
    yml = learner / "wild-rydes" / "serverless.yml"
    good = yml.read_text()
    assert "sns:Publish" in good
    yml.write_text(re.sub(r"\n\s*- sns:Publish", "", good, count=1) if "- sns:Publish" in good else good.replace("sns:Publish", "sns:ListTopics"))
    check = _verify(cli, 11)["request-ride-publishes"]
    assert check["result"] == "fail" and "sns:Publish" in check["fix"]
    yml.write_text(good)
    assert _verify(cli, 11)["request-ride-publishes"]["result"] == "pass"


@pytest.mark.aws
def test_demo_on_a_real_account(tmp_path):
    """The whole module on a real account (WORKSHOP_AWS_TESTS=1 and credentials); tears down afterwards."""
    ws = tmp_path / "ws"
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    run = [sys.executable, "-m", "workshop"]
    done = subprocess.run([*run, "demo", "--yes", "--target", "aws", "--workspace", str(ws)], env=env,
                          capture_output=True, text=True, timeout=3600, check=False)
    try:
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    finally:
        subprocess.run([*run, "teardown", "--workspace", str(ws)], env=env, capture_output=True, text=True, timeout=1800, check=False)


def _demo_processes() -> set[str]:
    """Emulators of demos run by this checkout's Python (other checkouts on the machine may run demos of their own)."""
    ps = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    ours = str(Path(sys.executable).parent)
    return {line.strip() for line in ps.splitlines() if "workshop-demo-" in line and "emulator" in line and ours in line}


@pytest.mark.slow
@pytest.mark.skipif(tools.find_osls() is None, reason="osls is not installed (run `make setup`)")
def test_ctrl_c_stops_the_demo_cleanly_and_says_how_to_resume(tmp_path):
    import signal
    import time

    before = _demo_processes()
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    proc = subprocess.Popen([sys.executable, "-m", "workshop", "demo", "--yes"], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        mine: set[str] = set()
        while time.monotonic() < deadline and not mine:  # wait until the demo has started its emulator
            time.sleep(0.5)
            mine = _demo_processes() - before
        assert mine, "the demo never started its emulator"
        time.sleep(2)  # into the first deploy
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out[-2000:] + err[-2000:]
    assert "Resume with `workshop demo --from 0`" in err and "Traceback" not in err
    assert not (_demo_processes() & mine), "the demo left its emulator running"
