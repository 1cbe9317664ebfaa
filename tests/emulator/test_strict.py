"""The emulator refuses what AWS refuses (issue 14): each refusal as botocore parses it, code and message.

One emulator per module; functions are made with the Lambda API (osls deploys are covered by the contract tests).
"""

from __future__ import annotations

import json
import shutil
import time

import pytest
from botocore.exceptions import ClientError
from emulator_support import ACCOUNT, FIXTURES, OSLS, REGION, TRUST, json_payload, module_emulator, start_emulator, wait_for, zipped

from workshop import emulator

# A function that makes the calls its event lists and reports, for each, "ok" or the ClientError's code and message.
CALLER = '''
import boto3, os
from botocore.exceptions import ClientError

def handler(event, context):
    print("invoked", "Records" in event)
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    out = []
    for service, operation, params in event.get("calls", []):
        try:
            answer = getattr(boto3.client(service), operation)(**params)
            out.append(["ok", answer.get("Arn") or answer.get("Account") or ""])
        except ClientError as exc:
            out.append([exc.response["Error"]["Code"], exc.response["Error"].get("Message", "")])
    return out
'''



@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    yield from module_emulator(tmp_path_factory, "strict")


def _role(emu, name: str, statements: list[dict]) -> str:
    iam = emu.client("iam")
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    except ClientError:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="fn",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    return arn


def _function(emu, name: str, statements: list[dict], **extra) -> str:
    role = _role(emu, f"{name}-role", statements)
    emu.client("lambda").create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="index.handler",
                                         Code={"ZipFile": zipped(CALLER)}, Timeout=20, **extra)
    return role


def _calls(emu, name: str, *calls) -> list[list[str]]:
    response = emu.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"calls": list(calls)}))
    payload = json_payload(response)
    assert "FunctionError" not in response, payload
    return payload


def _resources(emu) -> dict[str, str]:
    sns, sqs, ddb, ssm = (emu.client(s) for s in ("sns", "sqs", "dynamodb", "ssm"))
    topic = sns.create_topic(Name="rides")["TopicArn"]
    queue = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    try:
        ddb.create_table(TableName="Rides", BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "RideId", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "RideId", "KeyType": "HASH"}])
    except ClientError:
        pass
    ssm.put_parameter(Name="/app/url", Value="https://x", Type="String", Overwrite=True)
    ssm.put_parameter(Name="/other/url", Value="https://y", Type="String", Overwrite=True)
    return {"topic": topic, "queue": queue}


def test_a_function_without_permissions_gets_each_services_own_denial(emu):
    found = _resources(emu)
    _function(emu, "nothing-allowed", [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}])
    sns, sqs, ddb, ssm = _calls(
        emu, "nothing-allowed",
        ["sns", "publish", {"TopicArn": found["topic"], "Message": "{}"}],
        ["sqs", "send_message", {"QueueUrl": found["queue"], "MessageBody": "x"}],
        ["dynamodb", "put_item", {"TableName": "Rides", "Item": {"RideId": {"S": "1"}}}],
        ["ssm", "get_parameter", {"Name": "/app/url"}],
    )
    me = f"arn:aws:sts::{ACCOUNT}:assumed-role/nothing-allowed-role/nothing-allowed"
    assert sns == ["AuthorizationError", f"User: {me} is not authorized to perform: SNS:Publish on resource: "
                   f"{found['topic']} because no identity-based policy allows the SNS:Publish action"]
    assert sqs[0] == "AccessDenied" and f"sqs:sendmessage on resource: arn:aws:sqs:{REGION}:{ACCOUNT}:dlq" in sqs[1]
    assert ddb == ["AccessDeniedException", f"User: {me} is not authorized to perform: dynamodb:PutItem on resource: "
                   f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Rides because no identity-based policy allows the "
                   "dynamodb:PutItem action"]
    assert ssm[0] == "AccessDeniedException"
    assert f"ssm:GetParameter on resource: arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/url" in ssm[1]
    # nothing was done on the function's behalf; the deployer's keys keep every right
    assert emu.client("sqs").get_queue_attributes(QueueUrl=found["queue"], AttributeNames=["All"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_allowed_calls_pass_with_resource_wildcards_and_the_session_is_the_role(emu):
    found = _resources(emu)
    _function(emu, "some-allowed", [
        {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": found["topic"]},
        {"Effect": "Allow", "Action": "ssm:GetParameter*", "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/*"},
        {"Effect": "Allow", "Action": "DynamoDB:PutItem", "Resource": f"arn:aws:dynamodb:*:{ACCOUNT}:table/Ride?"},
    ])
    results = _calls(
        emu, "some-allowed",
        ["sns", "publish", {"TopicArn": found["topic"], "Message": "{}"}],
        ["ssm", "get_parameter", {"Name": "/app/url"}],
        ["ssm", "get_parameter", {"Name": "/other/url"}],
        ["dynamodb", "put_item", {"TableName": "Rides", "Item": {"RideId": {"S": "2"}}}],
        ["sts", "get_caller_identity", {}],
    )
    assert [code for code, _ in results] == ["ok", "ok", "AccessDeniedException", "ok", "ok"]
    assert results[4][1] == f"arn:aws:sts::{ACCOUNT}:assumed-role/some-allowed-role/some-allowed"


def test_explicit_deny_wins_and_a_policy_change_applies_to_the_next_call(emu):
    found = _resources(emu)
    _function(emu, "denied", [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                              {"Effect": "Deny", "Action": "sns:*", "Resource": found["topic"]}])
    (sns,) = _calls(emu, "denied", ["sns", "publish", {"TopicArn": found["topic"], "Message": "{}"}])
    assert sns[0] == "AuthorizationError" and sns[1].endswith("with an explicit deny in an identity-based policy")
    _role(emu, "denied-role", [{"Effect": "Allow", "Action": "*", "Resource": "*"}])
    assert _calls(emu, "denied", ["sns", "publish", {"TopicArn": found["topic"], "Message": "{}"}])[0][0] == "ok"


SEND = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"}
DLQ_REFUSAL = "The provided execution role does not have permissions to call SendMessage on SQS"


def test_a_dead_letter_queue_the_role_cannot_send_to_is_refused(emu):
    found = _resources(emu)
    dlq = {"TargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"}
    with pytest.raises(ClientError) as refused:
        _function(emu, "dlq-refused", [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}], DeadLetterConfig=dlq)
    assert refused.value.response["Error"] == {"Code": "InvalidParameterValueException", "Message": DLQ_REFUSAL}
    lam = emu.client("lambda")
    _function(emu, "dlq-later", [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}])
    with pytest.raises(ClientError) as refused:
        lam.update_function_configuration(FunctionName="dlq-later", DeadLetterConfig=dlq)
    assert refused.value.response["Error"]["Message"] == DLQ_REFUSAL
    _role(emu, "dlq-later-role", [SEND])
    lam.update_function_configuration(FunctionName="dlq-later", DeadLetterConfig=dlq)
    assert lam.get_function_configuration(FunctionName="dlq-later")["DeadLetterConfig"] == dlq
    assert found["queue"].endswith("/dlq")


def _log_has(emu, text: str) -> bool:
    return any(text in line for line in emulator.tail_log(emu.state_dir, 400))


def test_lambda_sends_to_the_dead_letter_queue_with_the_role_and_drops_without_it(emu):
    found = _resources(emu)
    sqs = emu.client("sqs")
    sqs.purge_queue(QueueUrl=found["queue"])
    dlq = {"TargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"}
    _function(emu, "dlq-sender", [SEND], DeadLetterConfig=dlq)
    lam = emu.client("lambda")

    def dead_letters():
        return sqs.receive_message(QueueUrl=found["queue"], WaitTimeSeconds=0, MaxNumberOfMessages=10).get("Messages", [])

    lam.invoke(FunctionName="dlq-sender", InvocationType="Event", Payload=json.dumps({"fail": 1, "n": 1}))
    assert wait_for(dead_letters, timeout=30), "the failed event did not reach the dead letter queue"
    _role(emu, "dlq-sender-role", [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}])  # permission removed
    lam.invoke(FunctionName="dlq-sender", InvocationType="Event", Payload=json.dumps({"fail": 1, "n": 2}))
    assert wait_for(lambda: _log_has(emu, "dead letter queue of dlq-sender"), timeout=30)
    assert not dead_letters()


def test_sns_invokes_a_function_only_with_its_resource_policy(emu):
    found = _resources(emu)
    _function(emu, "sns-target", [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}])
    sns, lam, logs = emu.client("sns"), emu.client("lambda"), emu.client("logs")
    arn = lam.get_function(FunctionName="sns-target")["Configuration"]["FunctionArn"]
    sns.subscribe(TopicArn=found["topic"], Protocol="lambda", Endpoint=arn)

    def invoked() -> int:
        try:
            streams = logs.describe_log_streams(logGroupName="/aws/lambda/sns-target")["logStreams"]
        except ClientError:
            return 0
        return len(streams)

    sns.publish(TopicArn=found["topic"], Message="{}")
    assert wait_for(lambda: _log_has(emu, "does not allow sns.amazonaws.com to invoke it"), timeout=20)
    assert invoked() == 0
    lam.add_permission(FunctionName="sns-target", StatementId="sns", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", SourceArn=found["topic"])
    sns.publish(TopicArn=found["topic"], Message="{}")
    assert wait_for(invoked, timeout=20) == 1


# ---- stacks: a failing resource fails the stack as CloudFormation does -----------------------------------------

def _template(*, dlq: bool = False, send: bool = False, queue: bool = True, extra: dict | None = None) -> str:
    statements = [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]
    if send:
        statements.append({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["Dlq", "Arn"]}})
    resources: dict = {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": TRUST,
            "Policies": [{"PolicyName": "fn", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}]}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.12", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"S3Bucket": "strict-code", "S3Key": "caller.zip"}}},
    }
    if queue:
        resources["Dlq"] = {"Type": "AWS::SQS::Queue"}
    if dlq:
        resources["Fn"]["Properties"]["DeadLetterConfig"] = {"TargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}}
    resources.update(extra or {})
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources})


def _code(emu) -> None:
    s3 = emu.client("s3")
    s3.create_bucket(Bucket="strict-code")
    s3.put_object(Bucket="strict-code", Key="caller.zip", Body=zipped(CALLER))


def _events(cfn, stack: str) -> list[tuple[str, str, str]]:
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
            for e in cfn.describe_stack_events(StackName=stack)["StackEvents"]]


def _change(cfn, stack: str, template: str, kind: str = "UPDATE", name: str = "cs") -> None:
    cfn.create_change_set(StackName=stack, ChangeSetName=name, TemplateBody=template, ChangeSetType=kind,
                          Capabilities=["CAPABILITY_IAM"])
    cfn.execute_change_set(StackName=stack, ChangeSetName=name)
    cfn.delete_change_set(StackName=stack, ChangeSetName=name) if kind == "UPDATE" else None


def test_a_stack_whose_function_cannot_use_its_dlq_fails_and_rolls_back(emu):
    _code(emu)
    cfn, lam = emu.client("cloudformation"), emu.client("lambda")
    cfn.create_stack(StackName="dlq-create", TemplateBody=_template(dlq=True), Capabilities=["CAPABILITY_IAM"])
    stack = cfn.describe_stacks(StackName="dlq-create")["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [e for e in _events(cfn, "dlq-create") if e[1] == "CREATE_FAILED"]
    assert failed and failed[0][0] == "Fn"
    assert failed[0][2].startswith(f'Resource handler returned message: "{DLQ_REFUSAL} (Service: Lambda, Status Code: 400')
    assert not [q for q in emu.client("sqs").list_queues().get("QueueUrls", []) if "dlq-create" in q]

    # an update that adds the DLQ without the permission fails and rolls back; with the permission it passes
    cfn.create_stack(StackName="dlq-update", TemplateBody=_template(), Capabilities=["CAPABILITY_IAM"])
    fn_name = cfn.describe_stack_resource(StackName="dlq-update", LogicalResourceId="Fn")[
        "StackResourceDetail"]["PhysicalResourceId"]
    _change(cfn, "dlq-update", _template(dlq=True))
    assert cfn.describe_stacks(StackName="dlq-update")["Stacks"][0]["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert any(e[0] == "Fn" and e[1] == "UPDATE_FAILED" and DLQ_REFUSAL in e[2] for e in _events(cfn, "dlq-update"))
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=fn_name)
    _change(cfn, "dlq-update", _template(dlq=True, send=True), name="cs2")
    assert cfn.describe_stacks(StackName="dlq-update")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert "DeadLetterConfig" in lam.get_function_configuration(FunctionName=fn_name)


def test_a_resource_removed_then_added_again_exists_and_the_stack_deletes_first_time(emu):
    """Issue 13 item 11: the stack listed the re-added queue with no queue behind it."""
    _code(emu)
    cfn, sqs = emu.client("cloudformation"), emu.client("sqs")
    cfn.create_stack(StackName="readd", TemplateBody=_template(), Capabilities=["CAPABILITY_IAM"])
    _change(cfn, "readd", _template(queue=False), name="remove")
    assert "Dlq" not in [r["LogicalResourceId"] for r in cfn.describe_stack_resources(StackName="readd")["StackResources"]]
    _change(cfn, "readd", _template(), name="add")
    url = cfn.describe_stack_resource(StackName="readd", LogicalResourceId="Dlq")["StackResourceDetail"]["PhysicalResourceId"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    cfn.delete_stack(StackName="readd")
    assert not [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == "readd" and s["StackStatus"] != "DELETE_COMPLETE"]


def test_interleaved_create_change_sets_make_one_stack_and_never_crash(emu):
    """Issue 13 item 10: two first deploys at once crashed the change-set code ('dict' object has no attribute 'read')."""
    _code(emu)
    cfn = emu.client("cloudformation")
    for name in ("first", "second"):
        cfn.create_change_set(StackName="twice", ChangeSetName=name, TemplateBody=_template(), ChangeSetType="CREATE",
                              Capabilities=["CAPABILITY_IAM"])
    assert len([s for s in cfn.describe_stacks()["Stacks"] if s["StackName"] == "twice"]) == 1
    cfn.execute_change_set(StackName="twice", ChangeSetName="first")
    with pytest.raises(ClientError) as late:
        cfn.execute_change_set(StackName="twice", ChangeSetName="second")
    assert late.value.response["Error"]["Code"] == "InvalidChangeSetStatus"
    with pytest.raises(ClientError) as again:
        cfn.create_change_set(StackName="twice", ChangeSetName="third", TemplateBody=_template(), ChangeSetType="CREATE")
    assert again.value.response["Error"]["Message"] == (
        "Stack [twice] already exists and cannot be created again with the changeSet [third].")
    assert cfn.describe_stacks(StackName="twice")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_an_osls_role_name_over_64_characters_fails_the_deploy_as_on_aws(emu, tmp_path):
    """osls names the role <service>-<stage>-<region>-lambdaRole: a long personal stage makes it too long for IAM."""
    if not OSLS.exists():
        pytest.skip("osls is not installed (run `npm ci`)")
    shutil.copytree(FIXTURES / "record", tmp_path / "record")
    stage = "dev-" + "j" * 30
    done = emu.osls(tmp_path / "record", "deploy", check=False, stage=stage)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "IamRoleLambdaExecution" in output and "Member must have length less than or equal to 64" in output
    stack = emu.client("cloudformation").describe_stacks(StackName=f"fixture-record-{stage}")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert not [r for r in emu.client("iam").list_roles()["Roles"] if stage in r["RoleName"]]


def test_filter_log_events_is_throttled_beyond_5_per_second(emu):
    logs = emu.client("logs")
    logs.create_log_group(logGroupName="/aws/lambda/throttled")
    fast = boto3_client_without_retries(emu, "logs")
    answers = []
    for _ in range(8):
        try:
            fast.filter_log_events(logGroupName="/aws/lambda/throttled")
            answers.append("ok")
        except ClientError as exc:
            answers.append(f"{exc.response['Error']['Code']}: {exc.response['Error']['Message']}")
    assert answers[:5] == ["ok"] * 5 and "ThrottlingException: Rate exceeded" in answers[5:]
    time.sleep(1.1)  # the next second admits calls again
    assert logs.filter_log_events(logGroupName="/aws/lambda/throttled")["events"] == []


def boto3_client_without_retries(emu, service: str):
    import boto3
    from botocore.config import Config

    return boto3.client(service, endpoint_url=emu.info.endpoint, region_name=REGION, aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=Config(retries={"total_max_attempts": 1}))


# ---- warm starts and runtimes -------------------------------------------------------------------------------------

COUNTER = '''
import sys
COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    return {"count": COUNT, "python": "%d.%d" % sys.version_info[:2]}
'''


def _counter(emu, name: str, runtime: str = "python3.12") -> None:
    role = _role(emu, f"{name}-role", [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}])
    emu.client("lambda").create_function(FunctionName=name, Runtime=runtime, Role=role, Handler="index.handler",
                                         Code={"ZipFile": zipped(COUNTER)}, Timeout=20)


def _invoke_tail(emu, name: str) -> tuple[dict, str]:
    import base64

    response = emu.client("lambda").invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    return json_payload(response), base64.b64decode(response["LogResult"]).decode()


def test_a_warm_environment_keeps_the_handler_loaded_until_a_deploy(emu):
    _counter(emu, "warm")
    counts, tails = zip(*(_invoke_tail(emu, "warm") for _ in range(3)), strict=True)
    assert [c["count"] for c in counts] == [1, 2, 3]  # the module stayed imported
    assert "Init Duration" in tails[0] and "Init Duration" not in tails[1] + tails[2]
    emu.client("lambda").update_function_configuration(FunctionName="warm", Environment={"Variables": {"V": "2"}})
    again, tail = _invoke_tail(emu, "warm")
    assert again["count"] == 1 and "Init Duration" in tail  # a changed function gets a new environment


def test_the_declared_python_runs_when_installed_and_old_runtimes_are_refused(emu):
    from workshop.emulator import lambda_run

    _counter(emu, "py312", "python3.12")
    answer, tail = _invoke_tail(emu, "py312")
    executable, note = lambda_run.interpreter("python3.12")
    here = "{}.{}".format(*__import__("sys").version_info[:2])
    assert answer["python"] == ("3.12" if note is None else here)
    assert (note is None) == ("is not installed on this machine" not in tail)
    _counter(emu, "py314", "python3.14")
    answer, tail = _invoke_tail(emu, "py314")
    if lambda_run.interpreter("python3.14")[1] is not None:
        assert "[WARNING] python3.14 is not installed on this machine: the emulator runs this function on Python" in tail
        assert any(line.startswith("py314: python3.14 is not installed") for line in emulator.runtime_notes(emu.state_dir))
        _, second = _invoke_tail(emu, "py314")
        assert "is not installed" not in second  # said once, on the cold start
    with pytest.raises(ClientError) as refused:
        _counter(emu, "py38", "python3.8")
    assert refused.value.response["Error"] == {"Code": "InvalidParameterValueException", "Message": (
        "The runtime parameter of python3.8 is no longer supported for creating or updating AWS Lambda functions. "
        "We recommend you use a supported runtime while creating or updating functions.")}


def test_an_idle_environment_ends_after_its_timeout(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSHOP_EMULATOR_WARM_SECONDS", "1")
    (tmp_path / "home").mkdir()
    idle = start_emulator(tmp_path / "emulator", tmp_path / "home")
    try:
        _counter(idle, "idle")
        assert [_invoke_tail(idle, "idle")[0]["count"] for _ in range(2)] == [1, 2]
        time.sleep(2.5)
        again, tail = _invoke_tail(idle, "idle")
        assert again["count"] == 1 and "Init Duration" in tail
    finally:
        emulator.stop(idle.state_dir)
