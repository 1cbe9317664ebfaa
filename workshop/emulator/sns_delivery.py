"""SNS -> Lambda as AWS delivers it: a real SNS event (true topic and subscription ARNs), invoked asynchronously.

Stock moto calls the function synchronously through Docker with a placeholder event. Other protocols are untouched.
A delivery SNS cannot make (the function is gone, or may not be invoked by SNS for this topic) goes to the
subscription's dead letter queue when it has one (sns_redrive), else it is dropped, as on AWS.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from types import ModuleType
from typing import Any

from workshop.emulator import async_invoke, iam_enforce, sns_redrive

log = logging.getLogger("workshop.emulator.sns")


def sns_event(subscription: Any, message: str, message_id: str, subject: str | None,
              message_attributes: dict[str, Any] | None) -> dict[str, Any]:
    """The event a function subscribed to a topic receives."""
    topic_arn = subscription.topic.arn
    region = topic_arn.split(":")[3]
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    attributes = {
        name: {"Type": value.get("Type", "String"), "Value": value.get("Value")}
        for name, value in (message_attributes or {}).items()
    }
    return {"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription.arn,
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": topic_arn,
            "Subject": subject,
            "Message": message,
            "Timestamp": stamp,
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-local.pem",
            "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription.arn}",
            "MessageAttributes": attributes,
        },
    }]}


def _refusal(account_id: str, region: str, name: str, qualifier: str | None, topic_arn: str) -> str | None:
    """Why SNS cannot invoke the function (a client-side error: not retried), or None when it can.

    SNS invokes a function only when it exists and its resource policy allows sns.amazonaws.com for this topic
    (AWS::Lambda::Permission)."""
    from moto.awslambda.utils import get_backend

    try:
        fn = get_backend(account_id, region).get_function(name, qualifier)
    except Exception:  # noqa: BLE001 - the function is gone: nothing to deliver to
        return f"function {name} not found"
    if iam_enforce.service_may_invoke(fn, "sns.amazonaws.com", topic_arn):
        return None
    return (f"the resource policy of {name} does not allow sns.amazonaws.com to invoke it "
            "(add an AWS::Lambda::Permission)")


def patch(models: ModuleType) -> None:
    cls = models.Subscription
    original = cls.publish

    @functools.wraps(original)
    def publish(self: Any, message: str, message_id: str, subject: str | None = None,
                message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
                deduplication_id: str | None = None, message_structure: str | None = None) -> None:
        if self.protocol != "lambda":
            return original(self, message, message_id, subject, message_attributes, group_id, deduplication_id,
                            message_structure)
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(message_attributes, message):
            return None
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        parts = self.endpoint.split(":")
        region, name = parts[3], parts[6]
        qualifier = parts[7] if len(parts) > 7 else None
        refused = _refusal(parts[4], region, name, qualifier, self.topic.arn)
        if refused is not None:
            sns_redrive.redrive(self, message, message_id, subject, message_attributes, refused, group_id,
                                deduplication_id)
            return None
        event = sns_event(self, message, message_id, subject, message_attributes)
        async_invoke.submit(parts[4], region, name, event, qualifier)
        return None

    cls.publish = publish
