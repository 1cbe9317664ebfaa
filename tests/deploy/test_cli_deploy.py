"""Deploy commands without deploying: the real-account confirmation, the personal stage, bad input, doctor."""

from __future__ import annotations

import json

import pytest

from workshop.course import workspace
from workshop.deploy import rollout, targets


class FakeSts:
    def get_caller_identity(self):
        return {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/ana"}


@pytest.fixture
def ws(tmp_path, cli, monkeypatch):
    root = tmp_path / "ws"
    assert cli("init", str(root)).exit_code == 0
    monkeypatch.chdir(root)
    calls = []
    real_client = targets.client

    def fake_client(session, name):
        if name == "sts":
            return FakeSts()
        return real_client(session, name)

    monkeypatch.setattr(targets, "client", fake_client)
    monkeypatch.setattr(targets.getpass, "getuser", lambda: "ana")
    monkeypatch.setattr(rollout, "deploy_all", lambda ctx, course, step: calls.append((ctx.target, step.id)) or 0)
    return root, calls


def test_aws_deploy_asks_first_and_a_no_deploys_nothing(ws, cli):
    root, calls = ws
    result = cli("deploy", "all", "--target", "aws", input="n\n")
    assert result.exit_code == 1, result.output
    assert "123456789012" in result.output and "dev-ana" in result.output and "us-east-1" in result.output
    assert "Nothing was deployed" in result.output and calls == []


def test_aws_deploy_with_yes_uses_the_personal_stage_and_asks_once(ws, cli):
    root, calls = ws
    result = cli("deploy", "all", "--target", "aws", "--yes")
    assert result.exit_code == 0, result.output
    assert calls == [(targets.Target("aws", stage="dev-ana", region="us-east-1"), "deploy-start")]
    stored = workspace.load_state(root).target
    assert stored["name"] == "aws" and stored["confirmed"] == "123456789012/us-east-1/dev-ana"
    again = cli("deploy", "all")  # the stored target is used and the question is not asked again
    assert again.exit_code == 0 and "Continue?" not in again.output and len(calls) == 2


@pytest.mark.parametrize("args, words", [(["deploy", "frontend"], "wild-rydes-ride-record"),
                                         (["deploy", "all", "--target", "gcp"], "--target local"),
                                         (["test", "nope"], "wild-rydes")])
def test_bad_input_exits_2_naming_the_choices(ws, cli, args, words):
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert words in result.output and "Traceback" not in result.output


def test_doctor_json_reports_tools_and_target(ws, cli, monkeypatch):
    monkeypatch.setattr(targets, "endpoint_for", lambda root, target: "http://127.0.0.1:1")
    result = cli("doctor", "--json")
    data = json.loads(result.stdout)
    names = [c["name"] for c in data["checks"]]
    assert names[:4] == ["python", "node", "osls", "git"] and "identity" in names
    assert all(set(c) == {"name", "ok", "detail", "fix"} for c in data["checks"])
    assert data["ok"] == all(c["ok"] for c in data["checks"])
    assert result.exit_code == (0 if data["ok"] else 1)
    identity = next(c for c in data["checks"] if c["name"] == "identity")
    assert identity["ok"] and "123456789012" in identity["detail"]


def test_doctor_outside_a_workspace_says_how_to_get_one(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("doctor")
    assert result.exit_code == 1
    assert "workshop init" in result.output


def test_workshop_test_runs_the_services_own_tests_offline(tmp_path, cli, monkeypatch):
    root = tmp_path / "ws"
    assert cli("init", str(root)).exit_code == 0
    monkeypatch.chdir(root)
    assert cli("test", "wild-rydes-ride-record").exit_code == 0
    handler = root / "wild-rydes-ride-record" / "handlers" / "put_ride_record.py"
    handler.write_text(handler.read_text().replace("put_item(", "put_itme("))
    failed = cli("test", "wild-rydes-ride-record")
    assert failed.exit_code == 1, failed.output
    assert "1 failed" in failed.output  # pytest's own summary reaches the learner


def test_doctor_on_aws_without_credentials_reports_instead_of_stopping(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def no_credentials(target):
        raise RuntimeError("Unable to locate credentials")

    monkeypatch.setattr(targets, "caller_arn", no_credentials)
    result = cli("doctor", "--target", "aws", "--json")
    data = json.loads(result.stdout)
    names = {c["name"]: c for c in data["checks"]}
    assert result.exit_code == 1 and not names["stage"]["ok"] and "--stage" in names["stage"]["fix"]
    assert not names["identity"]["ok"]  # the real cause, said by the identity finding
