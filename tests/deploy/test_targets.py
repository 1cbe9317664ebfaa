"""Targets: allowlisted environments that never leak credentials one way or the endpoint the other."""

from __future__ import annotations

import os

import pytest

from workshop.deploy import targets
from workshop.errors import BadInput

USER_ENV = {
    "PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "HOME": "/home/learner",
    "AWS_PROFILE": "work", "AWS_ACCESS_KEY_ID": "AKIAREAL", "AWS_SECRET_ACCESS_KEY": "real-secret",
    "AWS_SESSION_TOKEN": "real-token", "AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_CONFIG_FILE": "/home/learner/.aws/config",
    "GITHUB_TOKEN": "ghp_secret", "SOME_OTHER": "x", "AWS_ENDPOINT_URL_SNS": "http://127.0.0.1:2",
}


def test_local_env_has_the_emulator_and_fake_credentials_only(tmp_path):
    env = targets.deploy_env(targets.Target("local"), endpoint="http://127.0.0.1:4566", home=tmp_path, environ=USER_ENV)
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert env["AWS_ACCESS_KEY_ID"] == "testing" and env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env and "AWS_ENDPOINT_URL_SNS" not in env
    assert env["AWS_CONFIG_FILE"] == os.devnull and env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    assert "real" not in " ".join(env.values()) and "GITHUB_TOKEN" not in env and "SOME_OTHER" not in env
    assert env["HOME"] == str(tmp_path) and env["PATH"] == "/usr/bin" and env["LC_ALL"] == "C"
    assert env["SLS_AWS_MONITORING_FREQUENCY"] == "500"


def test_aws_env_has_the_users_chain_and_no_endpoint(tmp_path):
    target = targets.Target("aws", stage="dev-ana", region="eu-west-1", profile="class")
    env = targets.deploy_env(target, endpoint=None, home=tmp_path, environ=USER_ENV)
    assert not any(k.startswith("AWS_ENDPOINT_URL") for k in env)
    # --profile names the identity: the keys in the environment are not passed on, so osls cannot pick another one
    assert env["AWS_PROFILE"] == "class" and "AWS_ACCESS_KEY_ID" not in env and "AWS_SESSION_TOKEN" not in env
    assert env["AWS_REGION"] == "eu-west-1" and env["AWS_CONFIG_FILE"] == "/home/learner/.aws/config"
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == "/home/learner/.aws/credentials"
    assert "GITHUB_TOKEN" not in env and "SLS_AWS_MONITORING_FREQUENCY" not in env
    assert env["HOME"] == str(tmp_path)


def test_local_boto3_session_ignores_the_users_profile_and_token(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "does-not-exist")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-token")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    session = targets.boto3_session(targets.Target("local"), endpoint="http://127.0.0.1:4566")
    client = targets.client(session, "sns")
    assert client.meta.endpoint_url == "http://127.0.0.1:4566"
    credentials = client._request_signer._credentials
    assert credentials.access_key == "testing" and credentials.token is None


def test_aws_client_never_follows_a_configured_endpoint(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    client = targets.client(targets.boto3_session(targets.Target("aws", region="eu-west-1")), "sns")
    assert client.meta.endpoint_url == "https://sns.eu-west-1.amazonaws.com"


def test_personal_stage_on_aws_and_dev_locally(monkeypatch):
    monkeypatch.setattr(targets, "caller_arn", lambda target: "arn:aws:iam::123456789012:user/Ana María")
    assert targets.resolve({}, name="aws").stage == "dev-ana-mar-a"
    assert targets.resolve({}).stage == "dev"
    stored = {"name": "aws", "stage": "dev-ana-mar-a", "region": "eu-west-1"}
    assert targets.resolve(stored, name="local").stage == "dev"  # switching target does not carry the stage over
    assert targets.resolve(stored).region == "eu-west-1"
    assert targets.resolve({}, name="local", profile="x").profile is None


@pytest.mark.parametrize("kwargs, words", [({"name": "azure"}, "--target local"), ({"stage": "dev prod"}, "--stage"),
                                           ({"region": "mars-1"}, "--region")])
def test_bad_target_values_name_the_option(kwargs, words):
    with pytest.raises(BadInput, match=words):
        targets.resolve({}, **kwargs)


def test_names_follow_osls():
    target = targets.Target("local", stage="dev")
    assert target.stack("wild-rydes") == "wild-rydes-dev"
    assert target.function("wild-rydes-ride-record", "PutRideRecordSns") == "wild-rydes-ride-record-dev-PutRideRecordSns"
