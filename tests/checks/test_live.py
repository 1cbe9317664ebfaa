"""Live and behaviour checks against the embedded emulator, walking the module once: every step's checks fail at its
start and pass after its solution and deploys (`verify.dev_check_steps`), and learner mistakes are staged on the way."""

from __future__ import annotations

import json
import time

import pytest

from tests.checks.conftest import committed_course
from tests.checks.live_world import World

pytestmark = pytest.mark.slow
RR, WR = "wild-rydes-ride-record", "wild-rydes"
FN = "wild-rydes-ride-record-dev-{}"
PROBES = {}  # step number -> [probe(world, root) -> dict of results]; run right after that step passed


def _numbers():
    from workshop.course import model as course

    steps = course.load().steps
    return {s.id: s.number for s in steps}, steps[-1].number


NUMBER, LAST = _numbers()


class Probes(dict):
    """Probe results; a probe that raised fails the test reading it, with its error."""

    def __getitem__(self, key):
        value = super().__getitem__(key)
        if isinstance(value, Exception):
            raise AssertionError(f"probe {key} failed: {type(value).__name__}: {value}")
        return value


def probe(step):
    def register(fn):
        PROBES.setdefault(step, []).append(fn)
        return fn

    return register


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """Walk the whole module once on a fresh emulator; keep each step's reports and each probe's results."""
    from workshop import emulator
    from workshop.checks import registry
    from workshop.checks import runner as verify
    from workshop.course import model as course
    from workshop.deploy.targets import Target

    base = tmp_path_factory.mktemp("live")
    info = emulator.ensure_running(base / "emu")
    try:
        world = World(base, committed_course(base / "course"), info.endpoint)
        found, timings = {}, {}

        def on_step(done, ctx):
            started = time.monotonic()
            for fn in PROBES.get(done.step.number, []):
                try:
                    found[fn.__name__] = fn(world, ctx.root)
                except Exception as exc:  # noqa: BLE001 - reported by the test that reads this probe
                    found[fn.__name__] = exc
            timings[done.step.number] = time.monotonic() - started


        steps = verify.dev_check_steps(course.load(known_checks=registry.ids()), Target(), world.workspace_after,
                                       world.deploy, connect=world.connect, on_step=on_step)
        yield {"world": world, "steps": {s.step.number: s for s in steps}, "probes": Probes(found), "timings": timings}
    finally:
        emulator.stop(base / "emu")


# --- probes: mistakes staged right after a step passed, undone before the walk goes on --------------------

@probe(0)
def other_stage_and_region(world, root):
    return {"stage": world.run(root, ["stacks-deployed"], stage="prod")["stacks-deployed"],
            "region": world.run(root, ["stacks-deployed"], region="us-west-2")["stacks-deployed"]}


@probe(4)
def ride_in_a_stage_never_deployed(world, root):
    return world.run(root, ["ride-recorded"], stage="prod")


@probe(0)
def expired_credentials(world, root):
    from botocore.exceptions import ClientError

    def expired(**_kwargs):
        raise ClientError({"Error": {"Code": "ExpiredToken", "Message": "The security token included in the request is expired"}},
                          "GetCallerIdentity")

    connect = world.connect

    def connect_expired(r, target):
        session = connect(r, target)
        session._session.events.register("before-call.sts.GetCallerIdentity", expired)
        return session

    world.connect = connect_expired
    try:
        return world.run(root, ["stacks-deployed", "live-http-function"])
    finally:
        world.connect = connect


@probe(3)
def record_url_parameter_deleted(world, root):
    ssm = world.client("ssm")
    name = "/wild-rydes-ride-record/dev/URL"
    value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    ssm.delete_parameter(Name=name)
    try:
        return world.run(root, ["live-record-url-parameter"])
    finally:
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)


@probe(10)
def framework_resolves_what_the_checks_cannot(world, root):
    """An sns arn behind `${file(...)}`: the static check asks `osls print` (with the local deploy environment)."""
    import shutil

    copy = root.parent / "ws-file-variable"
    shutil.copytree(root, copy)
    service = copy / RR
    text = (service / "serverless.yml").read_text()
    (service / "serverless.yml").write_text(text.replace("arn: ${ssm:/wild-rydes/${sls:stage}/SnsTopicArn}", "arn: ${file(./topic.yml):arn}"))
    (service / "topic.yml").write_text("arn: ${ssm:/wild-rydes/${sls:stage}/SnsTopicArn}\n")
    return world.run(copy, ["sns-event-declared"])["sns-event-declared"]


@probe(6)
def parameter_mistakes(world, root):
    ssm = world.client("ssm")
    name = "/wild-rydes/dev/SnsTopicArn"
    arn = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    try:
        ssm.put_parameter(Name=name, Value=arn.rsplit(":", 1)[-1], Type="String", Overwrite=True)
        holding_name = world.run(root, ["live-topic-arn-parameter"])["live-topic-arn-parameter"]
        ssm.delete_parameter(Name=name)
        deleted = world.run(root, ["live-topic-arn-parameter"])["live-topic-arn-parameter"]
    finally:
        ssm.put_parameter(Name=name, Value=arn, Type="String", Overwrite=True)
    return {"name": holding_name, "deleted": deleted}


@probe(6)
def parameter_deployed_under_a_wrong_name(world, root):
    """A parameter deployed under another name (here without the stage) is named in the fix (issue 12 item 1). A literal
    `${stage}` no longer deploys at all: the emulator refuses the name as AWS does (tests/emulator/test_strict.py)."""
    from tests.checks.live_world import copy_tree

    wrong = copy_tree(root, root.parent / "ws-06-wrong-name")
    yml = wrong / WR / "serverless.yml"
    yml.write_text(yml.read_text().replace("Name: /wild-rydes/${sls:stage}/SnsTopicArn", "Name: /wild-rydes/SnsTopicArn"))
    try:
        world.deploy(wrong, WR)
        return world.run(wrong, ["live-topic-arn-parameter"])["live-topic-arn-parameter"]
    finally:
        world.deploy(root, WR)


@probe(13)
def forgot_send_message(world, root):
    iam = world.client("iam")
    role = world.client("lambda").get_function_configuration(FunctionName=FN.format("PutRideRecordSns"))["Role"].rsplit("/", 1)[-1]
    from workshop.checks.live_iam import _document

    saved = {n: iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in iam.list_role_policies(RoleName=role)["PolicyNames"]}
    try:
        for name, doc in saved.items():
            from workshop.checks.live_iam import _document

            doc = _document(doc)
            kept = [s for s in doc["Statement"] if "sqs:SendMessage" not in json.dumps(s)]
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(dict(doc, Statement=kept)))
        return world.run(root, ["live-dlq-send-permission"])
    finally:
        for name, doc in saved.items():
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(_document(doc)))


@probe(LAST)
def end_of_module(world, root):
    from workshop.checks import runner as verify
    from workshop.course import model as course

    ids = verify.end_checks(course.load())
    return world.run(root, ids)


SUBSCRIPTION_DLQ = NUMBER["subscription-dead-letter-queue"]


def _sns_statements(world):
    policy = json.loads(world.client("lambda").get_policy(FunctionName=FN.format("PutRideRecordSns"))["Policy"])
    return [s for s in policy["Statement"] if "sns.amazonaws.com" in json.dumps(s.get("Principal"))]


@probe(SUBSCRIPTION_DLQ)
def invoke_permission_given_back(world, root):
    """The behaviour check removed SNS's permission and gave it back under its own Sid: run it again, look again."""
    before = _sns_statements(world)
    result = world.run(root, ["undelivered-ride-redriven"])["undelivered-ride-redriven"]
    return {"before": before, "after": _sns_statements(world), "result": result}


@probe(SUBSCRIPTION_DLQ)
def subscription_queue_policy_removed(world, root):
    """A queue whose policy does not let SNS send: the live check says so, the undelivered message is lost."""
    sqs = world.client("sqs")
    resources = world.client("cloudformation").list_stack_resources(StackName="wild-rydes-ride-record-dev")["StackResourceSummaries"]
    url = next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "RidesSnsSubscriptionDlq")
    policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    try:
        return world.run(root, ["live-subscription-redrive", "undelivered-ride-redriven"])
    finally:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})


def _lambda_subscriptions(world):
    sns = world.client("sns")
    resources = world.client("cloudformation").list_stack_resources(StackName="wild-rydes-dev")["StackResourceSummaries"]
    topic = next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "RidesSnsTopic")
    return sns, topic, [s for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] if s["Protocol"] == "lambda"]


@probe(LAST)  # last: deleting and re-making a subscription must not leak into the other steps
def subscription_mistakes(world, root):
    sns, topic, subs = _lambda_subscriptions(world)
    fn_arn = world.client("lambda").get_function_configuration(FunctionName=FN.format("PutRideRecordSns"))["FunctionArn"]
    http_arn = world.client("lambda").get_function_configuration(FunctionName=FN.format("PutRideRecordHttp"))["FunctionArn"]
    for s in subs:
        sns.unsubscribe(SubscriptionArn=s["SubscriptionArn"])
    try:
        deleted = world.run(root, ["live-subscription"])["live-subscription"]
        wrong = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=http_arn)["SubscriptionArn"]
        to_wrong = world.run(root, ["live-subscription"])["live-subscription"]
        sns.unsubscribe(SubscriptionArn=wrong)
    finally:
        sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn_arn)
    return {"deleted": deleted, "wrong": to_wrong, "restored": world.run(root, ["live-subscription"])["live-subscription"]}


# --- the walk ---------------------------------------------------------------------------------------------

# Gaps of the embedded emulator found by these checks (reported to its owner); a step failing ONLY on them is xfail,
# and passes again on its own once the emulator is fixed:
# - a stack update leaves the API Gateway integration on the old function (POST /record keeps invoking PutRideRecord,
#   which the same update deleted, so every ride answers 502 from then on);
# - a stack update leaves an existing function's environment and its role's inline policy as they were
#   (RequestRide keeps RIDE_RECORD_URL, gets no RIDES_SNS_TOPIC_ARN nor sns:Publish; no sqs:SendMessage at step 13);
# - a stack update drops the function's DeadLetterConfig (so no poison ride reaches the DLQ).
EMULATOR_GAPS = {3: {"live-record-route"}, 4: {"ride-recorded"},
                 12: {"live-request-ride-env", "live-publish-permission", "ride-recorded-sns"},
                 13: {"live-dlq-config", "live-dlq-send-permission", "poison-ride-dead-lettered"}}
# - the step-12 update of wild-rydes replaces RidesSnsTopic (new ARN) without updating the SSM parameter that Refs it,
#   and the subscription goes with the old topic: at the end the checks rightly see a stale parameter and drift.
END_GAPS = set().union(*EMULATOR_GAPS.values()) | {"live-topic-arn-parameter", "live-subscription", "live-sns-invoke-permission"}


def _failing_after(chain, number):
    return {r.check.id for r in chain["steps"][number].after.runs if not r.result.passed}


@pytest.mark.parametrize("number", sorted(NUMBER.values()))
def test_step_fails_at_its_start_and_passes_after(chain, number):
    done = chain["steps"][number]
    failing = _failing_after(chain, number)
    if failing and failing <= EMULATOR_GAPS.get(number, set()) and (done.before is None or not done.before.passed):
        pytest.xfail(f"emulator gap: {done.problem()}")
    assert done.ok, done.problem()
    if done.before is not None:
        for run in done.before.runs:
            if not run.result.passed:
                assert run.result.fix, run.check.id


def test_every_live_and_behaviour_check_was_seen_failing_and_passing(chain):
    from workshop.checks import registry

    seen = {}
    for done in chain["steps"].values():
        for report in (done.before, done.after):
            for run in (report.runs if report else []):
                seen.setdefault(run.check.id, set()).add(run.result.result)
    for found in chain["probes"].values():
        if isinstance(found, dict):
            for check_id, result in found.items():
                if check_id in registry.CHECKS:
                    seen.setdefault(check_id, set()).add(result.result)
    gaps = set().union(*EMULATOR_GAPS.values())
    for check in registry.CHECKS.values():
        if check.family != "static":
            assert "fail" in seen.get(check.id, set()), f"{check.id} never failed"
            assert "pass" in seen.get(check.id, set()) or check.id in gaps, f"{check.id} never passed"


def test_a_ride_in_a_stage_never_deployed_says_so(chain):
    result = chain["probes"]["ride_in_a_stage_never_deployed"]["ride-recorded"]
    assert result.result == "fail" and "stage dev" in result.observed and "writes" not in result.observed


def test_record_url_parameter_deleted(chain):
    result = chain["probes"]["record_url_parameter_deleted"]["live-record-url-parameter"]
    assert result.result == "fail" and "no SSM parameter" in result.observed and "workshop deploy wild-rydes-ride-record" in result.fix


def test_no_check_made_an_undeclared_call(chain):
    assert chain["world"].undeclared == []


def test_deploys_are_few(chain):
    print("deploys", chain["world"].deploy_seconds, "probes", chain["timings"])
    print("checks", {n: (round(sum(r.result.seconds for r in s.after.runs), 1)) for n, s in chain["steps"].items()})
    from workshop.course import model as course

    deploying = sum(len(s.deploys) for s in course.load().steps)
    assert chain["world"].deploys == deploying + 2  # two of them by the wrong-name probe of step 6


def test_before_each_deploy_step_the_fix_names_the_deploy(chain):
    for number, service in ((3, RR), (6, WR), (10, RR), (12, WR), (13, RR), (NUMBER["subscription-dead-letter-queue"], RR)):
        failing = [r.result for r in chain["steps"][number].before.runs if r.result.result == "fail" and r.check.family == "live"]
        assert failing and any(f"workshop deploy {service}" in r.fix for r in failing), (number, failing)


def test_step_zero_before_deploying_says_not_deployed(chain):
    result = {r.check.id: r.result for r in chain["steps"][0].before.runs}["stacks-deployed"]
    assert "is not deployed" in result.observed and "workshop deploy" in result.fix


def test_rides_report_their_path_and_latency(chain):
    if {"ride-recorded", "ride-recorded-sns"} & (_failing_after(chain, 4) | _failing_after(chain, 12)):
        pytest.xfail("emulator gap: rides answer 502 after the route update (see EMULATOR_GAPS)")
    at4 = {r.check.id: r.result for r in chain["steps"][4].after.runs}["ride-recorded"]
    at12 = {r.check.id: r.result for r in chain["steps"][12].after.runs}["ride-recorded-sns"]
    assert at4.data["path"] == "http" and at4.data["http_ms"] >= 0 and "writes a test ride" in at4.observed
    assert at12.data["path"] == "sns" and at12.data["record_ms"] >= 0


def test_poison_ride_lands_in_the_dlq(chain):
    end = chain["probes"]["end_of_module"]
    if "poison-ride-dead-lettered" in _failing_after(chain, 13) and (
            "live-dlq-config" in _failing_after(chain, 13) or not end["live-topic-arn-parameter"].passed):
        pytest.xfail("emulator gap: DeadLetterConfig dropped, or the topic replaced with its subscription (see EMULATOR_GAPS)")
    result = {r.check.id: r.result for r in chain["steps"][13].after.runs}["poison-ride-dead-lettered"]
    assert result.passed and "workshop-poison-" in result.observed


def test_deployed_the_wrong_stage(chain):
    result = chain["probes"]["other_stage_and_region"]["stage"]
    assert result.result == "fail" and "stage dev" in result.observed and "--stage dev" in result.fix


def test_credentials_for_another_region(chain):
    result = chain["probes"]["other_stage_and_region"]["region"]
    assert result.result == "fail" and "it is in us-east-1" in result.observed and "--region us-east-1" in result.fix


def test_expired_credentials_are_said_as_such(chain):
    for result in chain["probes"]["expired_credentials"].values():
        assert result.result == "error" and "expired" in result.observed and "not deployed" not in result.observed


def test_a_value_only_the_framework_can_resolve_is_asked_of_osls_print(chain):
    result = chain["probes"]["framework_resolves_what_the_checks_cannot"]
    assert result.passed, result


def test_parameter_holding_the_topic_name(chain):
    result = chain["probes"]["parameter_mistakes"]["name"]
    assert result.result == "fail" and "NAME" in result.observed and "Ref: RidesSnsTopic" in result.fix


def test_a_parameter_deployed_under_a_wrong_name_is_named_in_the_fix(chain):
    result = chain["probes"]["parameter_deployed_under_a_wrong_name"]
    assert result.result == "fail", result
    assert "your stack's parameter is `/wild-rydes/snstopicarn`" in result.fix.lower() and "${sls:stage}" in result.fix


def test_parameter_deleted_by_hand_is_drift(chain):
    result = chain["probes"]["parameter_mistakes"]["deleted"]
    assert result.result == "fail" and "drift" in result.observed and "workshop deploy wild-rydes --recreate" in result.fix


def test_subscription_deleted_by_hand_is_drift(chain):
    result = chain["probes"]["subscription_mistakes"]["deleted"]
    assert result.result == "fail" and "drift" in result.observed
    assert "workshop deploy wild-rydes-ride-record --recreate" in result.fix


def test_subscription_to_the_wrong_function(chain):
    result = chain["probes"]["subscription_mistakes"]["wrong"]
    assert result.result == "fail" and "PutRideRecordHttp" in result.observed and "PutRideRecordSns" in result.fix
    assert chain["probes"]["subscription_mistakes"]["restored"].passed


def test_forgot_sqs_send_message(chain):
    result = chain["probes"]["forgot_send_message"]["live-dlq-send-permission"]
    assert result.result == "fail" and "sqs:SendMessage" in result.fix


def test_checks_that_hold_at_the_end_pass_at_the_end(chain):
    results = chain["probes"]["end_of_module"]
    failing = {k: (v.result, v.observed) for k, v in results.items() if not v.passed}
    if failing and set(failing) <= END_GAPS:
        pytest.xfail(f"emulator gaps only: {sorted(failing)}")
    assert not failing, sorted(failing)


def test_the_undelivered_message_reaches_the_subscriptions_queue_and_the_permission_comes_back(chain):
    result = {r.check.id: r.result for r in chain["steps"][SUBSCRIPTION_DLQ].after.runs}["undelivered-ride-redriven"]
    assert result.passed and "workshop-undelivered-" in result.observed and "put back" in result.observed
    again = chain["probes"]["invoke_permission_given_back"]
    assert again["result"].passed, again["result"]
    assert again["before"] and again["after"] == again["before"]


def test_a_subscription_queue_sns_may_not_send_to_fails_live_and_behaviour(chain):
    found = chain["probes"]["subscription_queue_policy_removed"]
    live, behaviour = found["live-subscription-redrive"], found["undelivered-ride-redriven"]
    assert live.result == "fail" and "policy does not let SNS send" in live.observed and "deadLetterTargetRef" in live.fix
    assert behaviour.result == "fail" and "put back" in behaviour.observed and "is not in" in behaviour.observed
    assert _sns_statements(chain["world"]), "the behaviour check gave SNS's permission back after failing"
