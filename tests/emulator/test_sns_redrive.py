"""A subscription's own dead letter queue (RedrivePolicy), as SNS keeps and uses it (issue 17 item 3, bonus step 14).

AWS's behaviour these tests hold the emulator to (recorded against AWS in LocalStack's snapshot tests
tests/aws/services/sns/test_sns.snapshot.json, and the SNS developer guide's "Amazon SNS dead-letter queues"):
- SetSubscriptionAttributes refuses a RedrivePolicy that is not JSON ("Invalid parameter: RedrivePolicy: failed to
  parse JSON. ..."), whose deadLetterTargetArn is no ARN ("... deadLetterTargetArn is an invalid arn"), or with an
  unknown key ("... invalid JSON. Attribute maxReceiveCount is unknown."), code InvalidParameter, HTTP 400;
  Subscribe words it "Invalid parameter: Attributes Reason: ...".
- A Lambda subscription whose function SNS cannot invoke (deleted, or no permission: client-side errors) sends the
  message to the DLQ: the body is the SQS-style notification envelope with the message attributes inside it.
- The DLQ must let sns.amazonaws.com sqs:SendMessage (the guide's queue policy, conditioned on the topic).
"""

from __future__ import annotations

import json
import shutil

import pytest
from botocore.exceptions import ClientError
from emulator_support import ACCOUNT, FIXTURES, OSLS, REGION, STAGE, TRUST, module_emulator, wait_for, zipped

from workshop import emulator

HANDLER = '''
def handler(event, context):
    print("invoked", event["Records"][0]["Sns"]["Message"])
    if "fail" in event["Records"][0]["Sns"]["Message"]:
        raise RuntimeError("asked to fail")
    return "ok"
'''


def _zip() -> bytes:
    return zipped(HANDLER)


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    yield from module_emulator(tmp_path_factory, "redrive")


def _queue(emu, name: str, allow_topic: str | None = None) -> tuple[str, str]:
    """A queue (url, arn); with `allow_topic`, the guide's policy letting SNS send to it for that topic."""
    sqs = emu.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    if allow_topic:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": arn, "Condition": {"ArnEquals": {"aws:SourceArn": allow_topic}}}]})})
    return url, arn


def _function(emu, name: str, dlq_arn: str | None = None) -> str:
    iam, lam = emu.client("iam"), emu.client("lambda")
    statements = [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]
    if dlq_arn:
        statements.append({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dlq_arn})
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName=f"{name}-role", PolicyName="fn",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    extra = {"DeadLetterConfig": {"TargetArn": dlq_arn}} if dlq_arn else {}
    return lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="index.handler",
                               Code={"ZipFile": _zip()}, Timeout=20, **extra)["FunctionArn"]


def _messages(emu, url: str) -> list[dict]:
    return emu.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=0, MaxNumberOfMessages=10,
                                             MessageAttributeNames=["All"]).get("Messages", [])


def _log_has(emu, text: str) -> bool:
    return any(text in line for line in emulator.tail_log(emu.state_dir, 400))


def _error(call) -> dict:
    with pytest.raises(ClientError) as refused:
        call()
    return {"Code": refused.value.response["Error"]["Code"], "Message": refused.value.response["Error"]["Message"],
            "Status": refused.value.response["ResponseMetadata"]["HTTPStatusCode"]}


# ---- the attribute ------------------------------------------------------------------------------------------

def test_the_redrive_policy_is_kept_and_what_sns_refuses_is_refused(emu):
    sns = emu.client("sns")
    topic = sns.create_topic(Name="keep")["TopicArn"]
    _, dlq = _queue(emu, "keep-dlq")
    fn = _function(emu, "keep-fn")
    policy = json.dumps({"deadLetterTargetArn": dlq})
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn, Attributes={"RedrivePolicy": policy},
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    assert json.loads(sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq}

    def set_to(value: str):
        return lambda: sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RedrivePolicy",
                                                       AttributeValue=value)

    assert _error(set_to(json.dumps({"deadLetterTargetArn": "fake-arn"}))) == {
        "Code": "InvalidParameter", "Message": "Invalid parameter: RedrivePolicy: deadLetterTargetArn is an invalid arn",
        "Status": 400}
    assert _error(set_to(json.dumps({"deadLetterTargetArn": dlq, "maxReceiveCount": 3})))["Message"] == (
        "Invalid parameter: RedrivePolicy: invalid JSON. Attribute maxReceiveCount is unknown.")
    bad_json = _error(set_to("{invalidjson}"))
    assert bad_json["Code"] == "InvalidParameter"
    assert bad_json["Message"].startswith("Invalid parameter: RedrivePolicy: failed to parse JSON.")
    assert _error(set_to("{}"))["Message"] == "Invalid parameter: RedrivePolicy: deadLetterTargetArn is an invalid arn"
    assert _error(lambda: sns.set_subscription_attributes(  # an unknown subscription is not found before anything
        SubscriptionArn=f"{topic}:00000000-0000-0000-0000-000000000000", AttributeName="RedrivePolicy",
        AttributeValue="{invalidjson}"))["Code"] == "NotFound"
    # refusals left the policy as it was; an empty value removes it
    assert json.loads(sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq}
    set_to("")()
    assert "RedrivePolicy" not in sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    set_to(policy)()
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["RedrivePolicy"] == policy

    # Subscribe refuses with its own wording and subscribes nothing
    other = sns.create_topic(Name="keep-other")["TopicArn"]
    refused = _error(lambda: sns.subscribe(TopicArn=other, Protocol="lambda", Endpoint=fn,
                                           Attributes={"RedrivePolicy": "not json"}))
    assert refused["Code"] == "InvalidParameter"
    assert refused["Message"].startswith("Invalid parameter: Attributes Reason: RedrivePolicy: failed to parse JSON.")
    assert sns.list_subscriptions_by_topic(TopicArn=other)["Subscriptions"] == []


# ---- delivery -----------------------------------------------------------------------------------------------

def test_a_message_sns_cannot_deliver_to_a_function_goes_to_the_subscription_dlq(emu):
    sns, lam = emu.client("sns"), emu.client("lambda")
    topic = sns.create_topic(Name="undeliverable")["TopicArn"]
    url, dlq = _queue(emu, "undeliverable-dlq", allow_topic=topic)
    fn = _function(emu, "no-permission")  # no AWS::Lambda::Permission for SNS
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn, ReturnSubscriptionArn=True,
                        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq})})["SubscriptionArn"]
    message_id = sns.publish(TopicArn=topic, Message='{"ride": 1}', Subject="a ride",
                             MessageAttributes={"kind": {"DataType": "String", "StringValue": "ride"}})["MessageId"]
    (dead,) = wait_for(lambda: _messages(emu, url), timeout=20)
    body = json.loads(dead["Body"])
    assert {k: body[k] for k in ("Type", "MessageId", "TopicArn", "Subject", "Message")} == {
        "Type": "Notification", "MessageId": message_id, "TopicArn": topic, "Subject": "a ride", "Message": '{"ride": 1}'}
    assert body["MessageAttributes"] == {"kind": {"Type": "String", "Value": "ride"}}
    assert body["UnsubscribeURL"].endswith(f"SubscriptionArn={sub}")
    assert "MessageAttributes" not in dead  # AWS puts the attributes in the envelope only
    assert not emu.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/no-permission")["logGroups"]
    emu.client("sqs").delete_message(QueueUrl=url, ReceiptHandle=dead["ReceiptHandle"])

    # the function deleted: a client-side error too
    lam.delete_function(FunctionName="no-permission")
    sns.publish(TopicArn=topic, Message="gone")
    (gone,) = wait_for(lambda: _messages(emu, url), timeout=20)
    assert json.loads(gone["Body"])["Message"] == "gone"


def test_a_function_that_raises_is_not_a_failed_delivery(emu):
    """SNS handed the event to Lambda: Lambda's retries and the FUNCTION's dead letter queue take it, never the
    subscription's."""
    sns, lam = emu.client("sns"), emu.client("lambda")
    topic = sns.create_topic(Name="raises")["TopicArn"]
    sub_url, sub_dlq = _queue(emu, "raises-sub-dlq", allow_topic=topic)
    fn_url, fn_dlq = _queue(emu, "raises-fn-dlq")
    fn = _function(emu, "raiser", dlq_arn=fn_dlq)
    lam.add_permission(FunctionName="raiser", StatementId="sns", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", SourceArn=topic)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn,
                  Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": sub_dlq})})
    sns.publish(TopicArn=topic, Message="please fail")
    (failed,) = wait_for(lambda: _messages(emu, fn_url), timeout=30)
    assert json.loads(failed["Body"])["Records"][0]["Sns"]["Message"] == "please fail"
    assert _messages(emu, sub_url) == []


def test_a_dlq_whose_policy_does_not_let_sns_send_drops_the_message(emu):
    sns = emu.client("sns")
    topic = sns.create_topic(Name="closed")["TopicArn"]
    stranger = sns.create_topic(Name="stranger")["TopicArn"]
    fn = _function(emu, "closed-fn")
    bare_url, bare = _queue(emu, "closed-bare")  # no policy at all
    other_url, other = _queue(emu, "closed-other", allow_topic=stranger)  # allows another topic only
    for dlq in (bare, other):
        sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn, ReturnSubscriptionArn=True)["SubscriptionArn"]
        sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RedrivePolicy",
                                        AttributeValue=json.dumps({"deadLetterTargetArn": dlq}))
        sns.publish(TopicArn=topic, Message="nowhere")
        assert wait_for(lambda dlq=dlq: _log_has(emu, f"the policy of its dead letter queue {dlq} does not allow"),
                        timeout=20)
        sns.unsubscribe(SubscriptionArn=sub)
    assert _messages(emu, bare_url) == [] and _messages(emu, other_url) == []


def test_a_message_that_cannot_be_redriven_is_dropped_and_the_publish_still_succeeds(emu):
    """AWS: the publisher never sees a failed redrive; the message is dropped and counted
    (NumberOfNotificationsFailedToRedriveToDlq). A standard topic's subscription DLQ must be a standard queue: a FIFO
    one loses the message. A queue that refuses the message (here: too large for its MaximumMessageSize) likewise."""
    sns, sqs = emu.client("sns"), emu.client("sqs")
    topic = sns.create_topic(Name="lost")["TopicArn"]
    fn = _function(emu, "lost-fn")  # no permission for SNS: every delivery is redriven
    fifo_url = sqs.create_queue(QueueName="lost-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    fifo = f"arn:aws:sqs:{REGION}:{ACCOUNT}:lost-dlq.fifo"
    small_url, small = _queue(emu, "lost-small", allow_topic=topic)
    sqs.set_queue_attributes(QueueUrl=small_url, Attributes={"MaximumMessageSize": "1024"})
    for url, dlq, message in ((fifo_url, fifo, "to a fifo queue"), (small_url, small, "x" * 2000)):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": dlq, "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}]})})
        sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn, ReturnSubscriptionArn=True,
                            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq})})["SubscriptionArn"]
        assert sns.publish(TopicArn=topic, Message=message)["MessageId"]
        assert wait_for(lambda dlq=dlq: _log_has(emu, f"could not be moved to its dead letter queue {dlq}"), timeout=20)
        assert _messages(emu, url) == []
        sns.unsubscribe(SubscriptionArn=sub)
    assert _log_has(emu, f"{fifo} is a FIFO queue")


def test_a_dlq_policy_naming_its_topics_with_a_wildcard_lets_sns_send(emu):
    """ArnEquals, like ArnLike, takes `*` and `?` inside each part of the ARN (IAM's ARN condition operators)."""
    sns, sqs = emu.client("sns"), emu.client("sqs")
    topic = sns.create_topic(Name="wild-rides")["TopicArn"]
    url, dlq = _queue(emu, "wild-dlq")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": dlq,
        "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:sns:*:{ACCOUNT}:wild-*"}}}]})})
    fn = _function(emu, "wild-fn")
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn,
                  Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq})})
    sns.publish(TopicArn=topic, Message="wild")
    (dead,) = wait_for(lambda: _messages(emu, url), timeout=20)
    assert json.loads(dead["Body"])["Message"] == "wild"


# ---- CloudFormation, as osls compiles an sns event's redrivePolicy ------------------------------------------

def _template(redrive: object | None = None, permission: bool = False, topic: str | None = None) -> str:
    resources: dict = {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "cfn-rides"}},
        "Dlq": {"Type": "AWS::SQS::Queue"},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": TRUST}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.12", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"S3Bucket": "redrive-code", "S3Key": "fn.zip"}}},
        "Sub": {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": topic or {"Ref": "Topic"}, "Protocol": "lambda", "Endpoint": {"Fn::GetAtt": ["Fn", "Arn"]}}},
    }
    if redrive is not None:
        resources["Sub"]["Properties"]["RedrivePolicy"] = redrive
        resources["DlqPolicy"] = {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "Queues": [{"Ref": "Dlq"}],
            "PolicyDocument": {"Version": "2012-10-17", "Id": "DlqPolicy", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
                "Resource": {"Fn::GetAtt": ["Dlq", "Arn"]}, "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": "Topic"}}}}]}}}
    if permission:
        resources["Permission"] = {"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": {"Fn::GetAtt": ["Fn", "Arn"]}, "Action": "lambda:InvokeFunction",
            "Principal": "sns.amazonaws.com", "SourceArn": {"Ref": "Topic"}}}
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources})


def _physical(cfn, stack: str, logical: str) -> str:
    return cfn.describe_stack_resource(StackName=stack, LogicalResourceId=logical)["StackResourceDetail"]["PhysicalResourceId"]


def test_a_stack_gives_the_subscription_its_dlq_in_place_and_refuses_a_bad_one(emu):
    s3, cfn, sns = emu.client("s3"), emu.client("cloudformation"), emu.client("sns")
    s3.create_bucket(Bucket="redrive-code")
    s3.put_object(Bucket="redrive-code", Key="fn.zip", Body=_zip())
    cfn.create_stack(StackName="redrive", TemplateBody=_template(), Capabilities=["CAPABILITY_IAM"])
    sub = _physical(cfn, "redrive", "Sub")
    assert "RedrivePolicy" not in sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]

    redrive = {"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}}
    cfn.update_stack(StackName="redrive", TemplateBody=_template(redrive), Capabilities=["CAPABILITY_IAM"])
    assert cfn.describe_stacks(StackName="redrive")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert _physical(cfn, "redrive", "Sub") == sub  # RedrivePolicy updates with no interruption: same subscription
    url = _physical(cfn, "redrive", "Dlq")
    dlq = emu.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert json.loads(sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq}
    topic = _physical(cfn, "redrive", "Topic")
    sns.publish(TopicArn=topic, Message="no permission yet")
    (dead,) = wait_for(lambda: _messages(emu, url), timeout=20)
    assert json.loads(dead["Body"])["Message"] == "no permission yet"

    # a bad policy fails the resource with SNS's message, and the stack rolls back to the good one
    bad = {"deadLetterTargetArn": "fake-arn"}
    cfn.update_stack(StackName="redrive", TemplateBody=_template(bad), Capabilities=["CAPABILITY_IAM"])
    assert cfn.describe_stacks(StackName="redrive")["Stacks"][0]["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    reasons = [e.get("ResourceStatusReason", "") for e in cfn.describe_stack_events(StackName="redrive")["StackEvents"]
               if e["LogicalResourceId"] == "Sub" and e["ResourceStatus"] == "UPDATE_FAILED"]
    assert reasons and "RedrivePolicy: deadLetterTargetArn is an invalid arn" in reasons[0]
    assert json.loads(sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq}

    # a new stack with a bad policy on a topic it does not own leaves no subscription on it
    outside = sns.create_topic(Name="cfn-outside")["TopicArn"]
    cfn.create_stack(StackName="redrive-bad", TemplateBody=_template(bad, topic=outside).replace("cfn-rides", "cfn-bad"),
                     Capabilities=["CAPABILITY_IAM"])
    assert cfn.describe_stacks(StackName="redrive-bad")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    assert sns.list_subscriptions_by_topic(TopicArn=outside)["Subscriptions"] == []

    # removing the policy from the template removes it from the subscription
    cfn.update_stack(StackName="redrive", TemplateBody=_template(permission=True), Capabilities=["CAPABILITY_IAM"])
    assert _physical(cfn, "redrive", "Sub") == sub
    assert "RedrivePolicy" not in sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]


# ---- the real osls: an sns event's redrivePolicy, added to a deployed service ------------------------------

def test_an_osls_redrive_policy_added_to_a_deployed_service_catches_an_undeliverable_message(emu, tmp_path):
    if not OSLS.exists():
        pytest.skip("osls is not installed (run `npm ci`)")
    service = tmp_path / "record"
    shutil.copytree(FIXTURES / "record", service)
    emu.osls(service, "deploy")
    cfn, sns, lam = emu.client("cloudformation"), emu.client("sns"), emu.client("lambda")
    stack = f"fixture-record-{STAGE}"
    topic = next(o["OutputValue"] for o in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
                 if o["OutputKey"] == "TopicArn")
    (before,) = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]

    config = (service / "serverless.yml").read_text()
    marker = "          topicName: fixture-rides-${sls:stage}\n"
    assert marker in config
    (service / "serverless.yml").write_text(config.replace(marker, marker + "          redrivePolicy:\n"
                                                           "            deadLetterTargetRef: RecordDlq\n"))
    emu.osls(service, "deploy")
    (after,) = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert after["SubscriptionArn"] == before["SubscriptionArn"]
    url = next(r["PhysicalResourceId"] for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
               if r["LogicalResourceId"] == "RecordDlq")
    dlq = emu.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = sns.get_subscription_attributes(SubscriptionArn=after["SubscriptionArn"])["Attributes"]
    assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": dlq}

    # SNS may no longer invoke the function: the message lands in the queue osls's QueuePolicy opened to SNS
    function = after["Endpoint"].split(":")[6]
    policy = json.loads(lam.get_policy(FunctionName=function)["Policy"])
    for statement in policy["Statement"]:
        lam.remove_permission(FunctionName=function, StatementId=statement["Sid"])
    sns.publish(TopicArn=topic, Message='{"RideId": "redriven"}')
    (dead,) = wait_for(lambda: _messages(emu, url), timeout=20)
    assert json.loads(json.loads(dead["Body"])["Message"]) == {"RideId": "redriven"}
