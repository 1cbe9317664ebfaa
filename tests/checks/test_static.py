"""Static checks: each fails at its step's start and passes after its solution; other correct spellings pass; mistakes get the right fix."""

from __future__ import annotations

import pytest

from tests.checks.conftest import edit, run_check
from workshop.checks import registry
from workshop.course import model as course_model

RR_YML, WR_YML = "wild-rydes-ride-record/serverless.yml", "wild-rydes/serverless.yml"
# Step number -> the static checks it runs (from steps/course.toml through the registry).
CODE_STEPS = tuple(s.number for s in course_model.load().steps if {"code", "config"} & set(s.kinds))
OWN_TESTS = {"ride-record-tests-pass", "wild-rydes-tests-pass"}


def _static_checks(step_number: int) -> list[str]:
    from workshop.course import model as course

    step = course.load().step(step_number)
    return [c for c in step.checks if registry.get(c).family == "static"]


def _run(root, ids):
    from tests.conftest import REPO
    from workshop.checks import runner as verify
    from workshop.checks.model import Context
    from workshop.deploy.targets import Target

    return {r.check.id: r.result for r in verify.run_checks(Context(root, Target(), course_root=REPO), ids)}


@pytest.mark.parametrize("step", CODE_STEPS)
def test_every_static_check_fails_at_the_start_of_its_step_and_passes_after(states, step):
    ids = _static_checks(step)
    assert ids, f"step {step} has no static check"
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:  # the behaviour checks' test runs are subprocesses: run both states at once
        before, after = pool.map(lambda n: _run(states(n), ids), (step - 1, step))
    for check_id in ids:
        if check_id in OWN_TESTS:  # every checkpoint's own tests pass: the step's other checks are what fail
            continue
        assert before[check_id].result == "fail", (check_id, before[check_id])
        assert before[check_id].fix and before[check_id].observed
        assert after[check_id].result == "pass", (check_id, after[check_id])


# --- other correct spellings --------------------------------------------------------------------------

PARAM_VALUE = "        Value:\n          Ref: RidesSnsTopic"


@pytest.mark.parametrize("value", [
    "        Value: !Ref RidesSnsTopic",
    "        Value: !GetAtt RidesSnsTopic.TopicArn",
    "        Value:\n          Fn::GetAtt: [RidesSnsTopic, TopicArn]",
    "        Value: !Sub '${RidesSnsTopic}'",
])
def test_topic_parameter_value_spellings_pass(workspace, value):
    ws = workspace(5)
    edit(ws, WR_YML, PARAM_VALUE, value)
    assert run_check(ws, "topic-arn-parameter-declared").result == "pass"


@pytest.mark.parametrize("name, custom", [
    ("${self:custom.topicParameter}", "custom:\n  topicParameter: /wild-rydes/${sls:stage}/SnsTopicArn\n"),
    ("/wild-rydes/${opt:stage, 'dev'}/SnsTopicArn", ""),
    ("/wild-rydes/${self:provider.stage}/SnsTopicArn", ""),
])
def test_topic_parameter_name_spellings_pass(workspace, name, custom):
    ws = workspace(5)
    edit(ws, WR_YML, "Name: /wild-rydes/${sls:stage}/SnsTopicArn", f"Name: {name}")
    (ws / WR_YML).write_text((ws / WR_YML).read_text() + "\n" + custom)
    assert run_check(ws, "topic-arn-parameter-declared").result == "pass"


SNS_EVENT = "      - sns:\n          arn: ${ssm:/wild-rydes/${sls:stage}/SnsTopicArn}"


@pytest.mark.parametrize("event, custom", [
    ("      - sns: ${ssm:/wild-rydes/${sls:stage}/SnsTopicArn}", ""),
    ("      - sns:\n          arn: ${self:custom.ridesTopicArn}", "custom:\n  ridesTopicArn: ${ssm:/wild-rydes/${sls:stage}/SnsTopicArn}\n"),
    ("      - sns:\n          arn: ${ssm:/wild-rydes/${opt:stage, 'dev'}/SnsTopicArn}", ""),
])
def test_sns_event_spellings_pass(workspace, event, custom):
    ws = workspace(9)
    edit(ws, RR_YML, SNS_EVENT, event)
    (ws / RR_YML).write_text((ws / RR_YML).read_text() + "\n" + custom)
    assert run_check(ws, "sns-event-declared").result == "pass"


def test_http_event_short_form_passes(workspace):
    ws = workspace(2)
    edit(ws, RR_YML, "      - http:\n          path: /record\n          method: post", "      - http: POST record")
    assert run_check(ws, "http-function-declared").result == "pass"


def test_table_name_from_the_provider_environment_passes(workspace):
    ws = workspace(8)
    edit(ws, RR_YML, "    handler: handlers/put_ride_record.handler_sns\n    environment:\n      DDB_TABLE_NAME:\n        Ref: RideRecordTable\n",
         "    handler: handlers/put_ride_record.handler_sns\n")
    edit(ws, RR_YML, "  region: ${opt:region, 'us-east-1'}\n", "  region: ${opt:region, 'us-east-1'}\n  environment:\n    DDB_TABLE_NAME: !Ref RideRecordTable\n")
    assert run_check(ws, "sns-function-declared").result == "pass"


DLQ_STATEMENT = "        - Effect: Allow\n          Action:\n            - sqs:SendMessage\n          Resource:\n            - Fn::GetAtt: [RideRecordDlq, Arn]\n"


@pytest.mark.parametrize("statement", [
    "        - Effect: Allow\n          Action: sqs:SendMessage\n          Resource: !GetAtt RideRecordDlq.Arn\n",
    "        - Effect: Allow\n          Action: ['sqs:SendMessage', 'sqs:GetQueueUrl']\n          Resource:\n            - !GetAtt RideRecordDlq.Arn\n",
    "        - Effect: Allow\n          Action: 'sqs:*'\n          Resource: !GetAtt RideRecordDlq.Arn\n",
])
def test_dlq_statement_spellings_pass(workspace, statement):
    ws = workspace(13)
    edit(ws, RR_YML, DLQ_STATEMENT, statement)
    edit(ws, RR_YML, "    onError:\n      Fn::GetAtt: [RideRecordDlq, Arn]", "    onError: !GetAtt RideRecordDlq.Arn")
    assert run_check(ws, "dlq-declared").result == "pass"


def test_one_merged_statement_for_table_and_queue_passes(workspace):
    ws = workspace(13)
    edit(ws, RR_YML, DLQ_STATEMENT, "")
    edit(ws, RR_YML, "            - dynamodb:PutItem\n", "            - dynamodb:PutItem\n            - sqs:SendMessage\n")
    edit(ws, RR_YML, "            - Fn::GetAtt: [RideRecordTable, Arn]\n",
         "            - Fn::GetAtt: [RideRecordTable, Arn]\n            - !GetAtt RideRecordDlq.Arn\n")
    assert run_check(ws, "dlq-declared").result == "pass"


def test_legacy_iam_role_statements_pass(workspace):
    ws = workspace(11)
    edit(ws, WR_YML, "  iam:\n    role:\n      statements:\n", "  iamRoleStatements:\n")
    text = (ws / WR_YML).read_text()
    # the statements were indented for iam.role.statements: dedent them by four spaces
    text = text.replace("        - Effect: Allow\n          Action:\n            - sns:Publish\n          Resource:\n            - Ref: RidesSnsTopic",
                        "    - Effect: Allow\n      Action: sns:Publish\n      Resource: !Ref RidesSnsTopic")
    (ws / WR_YML).write_text(text)
    assert run_check(ws, "request-ride-publishes").result == "pass"


# --- mistakes learners make, and the fix they are given --------------------------------------------------

def test_topic_but_no_ssm_parameter(workspace):
    ws = workspace(5)
    text = (ws / WR_YML).read_text()
    (ws / WR_YML).write_text(text[: text.index("    # Publish the topic's ARN")])
    result = run_check(ws, "topic-arn-parameter-declared")
    assert result.result == "fail" and "no AWS::SSM::Parameter" in result.observed
    assert "add an `AWS::SSM::Parameter`" in result.fix


def test_parameter_holding_the_topic_name(workspace):
    ws = workspace(5)
    edit(ws, WR_YML, PARAM_VALUE, "        Value: !GetAtt RidesSnsTopic.TopicName")
    result = run_check(ws, "topic-arn-parameter-declared")
    assert result.result == "fail" and "NAME" in result.observed and "Ref gives its ARN" in result.fix


def test_parameter_name_with_a_fixed_stage(workspace):
    ws = workspace(5)
    edit(ws, WR_YML, "Name: /wild-rydes/${sls:stage}/SnsTopicArn", "Name: /wild-rydes/dev/SnsTopicArn")
    result = run_check(ws, "topic-arn-parameter-declared")
    assert result.result == "fail" and "fixes the stage" in result.observed


def test_hard_coded_topic_arn_in_the_sns_event(workspace):
    ws = workspace(9)
    edit(ws, RR_YML, "arn: ${ssm:/wild-rydes/${sls:stage}/SnsTopicArn}", "arn: arn:aws:sns:us-east-1:123456789012:wild-rydes-dev-RidesSnsTopic-ABC")
    result = run_check(ws, "sns-event-declared")
    assert result.result == "fail" and "pasted topic ARN" in result.observed and "${ssm:/wild-rydes/${sls:stage}/SnsTopicArn}" in result.fix


def test_subscription_on_the_wrong_function(workspace):
    ws = workspace(9)
    edit(ws, RR_YML, SNS_EVENT + "\n", "")
    edit(ws, RR_YML, "          method: post\n", "          method: post\n" + SNS_EVENT + "\n")
    result = run_check(ws, "sns-event-declared")
    assert result.result == "fail" and "PutRideRecordHttp" in result.observed and "move the `sns` event" in result.fix


def test_on_error_as_a_plain_string(workspace):
    ws = workspace(13)
    edit(ws, RR_YML, "    onError:\n      Fn::GetAtt: [RideRecordDlq, Arn]", "    onError: arn:aws:sqs:us-east-1:123456789012:ride-record-dlq")
    result = run_check(ws, "dlq-declared")
    assert result.result == "fail" and "plain string" in result.observed and "Fn::GetAtt: [RideRecordDlq, Arn]" in result.fix


def test_on_error_as_a_ref_gives_the_url(workspace):
    ws = workspace(13)
    edit(ws, RR_YML, "    onError:\n      Fn::GetAtt: [RideRecordDlq, Arn]", "    onError: !Ref RideRecordDlq")
    result = run_check(ws, "dlq-declared")
    assert result.result == "fail" and "URL" in result.observed


def test_forgot_sqs_send_message(workspace):
    ws = workspace(13)
    edit(ws, RR_YML, DLQ_STATEMENT, "")
    result = run_check(ws, "dlq-declared")
    assert result.result == "fail" and "sqs:SendMessage" in result.observed and "sqs:SendMessage" in result.fix


def test_forgot_sns_publish(workspace):
    ws = workspace(11)
    edit(ws, WR_YML, "            - sns:Publish\n", "            - sns:ListTopics\n")
    result = run_check(ws, "request-ride-publishes")
    assert result.result == "fail" and "sns:Publish" in result.fix


def test_client_made_inside_the_handler(workspace):
    ws = workspace(11)
    path = ws / "wild-rydes/handlers/request_ride.py"
    text = path.read_text().replace('sns = boto3.client("sns")\n', "")
    text = text.replace("    sns.publish(", "    sns = boto3.client(\"sns\")\n    sns.publish(")
    path.write_text(text)
    result = run_check(ws, "request-ride-publishes")
    assert result.result == "fail" and "module-level" in result.observed


def test_wrong_parameters_name_the_signature(workspace):
    ws = workspace(1)
    edit(ws, "wild-rydes-ride-record/handlers/put_ride_record.py", "def put_ride_record(ride):", "def put_ride_record(ride, table_name):")
    result = run_check(ws, "put-ride-record-functions")
    assert result.result == "fail" and "(ride)" in result.fix


def test_broken_yaml_names_the_line(workspace):
    ws = workspace(2)
    edit(ws, RR_YML, "functions:\n", "functions:\n  - : [\n")
    result = run_check(ws, "http-function-declared")
    assert result.result == "fail" and "line" in result.observed


# --- a hand-written subscription (the end state step 14 allows) also answers step 9's check -----------------------
HAND_SUBSCRIPTION = """    RidesSubscription:
      Type: AWS::SNS::Subscription
      Properties:
        Protocol: lambda
        TopicArn: ${ssm:/wild-rydes/${sls:stage}/SnsTopicArn}
        Endpoint: !GetAtt PutRideRecordSnsLambdaFunction.Arn
"""
HAND_PERMISSION = """    RidesSnsInvokePermission:
      Type: AWS::Lambda::Permission
      Properties:
        FunctionName: !GetAtt PutRideRecordSnsLambdaFunction.Arn
        Action: lambda:InvokeFunction
        Principal: sns.amazonaws.com
        SourceArn: ${ssm:/wild-rydes/${sls:stage}/SnsTopicArn}
"""


OTHER_TOPIC = HAND_PERMISSION.replace("${ssm:/wild-rydes/${sls:stage}/SnsTopicArn}", "arn:aws:sns:${aws:region}:${aws:accountId}:other")
NO_SOURCE = HAND_PERMISSION.replace("        SourceArn: ${ssm:/wild-rydes/${sls:stage}/SnsTopicArn}\n", "")


@pytest.mark.parametrize("permission, verdict", [(HAND_PERMISSION, "pass"), (NO_SOURCE, "pass"), ("", "fail"), (OTHER_TOPIC, "fail")])
def test_a_hand_written_subscription_answers_the_sns_event_check_with_its_permission(workspace, permission, verdict):
    """The permission must let this topic invoke the function: one for another topic lets it invoke nothing."""
    assert OTHER_TOPIC != HAND_PERMISSION and NO_SOURCE != HAND_PERMISSION
    ws = workspace(9)
    text = (ws / RR_YML).read_text()
    event = text[text.index("    events:\n      # The topic belongs"):text.index("resources:")]
    edit(ws, RR_YML, event, "\n")
    edit(ws, RR_YML, "  Resources:\n", "  Resources:\n" + HAND_SUBSCRIPTION + permission)
    assert run_check(ws, "sns-event-declared").result == verdict
