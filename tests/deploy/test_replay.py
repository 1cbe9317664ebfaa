"""Deploy order from the `${ssm:}` references of every checkpoint, and translated deploy failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from workshop.course import model as course
from workshop.deploy import osls as deploy
from workshop.deploy import replay, targets
from workshop.deploy.targets import Target

RIDE, WILD = "wild-rydes-ride-record", "wild-rydes"
URL, TOPIC = "/wild-rydes-ride-record/dev/URL", "/wild-rydes/dev/SnsTopicArn"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Every checkpoint's files, exported from a workspace built by the runner's own init."""
    from workshop.checkpoints import build as core

    root = tmp_path_factory.mktemp("replay") / "ws"
    loaded = course.load()
    from workshop.course import workspace

    workspace.create(root, loaded.course_version, loaded.steps[0].id)
    core.init_repo(root, loaded)
    return root, loaded


def _needs_at(root: Path, step) -> list[replay.Needs]:
    with replay.exported(root, f"checkpoint/{step.slug}") as tree:
        return [replay.needs(s, tree / s, "dev") for s in targets.services()]


def test_needs_per_checkpoint_follow_the_module(checkpoints):
    root, loaded = checkpoints
    reads = {step.number: {n.service: n.reads for n in _needs_at(root, step)} for step in loaded.steps}
    for number in range(0, 9):
        assert reads[number] == {RIDE: frozenset(), WILD: frozenset({URL})}, number
    for number in (9, 10):
        assert reads[number] == {RIDE: frozenset({TOPIC}), WILD: frozenset({URL})}, number
    for number in range(11, loaded.steps[-1].number + 1):
        assert reads[number] == {RIDE: frozenset({TOPIC}), WILD: frozenset()}, number


def test_plan_orders_and_detects_the_cycle(checkpoints):
    root, loaded = checkpoints
    start = _needs_at(root, loaded.step(0))
    assert replay.plan(start, set()) == [RIDE, WILD]
    cycle = _needs_at(root, loaded.step(9))
    assert replay.plan(cycle, set()) is None  # each needs the other: replay earlier checkpoints
    assert replay.plan(cycle, {TOPIC}) == [RIDE, WILD]
    assert replay.plan(cycle, {URL}) == [WILD, RIDE]
    assert replay.plan(_needs_at(root, loaded.step(12)), set()) == [WILD, RIDE]


def test_stage_variables_and_comments(tmp_path):
    (tmp_path / "serverless.yml").write_text(
        "custom:\n  topic: ${ssm:/wild-rydes/${opt:stage, 'dev'}/SnsTopicArn}\n"
        "# old: ${ssm:/wild-rydes-ride-record/${sls:stage}/URL}\n"
        "resources:\n  Resources:\n    P:\n      Type: AWS::SSM::Parameter\n      Properties:\n        Name: /wild-rydes-ride-record/${self:provider.stage}/URL\n"
    )
    found = replay.needs(RIDE, tmp_path, "qa")
    assert found.reads == {"/wild-rydes/qa/SnsTopicArn"} and found.writes == {"/wild-rydes-ride-record/qa/URL"}
    assert replay.producer("/wild-rydes/qa/SnsTopicArn") == WILD and replay.producer("/other/x") is None


def test_missing_checkpoint_names_init(tmp_path):
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    with pytest.raises(Exception, match="workshop init"), replay.exported(tmp_path, "checkpoint/99-nope"):
        pass


@pytest.mark.parametrize(
    "lines, words",
    [
        (['Cannot resolve variable at "functions.RequestRide.environment.RIDE_RECORD_URL": Value not found at "ssm" source'],
         "run `workshop deploy wild-rydes-ride-record` first"),
        (["Stack:arn:aws:cloudformation:... is in ROLLBACK_COMPLETE state and can not be updated."], "--recreate"),
        (["Stack wild-rydes-dev is in UPDATE_IN_PROGRESS state and can not be updated."], "wait a minute"),
        (["AWS provider credentials not found. Learn how to set up AWS provider credentials"], "workshop doctor"),
        (["Something odd happened"], "workshop deploy wild-rydes` again"),
    ],
)
def test_failures_are_translated(tmp_path, lines, words):
    (tmp_path / "serverless.yml").write_text("RIDE_RECORD_URL: ${ssm:/wild-rydes-ride-record/${sls:stage}/URL}\n")
    message = deploy.explain_failure(WILD, "deploy", Target("local"), lines, tmp_path)
    assert words in message and "\n" not in message


def test_cloudformation_events_are_shortened_for_the_spinner():
    assert deploy.current_event("  CREATE_IN_PROGRESS - AWS::SNS::Topic - RidesSnsTopic") == "CREATE_IN_PROGRESS AWS::SNS::Topic RidesSnsTopic"
    assert deploy.current_event("Uploading CloudFormation file to S3") is None
