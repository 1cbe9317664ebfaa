"""Deploys through the CLI against the embedded emulator with the real osls: order, replay, hints, teardown.

Each scenario uses its own stage on one shared emulator, which is as empty for that stage as a fresh emulator.
"""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest

from workshop import emulator
from workshop.deploy import replay, targets, tools
from workshop.deploy.targets import Target

pytestmark = [pytest.mark.slow, pytest.mark.skipif(tools.find_osls() is None, reason="osls is not installed (run `make setup`)")]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    from typer.testing import CliRunner

    from workshop.cli import app

    root = tmp_path_factory.mktemp("deploy") / "ws"
    runner = CliRunner()
    env = {"NO_COLOR": "1", "COLUMNS": "120"}

    def cli(*args):
        return runner.invoke(app, ["--workspace", str(root), *args], env=env)

    assert cli("init", str(root)).exit_code == 0
    try:
        yield root, cli
    finally:
        emulator.stop(targets.emulator_dir(root))


def _session(root, stage):
    target = Target("local", stage=stage)
    return target, targets.connect(root, target)


def _stack_status(session, target, service):
    cfn = targets.client(session, "cloudformation")
    return cfn.describe_stacks(StackName=target.stack(service))["Stacks"][0]["StackStatus"]


def test_deploy_all_at_the_start_then_a_ride_is_recorded(ws):
    root, cli = ws
    result = cli("deploy", "all", "--stage", "dev")
    assert result.exit_code == 0, result.output
    target, session = _session(root, "dev")
    assert _stack_status(session, target, "wild-rydes-ride-record").endswith("_COMPLETE")
    assert _stack_status(session, target, "wild-rydes").endswith("_COMPLETE")
    api = next(a["id"] for a in targets.client(session, "apigateway").get_rest_apis()["items"] if a["name"] == "dev-wild-rydes")
    endpoint = targets.endpoint_for(root, target)
    request = urllib.request.Request(f"{endpoint}/restapis/{api}/dev/_user_request_/ride", method="POST",
                                     data=json.dumps({"PickupLocation": {"Latitude": 1, "Longitude": 2}}).encode())
    with urllib.request.urlopen(request, timeout=60) as reply:
        assert reply.status == 201
        ride = json.loads(reply.read())
    dynamodb = targets.client(session, "dynamodb")
    table = next(t for t in dynamodb.list_tables()["TableNames"] if t.startswith("wild-rydes-ride-record-dev-"))
    item = dynamodb.get_item(TableName=table, Key={"RideId": {"S": ride["RideId"]}})
    assert item["Item"]["Unicorn"]["M"]["Name"]["S"] == ride["Unicorn"]["Name"]


def test_a_missing_dependency_names_the_command_that_fixes_it(ws):
    root, cli = ws
    stage = f"x{uuid.uuid4().hex[:6]}"
    result = cli("deploy", "wild-rydes", "--stage", stage)
    assert result.exit_code == 1, result.output
    assert "run `workshop deploy wild-rydes-ride-record` first" in result.output and "Traceback" not in result.output


def test_checkpoint_9_on_an_empty_stage_replays_earlier_deploys(ws):
    root, cli = ws
    assert cli("reset", "--step", "10").exit_code == 0  # files at the checkpoint after step 9: each service needs the other
    result = cli("deploy", "all", "--stage", "s9")
    assert result.exit_code == 0, result.output
    assert "replayed" in result.output
    target, session = _session(root, "s9")
    topic = targets.client(session, "ssm").get_parameter(Name="/wild-rydes/s9/SnsTopicArn")["Parameter"]["Value"]
    subs = targets.client(session, "sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["Protocol"] for s in subs] == ["lambda"]
    assert subs[0]["Endpoint"].endswith(target.function("wild-rydes-ride-record", "PutRideRecordSns"))


def test_checkpoint_12_needs_no_replay_and_teardown_leaves_nothing(ws):
    root, cli = ws
    assert cli("reset", "--step", "13").exit_code == 0
    result = cli("deploy", "all", "--stage", "s12")
    assert result.exit_code == 0, result.output
    assert "replayed" not in result.output
    target, session = _session(root, "s12")
    needs = [replay.needs(s, root / s, "s12") for s in targets.services()]
    assert replay.plan(needs, set()) == ["wild-rydes", "wild-rydes-ride-record"]
    result = cli("teardown", "--stage", "s12")
    assert result.exit_code == 0, result.output
    assert "Nothing of the workshop is left" in result.output
    check = cli("teardown", "--check", "--stage", "dev")  # another stage is untouched
    assert check.exit_code == 0 and "wild-rydes-dev" in check.output


def test_recreate_replaces_the_stack(ws):
    root, cli = ws
    target, session = _session(root, "dev")
    before = targets.client(session, "cloudformation").describe_stacks(StackName=target.stack("wild-rydes-ride-record"))["Stacks"][0]["StackId"]
    assert cli("reset", "--step", "1").exit_code == 0
    result = cli("deploy", "wild-rydes-ride-record", "--recreate", "--stage", "dev")
    assert result.exit_code == 0, result.output
    after = targets.client(session, "cloudformation").describe_stacks(StackName=target.stack("wild-rydes-ride-record"))["Stacks"][0]["StackId"]
    assert after != before


def test_reset_with_deploy_brings_files_and_target_to_the_start_of_a_step(ws):
    root, cli = ws
    result = cli("reset", "--step", "4", "--deploy")
    assert result.exit_code == 0, result.output
    assert "start of step 4" in result.output
    target, session = _session(root, "dev")
    names = {f["FunctionName"] for f in targets.client(session, "lambda").list_functions()["Functions"]}
    assert target.function("wild-rydes-ride-record", "PutRideRecordHttp") in names  # step 3's deploy was replayed
    assert target.function("wild-rydes-ride-record", "PutRideRecord") not in names
    assert "PutRideRecordHttp" in (root / "wild-rydes-ride-record" / "serverless.yml").read_text()
