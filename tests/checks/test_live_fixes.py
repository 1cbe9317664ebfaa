"""The live checks' fixes fit what was observed, without a deploy: a small fake account answers the calls.

A function or resource the target lacks but the learner's files declare is a missing deploy ("run `workshop deploy`"),
not a missing declaration; what neither has names the step (numbered from the course) that declares it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO

RR, WR = "wild-rydes-ride-record", "wild-rydes"


def _error(code: str, operation: str):
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class _Pages:
    def __init__(self, pages):
        self.pages = pages

    def paginate(self, **_kwargs):
        return iter(self.pages)


class FakeAccount:
    """Stacks (service -> {logical id: (type, physical id)}), functions, SSM parameters and topics; nothing else."""

    def __init__(self):
        self.stacks: dict[str, dict[str, tuple[str, str]]] = {}
        self.functions: dict[str, dict] = {}
        self.parameters: dict[str, str] = {}
        self.topics: set[str] = set()
        self.subscriptions: list[dict] = []

    # one object answers every client's calls (each name is unique across the services used here)
    def get_caller_identity(self):
        return {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/learner"}

    def describe_stacks(self, StackName):
        for service, _ in self.stacks.items():
            if StackName == f"{service}-dev":
                return {"Stacks": [{"StackName": StackName, "StackStatus": "UPDATE_COMPLETE"}]}
        raise _error("ValidationError", "DescribeStacks") from None

    def get_paginator(self, name):
        if name == "list_stack_resources":
            return _StackResources(self)
        if name == "list_subscriptions_by_topic":
            return _Pages([{"Subscriptions": self.subscriptions}])
        raise AssertionError(f"unexpected paginator {name}")

    def get_function_configuration(self, FunctionName):
        if FunctionName not in self.functions:
            raise _error("ResourceNotFoundException", "GetFunctionConfiguration")
        return self.functions[FunctionName]

    def get_parameter(self, Name):
        if Name not in self.parameters:
            raise _error("ParameterNotFound", "GetParameter")
        return {"Parameter": {"Value": self.parameters[Name]}}

    def get_topic_attributes(self, TopicArn):
        if TopicArn not in self.topics:
            raise _error("NotFound", "GetTopicAttributes")
        return {"Attributes": {}}


class _StackResources:
    def __init__(self, account):
        self.account = account

    def paginate(self, StackName):
        service = StackName.removesuffix("-dev")
        summaries = [{"LogicalResourceId": k, "ResourceType": t, "PhysicalResourceId": p}
                     for k, (t, p) in self.account.stacks[service].items()]
        return iter([{"StackResourceSummaries": summaries}])


TOPIC = "arn:aws:sns:us-east-1:123456789012:wild-rydes-dev-RidesSnsTopic"


def account_after_step_6() -> FakeAccount:
    """What the target holds once steps 0-6 are deployed: ride-record with its HTTP function, wild-rydes with the topic."""
    account = FakeAccount()
    account.stacks[RR] = {"RideRecordTable": ("AWS::DynamoDB::Table", "rides"),
                          "PutRideRecordHttpLambdaFunction": ("AWS::Lambda::Function", f"{RR}-dev-PutRideRecordHttp")}
    account.stacks[WR] = {"RidesSnsTopic": ("AWS::SNS::Topic", TOPIC),
                          "RidesSnsTopicArnParameter": ("AWS::SSM::Parameter", "/wild-rydes/dev/SnsTopicArn"),
                          "RequestRideLambdaFunction": ("AWS::Lambda::Function", f"{WR}-dev-RequestRide")}
    account.functions[f"{RR}-dev-PutRideRecordHttp"] = {"FunctionName": f"{RR}-dev-PutRideRecordHttp",
                                                        "Handler": "handlers/put_ride_record.handler_http"}
    account.parameters["/wild-rydes/dev/SnsTopicArn"] = TOPIC
    account.topics.add(TOPIC)
    return account


def run(root: Path, account: FakeAccount, check_id: str):
    from workshop.checks import runner
    from workshop.checks.model import Context
    from workshop.deploy.targets import Target

    class FakeContext(Context):
        def client(self, name, region=None):
            return account

    return runner.run_checks(FakeContext(root, Target(), course_root=REPO), [check_id])[0].result


@pytest.mark.parametrize("check_id", ["live-sns-function", "live-subscription", "live-sns-invoke-permission"])
def test_step_10_before_deploying_says_deploy_when_the_files_declare_the_function(states, check_id):
    result = run(states(9), account_after_step_6(), check_id)
    assert result.result == "fail", result
    assert "Declare" not in result.fix, result.fix
    assert "PutRideRecordSns is declared in wild-rydes-ride-record/serverless.yml" in result.fix, result.fix
    assert result.fix.endswith("run `workshop deploy wild-rydes-ride-record`."), result.fix


def test_a_function_nowhere_yet_names_its_step_numbered_from_the_course(states):
    from workshop.course import model

    number = model.load(REPO).by_id("add-sns-function").number
    result = run(states(7), account_after_step_6(), "live-sns-function")
    assert result.fix == f"Declare PutRideRecordSns (step {number}), then run `workshop deploy wild-rydes-ride-record`.", result.fix


def test_step_13_before_deploying_says_deploy_when_the_files_declare_the_queue(states):
    account = account_after_step_6()
    name = f"{RR}-dev-PutRideRecordSns"
    account.stacks[RR]["PutRideRecordSnsLambdaFunction"] = ("AWS::Lambda::Function", name)
    account.functions[name] = {"FunctionName": name, "Handler": "handlers/put_ride_record.handler_sns", "Role": "r"}
    for check_id in ("live-dlq-config", "live-dlq-send-permission"):
        declared = run(states(13), account, check_id)
        assert declared.result == "fail" and "Declare" not in declared.fix, declared
        assert "RideRecordDlq is declared" in declared.fix and "workshop deploy wild-rydes-ride-record" in declared.fix, declared.fix
        not_yet = run(states(12), account, check_id)
        assert not_yet.fix.startswith("Declare RideRecordDlq"), not_yet.fix


def test_a_parameter_deleted_by_hand_is_drift_of_its_logical_resource(states):
    account = account_after_step_6()
    del account.parameters["/wild-rydes/dev/SnsTopicArn"]
    result = run(states(6), account, "live-topic-arn-parameter")
    assert result.result == "fail", result
    assert "declares the SSM parameter /wild-rydes/dev/SnsTopicArn (RidesSnsTopicArnParameter)" in result.observed, result.observed
    assert result.fix == "Repair it with `workshop deploy wild-rydes --recreate`.", result.fix


def test_a_parameter_declared_but_not_deployed_says_deploy(states):
    account = account_after_step_6()
    del account.parameters["/wild-rydes/dev/SnsTopicArn"]
    del account.stacks[WR]["RidesSnsTopicArnParameter"]
    result = run(states(5), account, "live-topic-arn-parameter")
    assert result.fix == "The SSM parameter is declared in wild-rydes/serverless.yml but not deployed yet: run `workshop deploy wild-rydes`."


def test_the_step_a_fix_names_is_numbered_by_the_course_as_it_is_now(states, tmp_path):
    """A course with one more step at the front: every number moves, and the fixes follow."""
    import re
    import shutil

    from workshop.checks import runner
    from workshop.checks.model import Context
    from workshop.course import model
    from workshop.deploy.targets import Target

    course = tmp_path / "course"
    shutil.copytree(REPO / "steps", course / "steps")
    toml = course / "steps" / "course.toml"
    text = re.sub(r"^number = (\d+)$", lambda m: f"number = {int(m.group(1)) + 1}", toml.read_text(), flags=re.MULTILINE)
    first = text.index("[[steps]]")
    toml.write_text(text[:first] + '[[steps]]\nid = "warm-up"\nnumber = 0\ntitle = "Warm up"\nservices = ["wild-rydes"]\n'
                    'kinds = ["behaviour"]\ndeploys = []\nchecks = ["ride-recorded"]\nhints = ["a", "b"]\n\n' + text[first:])
    for page in sorted((course / "steps").glob("[0-9][0-9]-*.md"), reverse=True):
        page.rename(page.with_name(f"{int(page.name[:2]) + 1:02d}{page.name[2:]}"))
    (course / "steps" / "00-warm-up.md").write_text("# Warm up\n")
    number = model.load(course).by_id("add-sns-function").number
    assert number == model.load(REPO).by_id("add-sns-function").number + 1

    class FakeContext(Context):
        def client(self, name, region=None):
            return account_after_step_6()

    result = runner.run_checks(FakeContext(states(7), Target(), course_root=course), ["live-sns-function"])[0].result
    assert f"Declare PutRideRecordSns (step {number})" in result.fix, result.fix
