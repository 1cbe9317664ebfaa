"""The undelivered-message check changes the account: SNS's permission to invoke PutRideRecordSns is always given back
(also when publishing fails), under its own Sid and with its own condition, and a failed give-back is said plainly."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

TOPIC = "arn:aws:sns:us-east-1:123456789012:wild-rydes-dev-RidesSnsTopic-ABC"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:wild-rydes-ride-record-dev-RidesSnsSubscriptionDlq-XYZ"
STATEMENT = {"Sid": "wild-rydes-ride-record-dev-PutRideRecordSnsLambdaPermission-1", "Effect": "Allow",
             "Principal": {"Service": "sns.amazonaws.com"}, "Action": "lambda:InvokeFunction",
             "Resource": "arn:aws:lambda:us-east-1:123456789012:function:wild-rydes-ride-record-dev-PutRideRecordSns",
             "Condition": {"ArnLike": {"AWS:SourceArn": TOPIC}}}


class Lambda:
    def __init__(self, fail_add=False):
        self.statements, self.fail_add, self.calls = [dict(STATEMENT)], fail_add, []

    def get_policy(self, FunctionName):
        return {"Policy": json.dumps({"Statement": self.statements})}

    def remove_permission(self, FunctionName, StatementId):
        self.calls.append(("remove", StatementId))
        self.statements = [s for s in self.statements if s["Sid"] != StatementId]

    def add_permission(self, **args):
        self.calls.append(("add", args))
        if self.fail_add:
            raise ClientError({"Error": {"Code": "ServiceException", "Message": "boom"}}, "AddPermission")


class Sns:
    def __init__(self, fail=False):
        self.fail, self.published = fail, []

    def publish(self, TopicArn, Message):
        if self.fail:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "publish failed"}}, "Publish")
        self.published.append(Message)


class Sqs:
    def __init__(self, sns, deliver=True):
        self.sns, self.deliver, self.deleted = sns, deliver, []

    def receive_message(self, **_kwargs):
        if not self.deliver:
            return {}
        return {"Messages": [{"Body": json.dumps({"Message": m}), "ReceiptHandle": f"r{i}"} for i, m in enumerate(self.sns.published)]}

    def delete_message(self, QueueUrl, ReceiptHandle):
        self.deleted.append(ReceiptHandle)


def _ctx(lam, sns, sqs):
    clients = {"lambda": lam, "sns": sns, "sqs": sqs, "sts": SimpleNamespace(get_caller_identity=lambda: {"Account": "1"})}
    return SimpleNamespace(target=SimpleNamespace(name="local"), client=lambda name, region=None: clients[name],
                           memo=lambda key, compute: compute())


@pytest.fixture
def check(monkeypatch):
    from workshop.checks import behaviour, live, redrive

    monkeypatch.setattr(redrive, "deployed_queue", lambda ctx: (TOPIC, QUEUE, "https://queue"))
    monkeypatch.setattr(live, "need_sns_function", lambda ctx: {"FunctionName": "wild-rydes-ride-record-dev-PutRideRecordSns"})
    monkeypatch.setitem(behaviour.REDRIVE_TIMEOUT, "local", 1.0)
    return behaviour.undelivered_ride


def _given_back(lam):
    adds = [args for kind, args in lam.calls if kind == "add"]
    assert adds == [{"FunctionName": "wild-rydes-ride-record-dev-PutRideRecordSns", "StatementId": STATEMENT["Sid"],
                     "Action": "lambda:InvokeFunction", "Principal": "sns.amazonaws.com", "SourceArn": TOPIC}]


def test_the_message_is_found_deleted_and_the_permission_given_back(check):
    lam, sns = Lambda(), Sns()
    sqs = Sqs(sns)
    result = check(_ctx(lam, sns, sqs))
    assert result.passed and "put back" in result.observed and sqs.deleted == ["r0"], result
    assert lam.calls[0] == ("remove", STATEMENT["Sid"])
    _given_back(lam)


def test_the_permission_comes_back_when_publishing_fails(check):
    lam, sns = Lambda(), Sns(fail=True)
    with pytest.raises(ClientError):
        check(_ctx(lam, sns, Sqs(sns)))
    _given_back(lam)


def test_a_message_that_never_arrives_fails_and_names_the_change(check):
    lam, sns = Lambda(), Sns()
    result = check(_ctx(lam, sns, Sqs(sns, deliver=False)))
    assert result.result == "fail" and "put back" in result.observed and "deadLetterTargetRef" in result.fix
    _given_back(lam)


def test_a_permission_that_cannot_be_given_back_is_said_with_the_repair(check):
    lam, sns = Lambda(fail_add=True), Sns()
    result = check(_ctx(lam, sns, Sqs(sns)))
    assert result.result == "fail" and "FAILED" in result.observed and "--recreate" in result.fix


def test_no_permission_to_remove_is_a_failure_not_a_change(check):
    lam, sns = Lambda(), Sns()
    lam.statements = []
    result = check(_ctx(lam, sns, Sqs(sns)))
    assert result.result == "fail" and "may not invoke" in result.observed and lam.calls == [] and sns.published == []
