"""Stack UPDATES with the workshop's own services: each redeploy must leave the emulator as the new template says.

osls redeploys through change sets, which moto applied badly (an API method kept calling a deleted function, a function
kept its old environment, a role its old policies). One emulator and one sequence of the course's checkpoints
(start -> 03 -> 10 -> 12 -> 13), deploying only what each step deploys; what each step should change is observed
right after its deploy (later steps change the same resources) and asserted by the tests below.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from emulator_support import OSLS, wait_for

from workshop import emulator
from workshop.checkpoints import build as checkpoints
from workshop.course import model as course
from workshop.course import workspace
from workshop.deploy.replay import exported
from workshop.deploy.targets import Target, deploy_env

pytestmark = pytest.mark.slow

RECORD, RIDES = "wild-rydes-ride-record", "wild-rydes"
STACKS = {RECORD: f"{RECORD}-dev", RIDES: f"{RIDES}-dev"}
# (checkpoint, services deployed in this order): a step's deploys; 10 also deploys step 06's topic, which it subscribes to
SEQUENCE = [
    ("00-deploy-start", (RECORD, RIDES)),
    ("03-deploy-http-function", (RECORD,)),
    ("10-deploy-subscription", (RIDES, RECORD)),
    ("12-deploy-sns-path", (RIDES,)),
    ("13-dead-letter-queue", (RECORD,)),
]


class Journey:
    """The emulator of the sequence, clients bound to it and what was observed after each step."""

    def __init__(self, info: emulator.EmulatorInfo, env: dict[str, str], root: Path):
        self.info, self.env, self.root = info, env, root
        self.seen: dict[str, dict[str, Any]] = {}

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.info.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def deploy(self, tree: Path, service: str, state_dir: Path) -> None:
        done = subprocess.run([str(OSLS), "deploy", "--stage", "dev", "--region", "us-east-1"], cwd=tree / service,
                              env=self.env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            log = "\n".join(emulator.tail_log(state_dir, 40))
            raise AssertionError(f"osls deploy of {service} failed:\n{done.stdout}\n{done.stderr}\n--- emulator log ---\n{log}")

    def physical(self, service: str, logical_id: str) -> str:
        found = self.client("cloudformation").describe_stack_resource(StackName=STACKS[service], LogicalResourceId=logical_id)
        return found["StackResourceDetail"]["PhysicalResourceId"]

    def post(self, service: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        api = self.physical(service, "ApiGatewayRestApi")
        url = f"{self.info.endpoint}/restapis/{api}/dev/_user_request_/{path}"
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, {"error": error.read().decode(errors="replace")}

    def recorded(self, ride_id: str) -> dict[str, Any] | None:
        table = self.physical(RECORD, "RideRecordTable")
        return self.client("dynamodb").get_item(TableName=table, Key={"RideId": {"S": ride_id}}).get("Item")

    def role_statements(self, service: str) -> list[dict[str, Any]]:
        iam = self.client("iam")
        role = self.physical(service, "IamRoleLambdaExecution")
        statements = []
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            if isinstance(document, str):  # moto returns a policy made by CloudFormation as the dict's repr
                document = ast.literal_eval(document)
            statements.extend(document["Statement"])
        return statements


def allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    def listed(value: Any) -> list[str]:
        return value if isinstance(value, list) else [value]

    return any(s["Effect"] == "Allow" and action in listed(s["Action"]) and resource in listed(s["Resource"])
               for s in statements)


def observe(journey: Journey, checkpoint: str) -> dict[str, Any]:
    """What this test module asserts about the state right after `checkpoint` was deployed."""
    seen: dict[str, Any] = {}
    if checkpoint == "03-deploy-http-function":
        api = journey.physical(RECORD, "ApiGatewayRestApi")
        resource = journey.physical(RECORD, "ApiGatewayResourceRecord")
        method = journey.client("apigateway").get_method(restApiId=api, resourceId=resource, httpMethod="POST")
        seen["uri"] = method["methodIntegration"]["uri"]
        ride = {"RideId": "ride-after-rename", "Unicorn": {"Name": "Shadowfax"}, "PickupLocation": {"Latitude": 47.6}}
        seen["status"], _ = journey.post(RECORD, "record", ride)
        seen["item"] = journey.recorded("ride-after-rename")
    elif checkpoint == "12-deploy-sns-path":
        fn = journey.physical(RIDES, "RequestRideLambdaFunction")
        seen["env"] = journey.client("lambda").get_function_configuration(FunctionName=fn)["Environment"]["Variables"]
        seen["topic"] = journey.physical(RIDES, "RidesSnsTopic")
        versions = journey.client("lambda").list_versions_by_function(FunctionName=fn)["Versions"]
        seen["version_env"] = max((v for v in versions if v["Version"] != "$LATEST"), key=lambda v: int(v["Version"]),
                                  default={}).get("Environment", {}).get("Variables", {})
        seen["statements"] = journey.role_statements(RIDES)
        seen["status"], ride = journey.post(RIDES, "ride", {"PickupLocation": {"Latitude": 47.61, "Longitude": -122.2}})
        # SNS delivers on its own thread: the record arrives shortly after the 201
        seen["item"] = ride.get("RideId") and wait_for(lambda: journey.recorded(ride["RideId"]), timeout=30)
    elif checkpoint == "13-dead-letter-queue":
        fn = journey.physical(RECORD, "PutRideRecordSnsLambdaFunction")
        seen["config"] = journey.client("lambda").get_function_configuration(FunctionName=fn)
        queue_url = journey.physical(RECORD, "RideRecordDlq")
        attributes = journey.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        seen["queue_arn"] = attributes["Attributes"]["QueueArn"]
        seen["statements"] = journey.role_statements(RECORD)
    return seen


@pytest.fixture(scope="module")
def journey(tmp_path_factory) -> Journey:
    if not OSLS.exists():
        pytest.skip("osls is not installed (run `npm ci`)")
    tmp = tmp_path_factory.mktemp("updates")
    root, home, state_dir = tmp / "workspace", tmp / "home", tmp / "emu"
    home.mkdir()
    loaded = course.load()
    workspace.create(root, loaded.course_version, loaded.steps[0].id)
    checkpoints.init_repo(root, loaded)
    info = emulator.start(state_dir)
    try:
        journey = Journey(info, deploy_env(Target("local"), endpoint=info.endpoint, home=home), root)
        for checkpoint, services in SEQUENCE:
            with exported(root, f"checkpoint/{checkpoint}") as tree:
                for service in services:
                    journey.deploy(tree, service, state_dir)
            journey.seen[checkpoint] = observe(journey, checkpoint)
        yield journey
    finally:
        emulator.stop(state_dir)


def test_renamed_function_is_wired_to_the_route(journey: Journey) -> None:
    seen = journey.seen["03-deploy-http-function"]
    assert seen["uri"].endswith(":function:wild-rydes-ride-record-dev-PutRideRecordHttp/invocations")
    assert seen["status"] == 201
    assert seen["item"] and seen["item"]["RideId"] == {"S": "ride-after-rename"}


def test_function_environment_follows_the_template(journey: Journey) -> None:
    seen = journey.seen["12-deploy-sns-path"]
    assert seen["env"].get("RIDES_SNS_TOPIC_ARN") == seen["topic"]
    assert "RIDE_RECORD_URL" not in seen["env"]
    # the version this deploy published snapshots the updated function, not the previous one
    assert seen["version_env"].get("RIDES_SNS_TOPIC_ARN") == seen["topic"]


def test_role_gains_the_new_inline_statement(journey: Journey) -> None:
    seen = journey.seen["12-deploy-sns-path"]
    assert allows(seen["statements"], "sns:Publish", seen["topic"])


def test_ride_reaches_the_table_through_sns(journey: Journey) -> None:
    seen = journey.seen["12-deploy-sns-path"]
    assert seen["status"] == 201
    assert seen["item"], "the ride published on the topic never reached the table"


def test_dead_letter_queue_and_its_permission_are_added(journey: Journey) -> None:
    seen = journey.seen["13-dead-letter-queue"]
    assert seen["config"].get("DeadLetterConfig", {}).get("TargetArn") == seen["queue_arn"]
    assert allows(seen["statements"], "sqs:SendMessage", seen["queue_arn"])


def test_no_modified_resource_is_forgotten(journey: Journey) -> None:
    """Every resource of both stacks still has a physical id after all the updates (moto stored None for some)."""
    cfn = journey.client("cloudformation")
    for stack in STACKS.values():
        resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
        template = cfn.get_template(StackName=stack)["TemplateBody"]
        template = template if isinstance(template, dict) else json.loads(template)
        assert {r["LogicalResourceId"] for r in resources} == set(template["Resources"])


# An update of every type moto cannot (or wrongly) update, in moto's in-process mode with the emulator's patches, in a
# child process so that this test process stays unpatched. The stack's resources are written without the Properties
# moto adds on create (the topic), so the diff must not see them as modified either.
IN_PROCESS = r"""
import json
from workshop.emulator import patches
patches.install()
import boto3
from moto import mock_aws

def template(retention, billing, policy_action):
    table = {"Type": "AWS::DynamoDB::Table", "Properties": {
        "AttributeDefinitions": [{"AttributeName": "RideId", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "RideId", "KeyType": "HASH"}], "BillingMode": billing}}
    if billing == "PROVISIONED":
        table["Properties"]["ProvisionedThroughput"] = {"ReadCapacityUnits": 2, "WriteCapacityUnits": 3}
    return json.dumps({"Resources": {
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": retention * 3600}},
        "Table": table,
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/aws/lambda/x", "RetentionInDays": retention}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}]},
            "Policies": [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [policy_action], "Resource": [{"Ref": "Topic"}]}]}}]}},
        "Param": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/t/arn", "Type": "String", "Value": {"Ref": "Topic"}}},
    }})

with mock_aws():
    kw = dict(region_name="us-east-1")
    cfn, ddb, logs, iam, ssm = (boto3.client(s, **kw) for s in ("cloudformation", "dynamodb", "logs", "iam", "ssm"))
    cfn.create_stack(StackName="s", TemplateBody=template(7, "PAY_PER_REQUEST", "sns:Subscribe"))
    res = lambda: {r["LogicalResourceId"]: r.get("PhysicalResourceId") for r in cfn.describe_stack_resources(StackName="s")["StackResources"]}
    before = res()
    ddb.put_item(TableName=before["Table"], Item={"RideId": {"S": "r1"}})
    cfn.update_stack(StackName="s", TemplateBody=template(14, "PROVISIONED", "sns:Publish"))
    after = res()
    from moto.cloudformation.models import cloudformation_backends
    stack = next(iter(cloudformation_backends["123456789012"]["us-east-1"].stacks.values()))
    role = iam.list_roles()["Roles"][0]["RoleName"]
    print(json.dumps({
        "before": before, "after": after,
        "item": ddb.get_item(TableName=after["Table"], Key={"RideId": {"S": "r1"}}).get("Item"),
        "billing": ddb.describe_table(TableName=after["Table"])["Table"].get("BillingModeSummary", {}).get("BillingMode"),
        "retention": logs.describe_log_groups()["logGroups"][0].get("retentionInDays"),
        "policy": str(iam.get_role_policy(RoleName=role, PolicyName="p")["PolicyDocument"]),
        "param": ssm.get_parameter(Name="/t/arn")["Parameter"]["Value"],
        "topics": [t["TopicArn"] for t in boto3.client("sns", **kw).list_topics()["Topics"]],
        "retention_s": boto3.client("sqs", **kw).get_queue_attributes(QueueUrl=after["Queue"], AttributeNames=["MessageRetentionPeriod"])["Attributes"]["MessageRetentionPeriod"],
        "none": [k for k, v in stack.resource_map._parsed_resources.items() if v is None and k in stack.resource_map._resource_json_map],
    }))
"""


def test_updates_keep_state_and_apply_new_properties(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", IN_PROCESS], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["after"] == seen["before"]  # same topic ARN, same table: updated in place, not replaced
    assert seen["topics"] == [seen["before"]["Topic"]] and seen["param"] == seen["before"]["Topic"]
    assert seen["item"] == {"RideId": {"S": "r1"}}  # the table kept its items
    assert (seen["billing"], seen["retention"], seen["retention_s"]) == ("PROVISIONED", 14, str(14 * 3600))
    assert "sns:Publish" in seen["policy"] and "sns:Subscribe" not in seen["policy"]
    assert seen["none"] == []
