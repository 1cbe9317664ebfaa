"""Issue 15, the verify side, with botocore's Stubber standing in for what only a real account answers:
shared-account manners, plain errors, honest log searches."""

from __future__ import annotations

import datetime as _dt

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from workshop.checks import aws, behaviour
from workshop.checks.model import Context, Problem
from workshop.deploy.targets import Target

TARGET = Target("aws", stage="dev-ana", region="us-east-1")
IDENTITY = {"UserId": "AIDA", "Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/ana"}


class Account:
    """Stubbed clients per (service, region); every call must be one the test expects."""

    def __init__(self):
        self.stubs: dict[tuple[str, str], Stubber] = {}

    def stub(self, service: str, region: str = "us-east-1") -> Stubber:
        key = (service, region)
        if key not in self.stubs:
            made = boto3.client(service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
            self.stubs[key] = Stubber(made)
            self.stubs[key].activate()
        return self.stubs[key]

    def connect(self, root, target):
        account = self

        class Session:
            region_name = target.region

            def client(self, service, **kwargs):
                return account.stub(service, target.region).client

        return Session()

    def done(self):
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()


@pytest.fixture
def account(tmp_path):
    made = Account()
    yield made, Context(tmp_path, TARGET, connect=made.connect)
    made.done()


def _not_found(stub, name):
    stub.add_client_error("describe_stacks", "ValidationError", f"Stack with id {name} does not exist", 400,
                          expected_params={"StackName": name})


def test_a_missing_stack_on_aws_never_points_at_another_learners_stage(account):
    made, ctx = account
    made.stub("sts").add_response("get_caller_identity", IDENTITY)  # the message names the account
    name = TARGET.stack("wild-rydes")
    _not_found(made.stub("cloudformation"), name)
    # another learner's wild-rydes-dev-bob is in the account: list_stacks is not even asked on aws
    for region in aws.PROBE_REGIONS:
        if region != TARGET.region:
            _not_found(made.stub("cloudformation", region), name)
    with pytest.raises(Problem) as raised:
        aws.stack(ctx, "wild-rydes")
    result = raised.value.result
    assert result.result == "fail" and "is not deployed" in result.observed and "--stage" not in result.fix


def test_the_region_probe_skips_regions_an_organisation_denies(account):
    made, ctx = account
    name = TARGET.stack("wild-rydes")
    _not_found(made.stub("cloudformation"), name)
    denied = "with an explicit deny in a service control policy"
    made.stub("cloudformation", "us-east-2").add_client_error("describe_stacks", "AccessDenied", denied, 403)
    made.stub("cloudformation", "us-west-2").add_client_error(
        "describe_stacks", "InvalidClientTokenId", "The security token included in the request is invalid", 403)  # opt-in Region
    made.stub("cloudformation", "eu-west-1").add_response("describe_stacks", {"Stacks": [
        {"StackName": name, "StackStatus": "CREATE_COMPLETE", "CreationTime": _dt.datetime(2026, 1, 1)}]})
    with pytest.raises(Problem) as raised:
        aws.stack(ctx, "wild-rydes")
    result = raised.value.result
    assert result.result == "fail" and "it is in eu-west-1" in result.observed and "--region eu-west-1" in result.fix


def _error(code: str, message: str = "no", operation: str = "Publish") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@pytest.mark.parametrize("code, result, words", [
    ("AuthorizationError", "error", "learner policy"),  # what SNS says for a denied Publish
    ("AccessDeniedException", "error", "learner policy"),
    ("ThrottlingException", "pending", "Wait a minute"),
    ("ExpiredToken", "error", "aws sso login"),
    ("RequestExpired", "error", "clock"),
])
def test_aws_errors_get_a_plain_hint(code, result, words, tmp_path):
    said = aws.translate(_error(code), Context(tmp_path, TARGET))
    assert said is not None and said.result == result and words in said.fix


def test_a_pending_result_is_not_a_pass_nor_a_failure(tmp_path):
    said = aws.translate(_error("ThrottlingException"), Context(tmp_path, TARGET))
    assert not said.passed and said.result != "fail"


# --- the POST of a test ride


def test_post_uses_certifis_roots_for_https(monkeypatch):
    import certifi

    seen = {}

    def fake_context(cafile=None, **kwargs):
        seen["cafile"] = cafile
        raise OSError("stop here")

    monkeypatch.setattr("ssl.create_default_context", fake_context)
    with pytest.raises(OSError):
        behaviour._post("https://abc.execute-api.us-east-1.amazonaws.com/dev-ana/ride", {})
    assert seen["cafile"] == certifi.where()


def test_a_network_failure_of_the_post_is_said_not_raised():
    with pytest.raises(Problem) as raised:  # a Problem is a result the check shows, never a traceback
        behaviour._post("http://127.0.0.1:9/ride", {})
    result = raised.value.result
    assert result.result == "error" and "127.0.0.1:9" in result.observed and "network" in result.fix


# --- log searches: one call per function, a wide window, throttling as pending


class Clock:
    def __init__(self):
        self.now, self.slept = 1000.0, []

    def monotonic(self):
        return self.now

    def time(self):
        return 1_700_000_000.0 + self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_the_ride_id_is_searched_in_a_wide_window_one_paged_call_per_function(account, monkeypatch):
    made, ctx = account
    clock = Clock()
    monkeypatch.setattr(behaviour, "time", clock)
    logs = made.stub("logs")
    start, end = 1_700_000_100.0, 1_700_000_101.0
    group = f"/aws/lambda/{TARGET.function('wild-rydes-ride-record', 'PutRideRecord')}"
    first = {"logGroupName": group, "startTime": ANY, "endTime": ANY, "filterPattern": ANY}
    logs.add_response("filter_log_events", {"events": [], "nextToken": "page2"}, first)
    logs.add_response("filter_log_events", {"events": []}, {**first, "nextToken": "page2"})
    for function in ("PutRideRecordHttp", "PutRideRecordSns"):
        group = f"/aws/lambda/{TARGET.function('wild-rydes-ride-record', function)}"
        # the laptop's clock is 4 minutes behind AWS's: the line is still found
        events = [{"timestamp": int((end + 240) * 1000), "message": "stored ride RIDE-1\n"}] if function.endswith("Sns") else []
        logs.add_response("filter_log_events", {"events": events}, {**first, "logGroupName": group})
    path, evidence = behaviour._path(ctx, "RIDE-1", start, end)
    assert path == "sns" and "PutRideRecordSns" in evidence
    calls = logs._queue  # all consumed: done() checks it
    assert not calls


def test_the_search_window_is_wide_and_polls_are_two_seconds_apart_on_aws(account, monkeypatch):
    made, ctx = account
    clock = Clock()
    monkeypatch.setattr(behaviour, "time", clock)
    logs = made.stub("logs")
    start, end = 1_700_000_100.0, 1_700_000_101.0
    rounds = 0
    while rounds * len(behaviour.PATHS) < 60:
        for function in behaviour.PATHS:
            group = f"/aws/lambda/{TARGET.function('wild-rydes-ride-record', function)}"
            logs.add_response("filter_log_events", {"events": []}, {
                "logGroupName": group, "startTime": int((start - behaviour.SKEW) * 1000), "endTime": int((end + behaviour.SKEW) * 1000),
                "filterPattern": ANY})
        rounds += 1
    path, _ = behaviour._path(ctx, "RIDE-1", start, end)
    assert path == "unknown" and behaviour.SKEW >= 300
    assert clock.slept and min(clock.slept) >= 2.0
    # at most 5 requests a second: 3 searches per poll, a poll every 2 s or slower
    assert len(behaviour.PATHS) / min(clock.slept) < 5
    logs._queue.clear()


def test_a_throttled_log_search_backs_off_and_ends_unknown_never_errored(account, monkeypatch):
    made, ctx = account
    clock = Clock()
    monkeypatch.setattr(behaviour, "time", clock)
    logs = made.stub("logs")
    for _ in range(20):
        logs.add_client_error("filter_log_events", "ThrottlingException", "Rate exceeded", 400)
    path, evidence = behaviour._path(ctx, "RIDE-1", 1_700_000_100.0, 1_700_000_101.0)
    assert path == "unknown" and "throttled" in evidence
    assert clock.slept == sorted(clock.slept) and clock.slept[-1] > clock.slept[0]  # backed off
    logs._queue.clear()


def test_logs_follow_polls_every_two_seconds_and_backs_off_when_throttled(monkeypatch):
    from workshop.instructor import rides

    client = boto3.client("logs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.add_response("filter_log_events", {"events": [{"eventId": "1", "timestamp": 1, "message": "a\n"}]})
    stub.add_client_error("filter_log_events", "ThrottlingException", "Rate exceeded", 400)
    stub.add_client_error("filter_log_events", "ThrottlingException", "Rate exceeded", 400)
    stub.add_response("filter_log_events", {"events": [{"eventId": "2", "timestamp": 2, "message": "b\n"}]})
    stub.activate()

    class Session:
        def client(self, service, **kwargs):
            return client

    slept = []
    lines = rides.log_lines(Session(), "/aws/lambda/x", 60, follow=True, poll=0.1, sleep=slept.append)
    assert [next(lines).message, next(lines).message] == ["a", "b"]
    assert slept[0] >= 2.0 and slept == [2.0, 4.0, 8.0]
