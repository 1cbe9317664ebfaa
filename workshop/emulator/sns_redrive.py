"""A subscription's dead letter queue (its `RedrivePolicy`), as SNS keeps and uses it.

Setting it (Subscribe, SetSubscriptionAttributes, `AWS::SNS::Subscription`): the value must be a JSON object whose
only key is `deadLetterTargetArn`, an ARN; otherwise the call is refused with SNS's `InvalidParameter` and its wording
(`Invalid parameter: RedrivePolicy: ...`, prefixed `Invalid parameter: Attributes Reason: ` at Subscribe). An empty
value removes the policy. moto stored any text and, at Subscribe, created the subscription before looking at its
attributes; here Subscribe checks first, so a refused Subscribe leaves no subscription behind.

Using it: when SNS cannot deliver to a Lambda endpoint (the function is gone, or its resource policy does not let
sns.amazonaws.com invoke it for this topic: a client-side error, never retried), the message goes to the queue if
the queue exists in the subscription's account and Region and ITS policy lets sns.amazonaws.com `sqs:SendMessage`
(conditions on `aws:SourceArn` / `aws:SourceAccount` are evaluated with the topic); otherwise it is dropped (AWS counts
it in NumberOfNotificationsFailedToRedriveToDlq). A standard topic's subscription needs a standard queue: with a
FIFO one the message is dropped; so is one the queue refuses (too large for its MaximumMessageSize...). A failed
redrive never fails the publisher's Publish: it is logged as the other drops are. The body is the notification SNS would have sent to an SQS endpoint:
the JSON envelope (with the publisher's message attributes inside it), or for a raw subscription the message itself
with the attributes as SQS message attributes. A function that runs and raises is not a failed delivery: SNS handed
the event to Lambda, whose own retries and dead letter queue take it from there (async_invoke).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
from types import ModuleType
from typing import Any

log = logging.getLogger("workshop.emulator.sns")

ATTRIBUTE = "RedrivePolicy"
_KNOWN_KEYS = ("deadLetterTargetArn",)
_ARN = re.compile(r"^arn:[^:]+:[^:]+:[^:]*:[^:]*:.+$")


def _invalid(message: str) -> Exception:
    from moto.sns.exceptions import SNSInvalidParameter

    return SNSInvalidParameter(message)


def problem(value: Any) -> str | None:
    """Why SNS refuses `value` as a RedrivePolicy (the text after `RedrivePolicy: `), or None when it accepts it."""
    if value is None or value == "":
        return None  # removes the policy
    try:
        policy = json.loads(value)
    except (TypeError, ValueError) as exc:
        return f"failed to parse JSON. {exc}"
    if not isinstance(policy, dict):
        return "failed to parse JSON. The policy must be a JSON object"
    for key in policy:
        if key not in _KNOWN_KEYS:
            return f"invalid JSON. Attribute {key} is unknown."
    target = policy.get("deadLetterTargetArn")
    if not isinstance(target, str) or not _ARN.match(target):
        return "deadLetterTargetArn is an invalid arn"
    return None


def check(value: Any, at_subscribe: bool) -> None:
    """Raise SNS's InvalidParameter for a RedrivePolicy SNS refuses."""
    reason = problem(value)
    if reason is not None:
        prefix = "Invalid parameter: Attributes Reason: " if at_subscribe else "Invalid parameter: "
        raise _invalid(f"{prefix}{ATTRIBUTE}: {reason}")


def target(subscription: Any) -> str | None:
    """The dead letter queue's ARN of a subscription, if it has one."""
    value = (getattr(subscription, "attributes", None) or {}).get(ATTRIBUTE)
    if not value:
        return None
    try:
        arn = json.loads(value).get("deadLetterTargetArn")
    except (TypeError, ValueError, AttributeError):
        return None
    return arn if isinstance(arn, str) else None


# ---- redrive ------------------------------------------------------------------------------------------------

def _raw(subscription: Any) -> bool:
    return str((subscription.attributes or {}).get("RawMessageDelivery", "false")).lower() == "true"


def envelope(subscription: Any, message: str, message_id: str, subject: str | None,
             message_attributes: dict[str, Any] | None) -> dict[str, Any]:
    """The notification as SNS writes it to an SQS queue (the DLQ's body for a non-raw subscription)."""
    try:
        post = subscription.get_post_data(message, message_id, subject, message_attributes=message_attributes)
    except Exception:  # noqa: BLE001 - signing is decoration; the envelope's fields are what a reader needs
        post = {"Type": "Notification", "MessageId": message_id, "TopicArn": subscription.topic.arn, "Message": message,
                "Timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "SignatureVersion": "1", "Signature": "EXAMPLE"}
        if subject:
            post["Subject"] = subject
        if message_attributes:
            post["MessageAttributes"] = message_attributes
    region = subscription.topic.arn.split(":")[3]
    post["UnsubscribeURL"] = f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription.arn}"
    return post


def _sqs_attributes(message_attributes: dict[str, Any] | None) -> dict[str, Any]:
    """Publisher attributes as SQS message attributes (what a raw subscription's queue receives)."""
    converted = {}
    for name, value in (message_attributes or {}).items():
        kind = str(value.get("Type", "String"))
        if kind.startswith("Binary"):
            converted[name] = {"DataType": kind, "BinaryValue": value.get("Value")}
        else:
            converted[name] = {"DataType": kind, "StringValue": str(value.get("Value"))}
    return converted


def sns_may_send(queue: Any, queue_arn: str, topic_arn: str) -> bool:
    """Does the queue's policy let sns.amazonaws.com sqs:SendMessage to it for this topic?"""
    from workshop.emulator import iam_enforce

    return iam_enforce.service_allowed(getattr(queue, "policy", None), "sns.amazonaws.com", "sqs:SendMessage",
                                       queue_arn, topic_arn)


def redrive(subscription: Any, message: str, message_id: str, subject: str | None,
            message_attributes: dict[str, Any] | None, reason: str, group_id: str | None = None,
            deduplication_id: str | None = None) -> bool:
    """Send an undeliverable message to the subscription's dead letter queue; whether it got there.

    Never raises: on AWS a failed redrive never fails the publisher's Publish; the message is dropped (and counted in
    NumberOfNotificationsFailedToRedriveToDlq), here with a log line."""
    arn = target(subscription)
    topic_arn = subscription.topic.arn
    if not arn:
        log.warning("SNS delivery from %s to %s failed (%s); the subscription has no dead letter queue "
                    "(RedrivePolicy): the message is dropped", topic_arn, subscription.endpoint, reason)
        return False
    parts = arn.split(":")
    same_place = parts[2] == "sqs" and parts[3] == topic_arn.split(":")[3] and parts[4] == subscription.account_id
    queue = None
    if same_place and len(parts) == 6:
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[parts[4]][parts[3]].queues.get(parts[5])
    if queue is None:
        log.warning("SNS delivery from %s to %s failed (%s); its dead letter queue %s is not an SQS queue of this "
                    "account and Region: the message is dropped (AWS: NumberOfNotificationsFailedToRedriveToDlq)",
                    topic_arn, subscription.endpoint, reason, arn)
        return False
    if not sns_may_send(queue, arn, topic_arn):
        log.warning("SNS delivery from %s to %s failed (%s); the policy of its dead letter queue %s does not allow "
                    "sns.amazonaws.com to sqs:SendMessage for this topic (add an AWS::SQS::QueuePolicy): the message "
                    "is dropped (AWS: NumberOfNotificationsFailedToRedriveToDlq)", topic_arn, subscription.endpoint,
                    reason, arn)
        return False
    if getattr(queue, "fifo_queue", False) and not getattr(subscription.topic, "fifo_topic", False):
        log.warning("SNS delivery from %s to %s failed (%s); the message could not be moved to its dead letter queue "
                    "%s: %s is a FIFO queue, and a standard topic's subscription needs a standard queue: the message is "
                    "dropped (AWS: NumberOfNotificationsFailedToRedriveToDlq)", topic_arn, subscription.endpoint,
                    reason, arn, arn)
        return False
    from moto.sqs.models import sqs_backends

    backend = sqs_backends[parts[4]][parts[3]]
    fifo = {"group_id": group_id, "deduplication_id": deduplication_id} if getattr(queue, "fifo_queue", False) else {}
    try:
        if _raw(subscription):
            backend.send_message(parts[5], message, message_attributes=_sqs_attributes(message_attributes), **fifo)
        else:
            body = envelope(subscription, message, message_id, subject, message_attributes)
            backend.send_message(parts[5], json.dumps(body, indent=2), **fifo)
    except Exception as exc:  # noqa: BLE001 - whatever the queue refuses, AWS drops the message, never fails Publish
        log.warning("SNS delivery from %s to %s failed (%s); the message could not be moved to its dead letter queue "
                    "%s (%s): the message is dropped (AWS: NumberOfNotificationsFailedToRedriveToDlq)", topic_arn,
                    subscription.endpoint, reason, arn, getattr(exc, "message", None) or exc)
        return False
    log.warning("SNS delivery from %s to %s failed (%s); the message went to the subscription's dead letter queue %s",
                topic_arn, subscription.endpoint, reason, arn)
    return True


# ---- patches ------------------------------------------------------------------------------------------------

def patch_models(models: ModuleType) -> None:
    """SetSubscriptionAttributes (and CloudFormation) refuse a RedrivePolicy SNS refuses; an empty one removes it."""
    backend_cls = models.SNSBackend
    original = backend_cls.set_subscription_attributes

    @functools.wraps(original)
    def set_subscription_attributes(self: Any, arn: str, name: str, value: Any) -> None:
        if name == ATTRIBUTE and arn in self.subscriptions:  # an unknown subscription: moto's NotFound comes first
            check(value, at_subscribe=False)
            if value is None or value == "":
                original(self, arn, name, value)  # existence checks, then the policy is removed
                subscription = self.subscriptions.get(arn)
                if subscription is not None:
                    subscription.attributes.pop(ATTRIBUTE, None)
                return None
        return original(self, arn, name, value)

    backend_cls.set_subscription_attributes = set_subscription_attributes


def patch_responses(responses: ModuleType) -> None:
    """Subscribe refuses bad attributes BEFORE it subscribes (moto subscribed, then failed on the attribute)."""
    cls = responses.SNSResponse
    original = cls.subscribe

    @functools.wraps(original)
    def subscribe(self: Any) -> Any:
        attributes = self._get_param("Attributes", {}) or {}
        if ATTRIBUTE in attributes:
            check(attributes[ATTRIBUTE], at_subscribe=True)
        return original(self)

    cls.subscribe = subscribe
