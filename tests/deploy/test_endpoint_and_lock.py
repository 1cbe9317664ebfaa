"""Issue 13 items 7, 10 and 13 on the deploy side: configured endpoints never redirect a real deploy, one deploy per
workspace at a time, and a deploy that lost its emulator says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workshop.course import paths
from workshop.deploy import osls, targets
from workshop.errors import WorkshopError

REPO = Path(__file__).resolve().parents[2]
EVIL = "http://127.0.0.1:9"
# An endpoint for every service, and one for CloudFormation only, the two ways ~/.aws/config can name one.
AWS_CONFIG = f"""
[default]
region = us-east-1
endpoint_url = {EVIL}
services = evil

[services evil]
cloudformation =
  endpoint_url = {EVIL}
"""
# What osls's SDK (AWS SDK for JavaScript v3) resolves for a CloudFormation call, printed before anything is sent.
PROBE = textwrap.dedent("""
    const {CloudFormationClient, ListStacksCommand} = require("@aws-sdk/client-cloudformation");
    const client = new CloudFormationClient({});
    client.middlewareStack.add((next) => async (args) => {
      console.log(JSON.stringify({host: args.request.hostname, port: args.request.port || null}));
      process.exit(0);
    }, {step: "build"});
    client.send(new ListStacksCommand({})).catch((e) => { console.log(JSON.stringify({error: String(e)})); process.exit(1); });
""")


@pytest.fixture
def aws_config(tmp_path):
    path = tmp_path / "aws-config"
    path.write_text(AWS_CONFIG)
    return path


def test_the_aws_deploy_env_ignores_configured_endpoints(aws_config, tmp_path):
    source = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "AWS_CONFIG_FILE": str(aws_config),
              "AWS_ENDPOINT_URL": EVIL, "AWS_ENDPOINT_URL_CLOUDFORMATION": EVIL, "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
              "AWS_SECRET_ACCESS_KEY": "x"}
    env = targets.deploy_env(targets.Target("aws", stage="dev-ana"), endpoint=None, home=tmp_path / "h", environ=source)
    assert env["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] == "true"
    assert not [k for k in env if k.startswith("AWS_ENDPOINT_URL")]
    local = targets.deploy_env(targets.Target(), endpoint="http://127.0.0.1:4566", home=tmp_path / "h", environ=source)
    assert local["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566" and "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS" not in local


@pytest.mark.skipif(not (REPO / "node_modules" / "@aws-sdk" / "client-cloudformation").is_dir(), reason="npm ci not run")
def test_osls_sdk_with_the_deploy_env_never_calls_a_configured_endpoint(aws_config, tmp_path):
    """The SDK osls deploys with, given the aws deploy env: its CloudFormation call goes to AWS, not to the config's
    endpoint_url (nothing is sent: the probe stops the request before signing)."""
    source = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "AWS_CONFIG_FILE": str(aws_config),
              "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"}
    env = targets.deploy_env(targets.Target("aws", stage="dev-ana"), endpoint=None, home=tmp_path / "h", environ=source)
    probe = tmp_path / "probe.js"
    probe.write_text(PROBE)
    env["NODE_PATH"] = str(REPO / "node_modules")

    def host(environment):
        done = subprocess.run(["node", str(probe)], env=environment, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    assert host(env) == {"host": "cloudformation.us-east-1.amazonaws.com", "port": None}
    without = {k: v for k, v in env.items() if k != "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"}
    assert host(without) == {"host": "127.0.0.1", "port": 9}  # the probe sees the redirect the variable prevents


def test_every_boto3_client_of_the_aws_target_ignores_configured_endpoints(aws_config, monkeypatch):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws_config))
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", EVIL)
    session = targets.boto3_session(targets.Target("aws", stage="dev-ana"))
    assert targets.client(session, "cloudformation").meta.endpoint_url == "https://cloudformation.us-east-1.amazonaws.com"
    assert session.client("cloudformation").meta.endpoint_url == "https://cloudformation.us-east-1.amazonaws.com"
    assert "127.0.0.1" not in session.client("sts").meta.endpoint_url


# --- one deploy per workspace -----------------------------------------------------------------------------------------

HOLD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from workshop.deploy import osls
    with osls.deploy_lock(Path(sys.argv[1]), "workshop deploy all"):
        print("held", flush=True)
        time.sleep(60)
""")


@pytest.fixture
def holder(tmp_path):
    root = tmp_path / "ws"
    (root / ".workshop").mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(root)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.readline().strip() == "held"
    yield root, proc
    proc.kill()
    proc.wait()


def test_a_second_deploy_names_the_holder_and_waits_for_nothing(holder):
    root, proc = holder
    with pytest.raises(WorkshopError) as raised, osls.deploy_lock(root, "workshop deploy wild-rydes"):
        pytest.fail("two deploys held the lock at once")
    message = raised.value.message
    assert raised.value.exit_code == 1
    assert f"pid {proc.pid}" in message and "`workshop deploy all`" in message and "since 20" in message and "UTC" in message
    assert "run the command again" in message


def test_the_lock_of_a_killed_deploy_is_taken_over(holder):
    root, proc = holder
    proc.kill()  # kill -9: no cleanup ran, the file still names the dead process
    proc.wait()
    assert str(proc.pid) in (paths.deploy_lock(root)).read_text()
    with osls.deploy_lock(root, "workshop deploy all"):
        assert json.loads((paths.deploy_lock(root)).read_text())["pid"] == os.getpid()
    with osls.deploy_lock(root):  # and released again
        pass


def test_the_lock_is_reentrant_within_one_command(tmp_path):
    root = tmp_path / "ws"
    with osls.deploy_lock(root, "workshop deploy all"), osls.deploy_lock(root, "osls deploy wild-rydes"):  # run_osls inside deploy all
        assert json.loads((paths.deploy_lock(root)).read_text())["command"] == "workshop deploy all"


def test_cli_deploy_while_another_runs_exits_1_naming_it(cli, sample_course, tmp_path, monkeypatch):
    ws = tmp_path / "learner"
    assert cli("init", str(ws)).exit_code == 0
    monkeypatch.chdir(ws)
    lock = paths.deploy_lock(ws)
    other = subprocess.Popen([sys.executable, "-c", HOLD, str(ws)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert other.stdout.readline().strip() == "held"
        for command in (("deploy", "all"), ("deploy", "svc-a"), ("teardown",)):
            result = cli(*command)
            assert result.exit_code == 1, result.output
            assert f"pid {other.pid}" in result.output and "Another deploy is running" in result.output, result.output
        assert lock.exists()
    finally:
        other.kill()
        other.wait()


# --- a deploy that lost its emulator ----------------------------------------------------------------------------------


def test_a_deploy_whose_emulator_died_says_so_not_fix_the_file(tmp_path, monkeypatch):
    """kill -9 of the emulator mid-deploy made osls fail with a config-like error, reported as 'fix the file'."""
    from workshop.deploy import tools

    fake = tmp_path / "fake-osls"
    fake.write_text("#!/bin/sh\necho 'Configuration error: Cannot resolve serverless.yml: connect ECONNREFUSED'\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(tools, "osls_command", lambda: [str(fake)])
    root = tmp_path / "ws"
    (root / "svc").mkdir(parents=True)
    target = targets.Target()
    with pytest.raises(osls.DeployError) as raised:  # no emulator runs in this workspace
        osls.run_osls(root, target, "wild-rydes", "deploy", root / "svc", endpoint="http://127.0.0.1:9")
    assert "The emulator stopped during `osls deploy` of wild-rydes" in raised.value.message
    assert "fix the file" not in raised.value.message and "workshop deploy wild-rydes" in raised.value.message
    monkeypatch.setattr(osls, "emulator_answers", lambda root: True)  # alive: the file is to blame, as before
    with pytest.raises(osls.DeployError) as raised:
        osls.run_osls(root, target, "wild-rydes", "deploy", root / "svc", endpoint="http://127.0.0.1:9")
    assert "fix the file" in raised.value.message
