"""Unit tests of the emulator's pieces that need no running emulator."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading

import pytest

from workshop.emulator import cfn_fixes, gateway, hooks, iam_enforce, s3_policy, sandbox


def _in_function_process(code: str, gateway_env: str, tmp_path) -> dict:
    """Run `code` as a function's process would run (-S, only the runtime folder on the path); it prints JSON."""
    env = {"PATH": os.environ["PATH"], "_WORKSHOP_GATEWAY": gateway_env, "PYTHONPATH": str(sandbox.RUNTIME_DIR)}
    done = subprocess.run([sys.executable, "-S", "-c", "import _workshop_netroute\n" + code],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_netroute_sends_execute_api_hosts_to_the_gateway_and_leaves_others(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    threading.Thread(target=lambda: server.accept()[0].sendall(b"hello"), daemon=True).start()
    code = """
import json, socket
api = socket.getaddrinfo("abc123.execute-api.eu-west-1.amazonaws.com", 80, type=socket.SOCK_STREAM)
sock = socket.create_connection(("abc123.execute-api.eu-west-1.amazonaws.com", 80), timeout=5)
greeting = sock.recv(5).decode()
try:
    other = socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)[0][4][0]
except OSError as exc:
    other = str(exc)
print(json.dumps({"api": api[0][4], "greeting": greeting, "other": other,
                  "lookalike": socket.getaddrinfo("127.0.0.1", 80)[0][4][0]}))
"""
    try:
        seen = _in_function_process(code, f"{port}:1:/nonexistent-ca.pem", tmp_path)
    finally:
        server.close()
    assert seen["api"] == ["127.77.0.1", 80] and seen["greeting"] == "hello"
    assert seen["other"] != "127.77.0.1" and seen["lookalike"] == "127.0.0.1"


def test_netroute_is_inert_without_a_gateway(tmp_path):
    seen = _in_function_process("import json, socket\nprint(json.dumps(getattr(socket, '_workshop_routed', False)))", "", tmp_path)
    assert seen is False


@pytest.mark.parametrize(("template", "path", "params"), [
    ("/record", "/record", {}),
    ("/rides/{id}", "/rides/42", {"id": "42"}),
    ("/files/{proxy+}", "/files/a/b/c.txt", {"proxy": "a/b/c.txt"}),
    ("/", "/", {}),
])
def test_route_templates(template, path, params):
    regex, _ = gateway._pattern(template)
    match = regex.match(path)
    assert match and match.groupdict() == params


def test_literal_routes_beat_parameters_and_greedy_paths():
    assert gateway._pattern("/rides/latest")[1] > gateway._pattern("/rides/{id}")[1] > gateway._pattern("/{proxy+}")[1]


def test_host_and_path_styles():
    assert gateway.HOST_STYLE.match("a1b2c3.execute-api.us-east-1.amazonaws.com:443")["api"] == "a1b2c3"
    assert gateway.PATH_STYLE.match("/restapis/a1b2/dev/_user_request_/record")["path"] == "/record"
    assert not gateway.HOST_STYLE.match("s3.amazonaws.com")


def test_plain_http_deny_statement_is_not_applied_but_others_are():
    deny_http = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
                 "Condition": {"Bool": {"aws:SecureTransport": False}}}
    allow = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
    assert s3_policy.effective_policy(json.dumps({"Statement": [deny_http]})) is None
    kept = json.loads(s3_policy.effective_policy(json.dumps({"Statement": [deny_http, allow]})))
    assert kept["Statement"] == [allow]


TOPIC = "arn:aws:sns:us-east-1:123456789012:rides"


def _sns_may_send(operator: str, pattern: object, source: str = TOPIC) -> bool:
    policy = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                             "Action": "sqs:SendMessage", "Resource": "*",
                             "Condition": {operator: {"aws:SourceArn": pattern}}}]}
    return iam_enforce.service_allowed(json.dumps(policy), "sns.amazonaws.com", "sqs:SendMessage",
                                       "arn:aws:sqs:us-east-1:123456789012:dlq", source)


@pytest.mark.parametrize("operator", ["ArnEquals", "ArnLike", "ArnEqualsIfExists", "ForAnyValue:ArnLike"])
def test_arn_conditions_take_wildcards_within_each_of_the_six_parts(operator):
    """IAM's ARN operators (ArnEquals and ArnLike alike): each of the six colon-separated parts is compared on its own,
    case-sensitively, `*` and `?` as wildcards inside a part, never across a colon."""
    for pattern in (TOPIC, "arn:aws:sns:*:123456789012:rides", "arn:aws:sns:us-east-?:*:ride?", "arn:*:*:*:*:*",
                    "arn:aws:sns:us-east-1:123456789012:*", ["arn:aws:sns:*:*:other", "arn:aws:sns:*:*:r*s"]):
        assert _sns_may_send(operator, pattern), pattern
        assert not _sns_may_send(operator.replace("Equals", "NotEquals").replace("Like", "NotLike"), pattern), pattern
    for pattern in ("arn:aws:sns:*", "arn:aws:*:rides", "*", "arn:aws:sns:us-east-1:123456789012:Rides",
                    "arn:aws:sns:eu-*:123456789012:rides", "arn:aws:sns:us-east-1:123456789012:ride?s", "rides"):
        assert not _sns_may_send(operator, pattern), pattern
        assert _sns_may_send(operator.replace("Equals", "NotEquals").replace("Like", "NotLike"), pattern), pattern
    assert not _sns_may_send(operator, "*", source="not-an-arn")
    # the resource part keeps its own colons: a wildcard there covers them
    assert _sns_may_send(operator, "arn:aws:lambda:*:*:function:*", source="arn:aws:lambda:us-east-1:1:function:f:live")


def test_validate_template_checks_syntax_only():
    assert cfn_fixes.validate_template('{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}') == []
    assert cfn_fixes.validate_template("Resources:\n  T:\n    Type: AWS::Made::Up\n") == []
    assert "Resources" in cfn_fixes.validate_template('{"Outputs": {}}')[0].message
    assert cfn_fixes.validate_template("{not json: [")[0].message.startswith("Template format error")


def test_after_import_patches_a_module_once_it_loads(tmp_path, monkeypatch):
    (tmp_path / "hooked_example_mod.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []
    hooks.after_import("hooked_example_mod", lambda module: seen.append(module.VALUE))
    import hooked_example_mod  # noqa: F401

    assert seen == [1]
    hooks.after_import("hooked_example_mod", lambda module: seen.append(2))  # already imported: runs at once
    assert seen == [1, 2]
    monkeypatch.delitem(sys.modules, "hooked_example_mod")


def test_a_python_started_by_a_function_sees_no_site_packages(tmp_path):
    env = {"PATH": os.environ["PATH"], "_WORKSHOP_GATEWAY": "1:2:/nonexistent", "PYTHONPATH": str(sandbox.RUNTIME_DIR)}
    code = "import importlib.util, json, socket; print(json.dumps([importlib.util.find_spec('moto') is None, socket._workshop_routed]))"
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [True, True]


# ---- issue 14: properties checked against CloudFormation's schemas; generated names ---------------------------

def _refusal(resource_type: str, props: dict, region: str = "us-east-1") -> str:
    from workshop.emulator import cfn_errors, cfn_validate

    with pytest.raises(cfn_errors.ResourceFailure) as failed:
        cfn_validate.validate("Thing", resource_type, props, region)
    assert failed.value.logical_id == "Thing" and failed.value.resource_type == resource_type
    return failed.value.reason


ROLE = {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}}


def test_names_aws_rejects_are_refused_with_aws_wording():
    long_role = "wild-rydes-ride-record-dev-jennifer-martinez-us-east-1-lambdaRole"
    assert len(long_role) == 65
    reason = _refusal("AWS::IAM::Role", {**ROLE, "RoleName": long_role})
    assert reason.startswith('Resource handler returned message: "1 validation error detected: Value '
                             f"'{long_role}' at 'roleName' failed to satisfy constraint: Member must have length less "
                             "than or equal to 64 (Service: Iam, Status Code: 400")
    reason = _refusal("AWS::Lambda::Function", {"Code": {}, "Role": "arn:aws:iam::123456789012:role/r",
                                                "FunctionName": "f" * 65})
    assert "at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern" in reason
    assert "Parameter name: can't be prefixed with" in _refusal(
        "AWS::SSM::Parameter", {"Name": "/wild-rydes/${stage}/url", "Type": "String", "Value": "x"})
    assert "Member must satisfy enum value set: [String, StringList]" in _refusal(
        "AWS::SSM::Parameter", {"Name": "/ok", "Type": "SecureString", "Value": "x"})
    assert "Invalid parameter: Topic Name" in _refusal("AWS::SNS::Topic", {"TopicName": "rides.dev"})
    assert "1 to 80 in length" in _refusal("AWS::SQS::Queue", {"QueueName": "q" * 81})
    assert "Member must have length greater than or equal to 3" in _refusal("AWS::DynamoDB::Table", {
        "TableName": "ab", "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}]})
    assert _refusal("AWS::Lambda::Function", {"Role": "arn:aws:iam::123456789012:role/r"}) == (
        "Properties validation failed for resource Thing with message: [#: required key [Code] not found]")
    role = "arn:aws:iam::123456789012:role/r"
    assert "at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 5400" in _refusal(
        "AWS::Lambda::Function", {"Code": {}, "Role": role, "Timeout": "9999"})
    assert "Member must satisfy regular expression pattern" in _refusal("AWS::Lambda::Function", {"Code": {}, "Role": "r"})


def test_valid_properties_pass_in_every_region():
    from workshop.emulator import cfn_validate

    for region in ("us-east-1", "ap-southeast-2"):
        cfn_validate.validate("Role", "AWS::IAM::Role", {**ROLE, "RoleName": "wild-rydes-dev-us-east-1-lambdaRole",
                                                         "Policies": [{"PolicyName": "p", "PolicyDocument": {}}]}, region)
        cfn_validate.validate("P", "AWS::SSM::Parameter", {"Name": "/wild-rydes/dev/url", "Type": "String",
                                                           "Value": "https://x"}, region)
        cfn_validate.validate("T", "AWS::SNS::Topic", {"TopicName": "RideCompleted-dev"}, region)
        cfn_validate.validate("X", "AWS::Unknown::Type", {"Anything": 1}, region)


def test_generated_names_are_cloudformations():
    from workshop.emulator import cfn_validate

    stack = "wild-rydes-ride-record-dev-" + "x" * 30
    bucket = cfn_validate.generated_name("AWS::S3::Bucket", stack, "ServerlessDeploymentBucket")
    head, logical, suffix = bucket.rsplit("-", 2)
    assert len(bucket) == 63 and bucket == bucket.lower() and stack.startswith(head) and len(head) >= 20
    assert "serverlessdeploymentbucket".startswith(logical) and logical != "serverlessdeploymentbucket" and len(suffix) == 12
    short = cfn_validate.generated_name("AWS::S3::Bucket", "wild-rydes-dev", "ServerlessDeploymentBucket")
    assert short.startswith("wild-rydes-dev-serverlessdeploymentbucket-") and len(short.rsplit("-", 1)[1]) == 12
    role = cfn_validate.generated_name("AWS::IAM::Role", stack, "IamRoleLambdaExecution")
    assert len(role) <= 64 and role.rsplit("-", 1)[1].isupper()
