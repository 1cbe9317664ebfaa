"""Issue 15, the deploy side: stage names that fit, a stage from the caller's identity, one identity for osls and boto3."""

from __future__ import annotations

import os
import re

import pytest

from workshop.course.model import course_root
from workshop.deploy import osls, targets
from workshop.errors import BadInput, WorkshopError

SSO_ARN = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Learner_0123456789abcdef/jennifer.martinez@example.com"


def _longest(stage: str, region: str) -> int:
    """The longest role or function name osls makes for the course's functions (what AWS caps at 64)."""
    functions = targets.course_functions(course_root())
    names = [f"{s}-{stage}-{region}-lambdaRole" for s in functions]
    names += [f"{s}-{stage}-{fn}" for s, fns in functions.items() for fn in fns]
    return max(len(n) for n in names)


def test_the_course_functions_are_read_from_the_course_files():
    functions = targets.course_functions(course_root())
    assert set(functions) == {"wild-rydes", "wild-rydes-ride-record"}
    # PutRideRecordSns only exists from step 8's solution on: the budget must count it
    assert {"PutRideRecord", "PutRideRecordHttp", "PutRideRecordSns"} <= set(functions["wild-rydes-ride-record"])
    assert "RequestRide" in functions["wild-rydes"]


@pytest.mark.parametrize("region", ["us-east-1", "ap-southeast-2", "us-gov-west-1"])
def test_a_long_user_name_is_shortened_to_fit_every_generated_name(region, monkeypatch):
    monkeypatch.setattr(targets, "caller_arn", lambda t: "arn:aws:iam::123456789012:user/jennifer-martinez")
    target = targets.resolve({}, name="aws", region=region)
    assert _longest(target.stage, region) <= 64, target.stage
    assert re.fullmatch(r"dev-[a-z0-9-]+-[0-9a-f]{4}", target.stage)
    # the example: the unshortened stage made a 65-character role in us-east-1
    assert _longest("dev-jennifer-martinez", "us-east-1") == 65


def test_two_long_names_with_one_start_keep_apart():
    budget = targets.stage_budget("us-east-1")
    one, other = targets.personal_stage("jennifer-martinez", budget), targets.personal_stage("jennifer-martinson", budget)
    assert one != other and len(one) <= budget and len(other) <= budget
    assert targets.personal_stage("ana", budget) == "dev-ana"


def test_a_stage_that_cannot_fit_is_refused_with_its_maximum_in_that_region():
    budget = targets.stage_budget("ap-southeast-2")
    with pytest.raises(BadInput, match=rf"at most {budget} characters") as raised:
        targets.resolve({}, name="aws", stage="a" * (budget + 1), region="ap-southeast-2")
    assert "ap-southeast-2" in raised.value.message
    assert targets.resolve({}, name="aws", stage="a" * budget, region="ap-southeast-2").stage == "a" * budget


@pytest.mark.parametrize("arn, stage", [
    ("arn:aws:iam::123456789012:user/division/Ana", "dev-ana"),
    (SSO_ARN, None),  # shortened: checked below
    ("arn:aws:sts::123456789012:assumed-role/Learners/bob", "dev-bob"),
])
def test_the_default_stage_comes_from_the_callers_identity(arn, stage, monkeypatch):
    monkeypatch.setattr(targets.getpass, "getuser", lambda: "codespace")  # the OS user is everyone's in a cloud IDE
    target = targets.resolve({}, name="aws", identity=lambda t: arn)
    if stage:
        assert target.stage == stage
    else:
        assert target.stage.startswith("dev-jennifer-") and len(target.stage) <= targets.stage_budget("us-east-1")


@pytest.mark.parametrize("arn", [
    "arn:aws:iam::123456789012:root",
    "arn:aws:iam::123456789012:user/ubuntu",
    "arn:aws:iam::123456789012:user/admin",
    "arn:aws:sts::123456789012:assumed-role/Cloud9/ec2-user",
    "arn:aws:sts::123456789012:assumed-role/Dev/botocore-session-1732900000",
])
def test_a_generic_identity_is_refused_with_a_request_for_stage(arn):
    with pytest.raises(BadInput, match="--stage"):
        targets.resolve({}, name="aws", identity=lambda t: arn)


def test_no_identity_says_to_sign_in_or_choose_a_stage():
    def fails(target):
        raise RuntimeError("Token has expired and refresh failed")

    with pytest.raises(WorkshopError, match="aws sso login.*--stage"):
        targets.resolve({}, name="aws", identity=fails)
    assert targets.resolve({}, name="aws", stage="dev-ana", identity=fails).stage == "dev-ana"  # asked only when needed


def test_the_local_target_never_asks_aws():
    def fails(target):
        raise AssertionError("STS asked for the local target")

    assert targets.resolve({}, identity=fails).stage == "dev"


# --- one identity for osls and boto3 (SSO, credential_process, environment keys)


def _home_with_sso(tmp_path):
    home = tmp_path / "real-home"
    (home / ".aws" / "sso" / "cache").mkdir(parents=True)
    (home / ".aws" / "config").write_text(
        "[profile class]\nsso_session = school\nsso_account_id = 123456789012\nsso_role_name = Learner\nregion = us-east-1\n"
        "[sso-session school]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n"
        "[profile helper]\ncredential_process = /usr/local/bin/fetch-keys\n",
        encoding="utf-8",
    )
    (home / ".aws" / "sso" / "cache" / "token.json").write_text("{}", encoding="utf-8")
    return home


@pytest.fixture(autouse=True)
def _no_class_account(monkeypatch):
    monkeypatch.setattr(targets, "class_account", lambda target, environ=None, session=None: {})


def test_osls_finds_the_sso_cache_of_the_real_home_and_keeps_its_caches_private(tmp_path, monkeypatch):
    real = _home_with_sso(tmp_path)
    monkeypatch.setenv("HOME", str(real))
    for key in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(key, raising=False)
    root = tmp_path / "ws"
    env = osls.osls_environment(root, targets.Target("aws", stage="dev-ana", profile="class"), None)
    home = root / ".workshop" / "home"
    assert env["HOME"] == str(home) and env["AWS_PROFILE"] == "class"
    assert env["AWS_CONFIG_FILE"] == str(real / ".aws" / "config")
    # the SDK looks for SSO tokens under $HOME/.aws/sso/cache only: that is the learner's real cache
    assert (home / ".aws" / "sso" / "cache" / "token.json").is_file()
    assert not (real / ".serverless").exists()  # osls's own caches stay in the private home
    # the local target never sees the user's AWS files, not even through the private home
    local = osls.osls_environment(root, targets.Target("local"), "http://127.0.0.1:4566")
    assert not (home / ".aws").exists() and local["AWS_CONFIG_FILE"] == os.devnull


def test_environment_keys_win_over_aws_profile_for_osls_as_for_boto3(tmp_path, monkeypatch):
    environ = {"HOME": str(tmp_path), "AWS_PROFILE": "other", "AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "s"}
    env = targets.deploy_env(targets.Target("aws", stage="dev-ana"), endpoint=None, home=tmp_path / "h", environ=environ)
    # osls would take AWS_PROFILE first, boto3 the keys: osls gets only the keys
    assert "AWS_PROFILE" not in env and env["AWS_ACCESS_KEY_ID"] == "AKIAENV"
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    session = targets.boto3_session(targets.Target("aws", stage="dev-ana"))
    assert session.get_credentials().access_key == "AKIAENV"


def test_a_credential_process_profile_gives_osls_the_keys_boto3_resolved(tmp_path, monkeypatch):
    real = _home_with_sso(tmp_path)
    monkeypatch.setenv("HOME", str(real))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(real / ".aws" / "config"))
    for key in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    target = targets.Target("aws", stage="dev-ana", profile="helper")
    assert targets.uses_credential_process(target)
    assert not targets.uses_credential_process(targets.Target("aws", stage="dev-ana", profile="class"))
    monkeypatch.setattr(targets, "exported_credentials",
                        lambda t: {"AWS_ACCESS_KEY_ID": "ASIAPROC", "AWS_SECRET_ACCESS_KEY": "x", "AWS_SESSION_TOKEN": "t"})
    env = osls.osls_environment(tmp_path / "ws", target, None)
    # the helper may read files under the real HOME, which osls does not have: osls gets what boto3 resolved
    assert env["AWS_ACCESS_KEY_ID"] == "ASIAPROC" and "AWS_PROFILE" not in env


# --- step 13's IAM race


def _failing(message: str, calls: list):
    def run_once(*args, **kwargs):
        calls.append(args[3])
        if len(calls) == 1:
            error = osls.DeployError("failed", detail=message)
            error.iam_race = bool(osls.IAM_RACE_RE.search(message))
            raise error
        return osls.RunResult(service=args[2], action=args[3], seconds=1.0, log=args[0])
    return run_once


RACE = ("CREATE_FAILED - AWS::Lambda::EventInvokeConfig - PutRideRecordSnsEventInvokeConfig: The provided execution role "
        "does not have permissions to call SendMessage on SQS (Service: Lambda, Status Code: 400)")


def test_the_iam_race_of_step_13_is_waited_out_and_retried_once(tmp_path, monkeypatch):
    calls, slept, said = [], [], []
    monkeypatch.setattr(osls, "_run_once", _failing(RACE, calls))
    monkeypatch.setattr(osls.time, "sleep", slept.append)
    result = osls.run_osls(tmp_path, targets.Target("aws", stage="dev-ana"), "wild-rydes-ride-record", "deploy", tmp_path,
                           endpoint=None, on_line=said.append)
    assert result.action == "deploy" and calls == ["deploy", "deploy"] and slept == [osls.IAM_RACE_WAIT]
    assert any("IAM" in line and "retrying" in line for line in said)


def test_other_failures_are_not_retried(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(osls, "_run_once", _failing("Stack is in UPDATE_ROLLBACK_FAILED state", calls))
    monkeypatch.setattr(osls.time, "sleep", lambda s: pytest.fail("slept"))
    with pytest.raises(osls.DeployError):
        osls.run_osls(tmp_path, targets.Target("aws", stage="dev-ana"), "wild-rydes-ride-record", "deploy", tmp_path, endpoint=None)
    assert calls == ["deploy"]


@pytest.mark.parametrize("line, words", [
    (RACE, "wait a minute"),
    ("An error occurred (RequestExpired) when calling the DescribeStacks operation: Request has expired.", "clock"),
    ("User: arn:aws:iam::1:user/ana is not authorized to perform: iam:CreateRole on resource", "learner policy"),
    ("An error occurred (Throttling) when calling the DescribeStackEvents operation: Rate exceeded", "throttling"),
])
def test_deploy_failures_of_a_real_account_are_said_plainly(line, words, tmp_path):
    said = osls.explain_failure("wild-rydes-ride-record", "deploy", targets.Target("aws", stage="dev-ana"), [line], tmp_path)
    assert words in said and "workshop " in said


def test_step_13_says_why_its_deploy_may_be_retried():
    page = (course_root() / "steps" / "13-dead-letter-queue.md").read_text(encoding="utf-8")
    assert "does not have\npermissions to call SendMessage on SQS" in page or "permissions to call SendMessage" in page
    assert "30 seconds" in page and f"{osls.IAM_RACE_WAIT:.0f}" == "30"


# --- teardown and leftovers


def test_deployment_buckets_are_found_as_aws_names_them():
    import boto3
    from botocore.stub import Stubber

    from workshop.deploy import inventory

    target = targets.Target("aws", stage="dev-jennifer-ma-d953")
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(s3)
    aws_named = "wild-rydes-ride-record-dev-jennifer-ma-d9-serverlessdeploymentbuck-1x2y3z4a5b6c"
    stub.add_response("list_buckets", {"Buckets": [{"Name": aws_named}, {"Name": "wild-rydes-dev-bob-serverlessdeploymentbuck-9z"},
                                                  {"Name": "someone-elses-bucket"}]})
    stub.add_response("list_objects_v2", {"KeyCount": 1}, {
        "Bucket": aws_named, "Prefix": f"serverless/wild-rydes-ride-record/{target.stage}/", "MaxKeys": 1})
    stub.activate()

    class Session:
        def client(self, service, **kwargs):
            return s3

    assert list(inventory._buckets(Session(), target)) == [aws_named]
    stub.assert_no_pending_responses()


def test_teardown_removes_the_consumers_first(tmp_path, monkeypatch):
    import shutil

    from workshop.deploy import rollout

    root = tmp_path / "ws"
    shutil.copytree(course_root() / "checkpoints" / "start", root)
    ctx = rollout.Context(root=root, target=targets.Target("aws", stage="dev-ana"), endpoint=None)
    removed = []
    monkeypatch.setattr(rollout, "remove", lambda c, service: removed.append(service) or True)
    assert rollout.teardown(ctx) == ["wild-rydes", "wild-rydes-ride-record"]  # wild-rydes reads ride-record's URL
    assert removed == ["wild-rydes", "wild-rydes-ride-record"]


# --- doctor checks the identity osls will use


def test_doctor_names_where_osls_gets_its_credentials(tmp_path):
    from workshop.deploy import doctor

    real = _home_with_sso(tmp_path)
    environ = {"HOME": str(real)}
    sso = doctor.osls_credentials(targets.Target("aws", stage="dev-ana", profile="class"), environ)
    assert sso[0].ok and "profile class" in sso[0].detail and str(real / ".aws" / "config") in sso[0].detail
    missing = doctor.osls_credentials(targets.Target("aws", stage="dev-ana", profile="typo"), environ)
    assert not missing[0].ok and "typo" in missing[0].detail and "--profile" in missing[0].fix
    keys = doctor.osls_credentials(targets.Target("aws", stage="dev-ana"),
                                   {**environ, "AWS_PROFILE": "class", "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "s"})
    assert "environment" in keys[0].detail  # the keys win for osls, as for boto3
    # boto3 reads AWS_DEFAULT_PROFILE too; osls is told that profile explicitly
    env = targets.deploy_env(targets.Target("aws", stage="dev-ana"), endpoint=None, home=tmp_path / "h",
                             environ={**environ, "AWS_DEFAULT_PROFILE": "class"})
    assert env["AWS_PROFILE"] == "class"


def test_doctor_identity_is_the_one_boto3_and_osls_share(tmp_path, monkeypatch):
    from workshop.deploy import doctor

    seen = []

    class Sts:
        def get_caller_identity(self):
            return {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/ana"}

    def session(target, endpoint=None):
        seen.append(targets.credential_source(target))
        return object()

    monkeypatch.setattr(targets, "boto3_session", session)
    monkeypatch.setattr(targets, "client", lambda s, name: Sts())
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "A")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    monkeypatch.setenv("AWS_PROFILE", "class")
    found = {f.name: f for f in doctor.target_findings(None, targets.Target("aws", stage="dev-ana"))}
    assert found["identity"].ok and "osls uses the same" in found["identity"].detail
    assert seen == [("environment", None)] and found["credentials"].ok
    env = targets.deploy_env(targets.Target("aws", stage="dev-ana"), endpoint=None, home=tmp_path)
    assert "AWS_PROFILE" not in env and env["AWS_ACCESS_KEY_ID"] == "A"
