"""Issue 13 on the deploy side: an unreachable account is one line, a failed first aws attempt switches nothing."""

from __future__ import annotations

import pytest

from workshop.course import workspace
from workshop.deploy import rollout, targets


class OfflineSts:
    def get_caller_identity(self):
        from botocore.exceptions import EndpointConnectionError

        raise EndpointConnectionError(endpoint_url="https://sts.us-east-1.amazonaws.com/")


class FakeSts:
    def get_caller_identity(self):
        return {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/ana"}


@pytest.fixture
def ws(tmp_path, cli, monkeypatch):
    root = tmp_path / "ws"
    assert cli("init", str(root)).exit_code == 0
    monkeypatch.chdir(root)
    calls = []
    monkeypatch.setattr(targets.getpass, "getuser", lambda: "ana")
    monkeypatch.setattr(rollout, "deploy_all", lambda ctx, course, step: calls.append(ctx.target) or 0)
    return root, calls


def _sts(monkeypatch, fake):
    real = targets.client
    monkeypatch.setattr(targets, "client", lambda session, name: fake if name == "sts" else real(session, name))


def test_aws_deploy_offline_is_one_line_and_keeps_the_remembered_target(ws, cli, monkeypatch):
    root, calls = ws
    _sts(monkeypatch, OfflineSts())
    before = workspace.load_state(root).target
    result = cli("deploy", "all", "--target", "aws", "--yes")
    assert result.exit_code == 1, result.output
    assert "Could not reach AWS in us-east-1" in result.output and "workshop doctor" in result.output, result.output
    assert "Traceback" not in result.output and "Unexpected error" not in result.output
    assert calls == [] and workspace.load_state(root).target == before


def test_aws_deploy_without_credentials_is_one_line(ws, cli):
    """The real botocore chain in the isolated HOME: no credentials anywhere, so STS is never reached."""
    root, calls = ws
    result = cli("deploy", "all", "--target", "aws", "--yes")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "Unexpected error" not in result.output, result.output
    assert "workshop doctor" in result.output and calls == []
    assert workspace.load_state(root).target.get("name") != "aws"


def test_a_refused_confirmation_does_not_switch_the_target(ws, cli, monkeypatch):
    root, calls = ws
    _sts(monkeypatch, FakeSts())
    assert cli("deploy", "all", "--target", "aws", input="n\n").exit_code == 1
    assert workspace.load_state(root).target.get("name") != "aws" and calls == []
    assert cli("deploy", "all", "--target", "aws", "--yes").exit_code == 0
    stored = workspace.load_state(root).target
    assert stored["name"] == "aws" and stored["confirmed"] == "123456789012/us-east-1/dev-ana"


def test_an_unanswered_aws_call_anywhere_is_one_line_but_a_runner_bug_stays_a_crash(ws, cli, monkeypatch):
    from botocore.exceptions import NoCredentialsError, ParamValidationError

    from workshop.course import progress

    def offline(*_a, **_k):
        raise NoCredentialsError()

    monkeypatch.setattr(progress, "open_session", offline)
    result = cli("status")
    assert result.exit_code == 1 and "An AWS call got no answer" in result.output, result.output

    def bug(*_a, **_k):
        raise ParamValidationError(report="Bucket is required")

    monkeypatch.setattr(progress, "open_session", bug)
    assert cli("status").exit_code == 3


@pytest.mark.parametrize("port", ["99999", "65536", "-1"])
def test_emulator_port_out_of_range_is_a_usage_error(cli, tmp_path, monkeypatch, port):
    monkeypatch.chdir(tmp_path)
    result = cli("emulator", "start", "--port", port)
    assert result.exit_code == 2, result.output
    assert "0<=x<=65535" in result.output and "Traceback" not in result.output


def test_the_launcher_refuses_a_port_that_does_not_exist(tmp_path):
    from workshop import emulator
    from workshop.errors import BadInput

    with pytest.raises(BadInput, match="1-65535"):
        emulator.start(tmp_path / "emu", port=99999)
