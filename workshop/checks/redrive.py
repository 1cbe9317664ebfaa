"""The subscription's own dead letter queue (its redrive policy): read from serverless.yml, then from the account.

Two correct spellings: `redrivePolicy` inside PutRideRecordSns's `sns` event (the framework then writes the
subscription's RedrivePolicy and the queue's policy for SNS), or a hand-written AWS::SNS::Subscription with its own
RedrivePolicy, AWS::SQS::QueuePolicy and AWS::Lambda::Permission. Both checks only read.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

from workshop.checks import aws, sls
from workshop.checks.aws import deploy_cmd, live
from workshop.checks.model import Problem, Result, failed, passed
from workshop.checks.registry import RR
from workshop.checks.sls import FUNCTION_LOGICAL, SNS, hand_subscriptions
from workshop.checks.static import SSM_SHOWN, is_the_topic, names_the_topic
from workshop.deploy.service_file import ServiceFile, action_allowed, as_list

RR_YML = f"{RR}/serverless.yml"
QUEUE = "RidesSnsSubscriptionDlq"
FUNCTION = "PutRideRecordSns"
EVENT_FIX = (f"In {RR_YML}, add inside PutRideRecordSns's `sns` event, beside `arn`: "
             f"`redrivePolicy:` `deadLetterTargetRef: {QUEUE}`.")
EXPECTED = f"the subscription's redrivePolicy naming {QUEUE}, a queue SNS may send to"


def _queue_of_arn(sf: ServiceFile, value: Any, queues: dict) -> str | None:
    """The declared queue an ARN value means: `Fn::GetAtt [Q, Arn]`, or a string built from Q's own QueueName."""
    found = sf.getatt_of(value)
    if found:
        return found[0] if found[1] == "Arn" and found[0] in queues else None
    if isinstance(value, str):
        name = value.rsplit(":", 1)[-1]
        for logical, res in queues.items():
            if sf.resolve((res.get("Properties") or {}).get("QueueName")) == name:
                return logical
    return None


_SQS_ARN = re.compile(r"^arn:aws[\w-]*:sqs:(\$\{[^}]*\}|[^:]*):(\$\{[^}]*\}|[^:]*):(.+)$")


def _pasted(arn: str) -> bool:
    """An SQS ARN whose Region or account is written out: it works in one account and Region only."""
    found = _SQS_ARN.match(arn)
    return bool(found) and ("${" not in found.group(1) or "${" not in found.group(2))


def _judge_target(sf: ServiceFile, policy: Any, queues: dict, *, event: bool) -> tuple[str | None, Result | None]:
    """(the queue the redrive policy names, None) or (None, the failure)."""
    key = "redrivePolicy" if event else "RedrivePolicy"
    if not isinstance(policy, dict):
        return None, failed(f"{key} is {sls.raw(policy)}, not a mapping", EXPECTED,
                            EVENT_FIX if event else f"In {RR_YML}, write `RedrivePolicy: {{deadLetterTargetArn: "
                                                    f"{{Fn::GetAtt: [{QUEUE}, Arn]}}}}` on the subscription.")
    ref, arn = policy.get("deadLetterTargetRef"), sf.resolve(policy.get("deadLetterTargetArn"))
    if event and ref is not None:
        ref = sf.resolve(ref)
        if not isinstance(ref, str):
            return None, failed(f"deadLetterTargetRef is {sls.raw(ref)}", f"deadLetterTargetRef: {QUEUE}",
                                f"In {RR_YML}, write the logical ID as plain text: `deadLetterTargetRef: {QUEUE}` "
                                "(not `Ref:` or `!Ref`): the framework refuses anything but a string there.")
        if ref not in queues:
            return None, failed(f"deadLetterTargetRef names {ref}, which {RR_YML} does not declare as an AWS::SQS::Queue",
                                EXPECTED, f"In {RR_YML}, declare `{QUEUE}` (`Type: AWS::SQS::Queue`) under resources and "
                                f"name it in `deadLetterTargetRef: {QUEUE}`.")
        return _standard(sf, queues, ref)
    if arn is None:
        if event and "deadLetterTargetImport" in policy:
            return None, failed("deadLetterTargetImport names a queue of another stack", EXPECTED,
                                f"In {RR_YML}, declare `{QUEUE}` in this service and write `deadLetterTargetRef: {QUEUE}`.")
        return None, failed(f"{key} has no deadLetterTarget{'Ref' if event else 'Arn'} ({sls.raw(policy)})", EXPECTED,
                            EVENT_FIX if event else f"In {RR_YML}, write `RedrivePolicy: {{deadLetterTargetArn: "
                                                    f"{{Fn::GetAtt: [{QUEUE}, Arn]}}}}` on the subscription.")
    if event and not isinstance(arn, str):
        return None, failed(f"deadLetterTargetArn is {sls.raw(policy.get('deadLetterTargetArn'))}: the framework accepts "
                            "only a plain ARN string there (`must be string`)", f"deadLetterTargetRef: {QUEUE}",
                            f"In {RR_YML}, replace it with `deadLetterTargetRef: {QUEUE}`: the framework turns the "
                            "logical ID into the queue's ARN for you.")
    if any(sf.refers_to(arn, q) for q in queues):
        return None, failed("deadLetterTargetArn is `Ref` of the queue, which gives its URL", "the queue's ARN",
                            f"In {RR_YML}, write `deadLetterTargetArn: {{Fn::GetAtt: [{QUEUE}, Arn]}}`: Ref of a queue is its URL.")
    if isinstance(arn, str) and arn.startswith("arn:") and _pasted(arn):
        return None, failed(f"deadLetterTargetArn is a pasted ARN ({arn})", EXPECTED,
                            (EVENT_FIX if event else f"In {RR_YML}, write `deadLetterTargetArn: {{Fn::GetAtt: [{QUEUE}, Arn]}}`.")
                            + " A pasted ARN breaks in every other account, Region or stage.")
    queue = _queue_of_arn(sf, arn, queues)
    if queue is None:
        return None, failed(f"deadLetterTargetArn is {sls.raw(policy.get('deadLetterTargetArn'))}, not a queue {RR_YML} declares",
                            EXPECTED, EVENT_FIX if event else
                            f"In {RR_YML}, write `deadLetterTargetArn: {{Fn::GetAtt: [{QUEUE}, Arn]}}`.")
    if event:  # an ARN spelled from the queue's name: the framework's queue policy names the queue without waiting for it
        return None, failed(f"deadLetterTargetArn spells {queue}'s ARN from its QueueName", f"deadLetterTargetRef: {queue}",
                            f"In {RR_YML}, write `deadLetterTargetRef: {queue}` instead. Given an ARN, the framework writes "
                            "the queue's policy without making it wait for the queue, so a new stage can fail with "
                            "'The specified queue does not exist'; given the logical ID, it orders them.")
    return _standard(sf, queues, queue)


def _standard(sf: ServiceFile, queues: dict, queue: str) -> tuple[str | None, Result | None]:
    """A standard topic's subscription needs a standard queue: SNS cannot send its messages to a FIFO one."""
    props = (queues.get(queue) or {}).get("Properties") or {}
    name = sf.resolve(props.get("QueueName"))
    if str(sf.resolve(props.get("FifoQueue"))).lower() == "true" or (isinstance(name, str) and name.endswith(".fifo")):
        return None, failed(f"{queue} is a FIFO queue", f"{queue}, a standard queue",
                            f"In {RR_YML}, remove `FifoQueue` (and the `.fifo` ending of its QueueName) from {queue}: the "
                            "topic is a standard topic, and SNS moves its undelivered messages only into a standard queue.")
    return queue, None


def _sns_may_send(sf: ServiceFile, queue: str) -> bool:
    """Some AWS::SQS::QueuePolicy on `queue` allows sns.amazonaws.com sqs:SendMessage on it."""
    for res in sf.of_type("AWS::SQS::QueuePolicy").values():
        props = res.get("Properties") or {}
        if not any(sf.refers_to(sf.resolve(q), queue) for q in as_list(props.get("Queues"))):
            continue
        document = sf.resolve(props.get("PolicyDocument"))
        for st in as_list(document.get("Statement") if isinstance(document, dict) else None):
            if not isinstance(st, dict) or st.get("Effect") != "Allow" or not action_allowed(st.get("Action"), "sqs:SendMessage"):
                continue
            principal = st.get("Principal")
            services = as_list(principal.get("Service")) if isinstance(principal, dict) else as_list(principal)
            resources = [sf.resolve(r) for r in as_list(st.get("Resource"))]
            if (SNS in services or "*" in services) and any(r == "*" or sf.refers_to(r, queue, ("Arn",)) for r in resources):
                return True
    return False


def _function_dlq(sf: ServiceFile, fn: dict) -> str | None:
    found = sf.getatt_of(sf.resolve(fn.get("onError")))
    return found[0] if found else None


def _shared(queue: str, fn_dlq: str | None) -> Result | None:
    if queue != fn_dlq:
        return None
    return failed(f"the subscription's dead letter queue is {queue}, PutRideRecordSns's own onError queue", EXPECTED,
                  f"In {RR_YML}, declare a queue of its own, `{QUEUE}` (`Type: AWS::SQS::Queue`), and name it in the "
                  f"redrive policy: {queue} keeps Lambda's failed events, this one the messages SNS could not deliver.")


def _misplaced(sf: ServiceFile, fn: dict) -> str:
    found = sf.find_key("redrivePolicy", fn, ("functions", FUNCTION))
    if found is None:
        return ""
    return (f" (`redrivePolicy` is at {found.dotted}, line {found.line}; the framework refuses it there: "
            "move it inside the sns event, beside `arn`)")


def redrive_declared(ctx) -> Result:
    sf = sls.config(ctx, RR)
    fn = sf.function(FUNCTION)
    if fn is None:
        return failed(f"no function {FUNCTION}", f"{FUNCTION} with its sns event", f"In {RR_YML}, keep {FUNCTION} and its `sns` event.")
    queues = sf.of_type("AWS::SQS::Queue")
    events = sf.events(fn, "sns")
    hand = hand_subscriptions(sf)
    if events and hand:
        return failed(f"PutRideRecordSns has an sns event AND the subscription {next(iter(hand))}: the topic would "
                      "subscribe it twice", "one subscription", f"In {RR_YML}, remove the `sns` event from PutRideRecordSns: "
                      "your AWS::SNS::Subscription replaces it.")
    if hand:
        return _judge_hand(sf, fn, queues, *next(iter(hand.items())))
    if not events:
        return failed(f"PutRideRecordSns has no sns event{sls.misplaced(sf, FUNCTION, 'events')}", EXPECTED,
                      f"In {RR_YML}, keep PutRideRecordSns's `sns` event ({ctx.step_ref('subscribe-sns-function')}) "
                      "and add `redrivePolicy` inside it.")
    event = events[0]
    policy = event.get("redrivePolicy") if isinstance(event, dict) else None
    if policy is None:
        where = _misplaced(sf, fn)
        first = "" if queues.keys() - {_function_dlq(sf, fn)} else f"In {RR_YML}, declare `{QUEUE}` (`Type: AWS::SQS::Queue`); "
        fix = EVENT_FIX if not first else first + "then " + EVENT_FIX.split(", ", 1)[1]
        return failed(f"PutRideRecordSns's sns event has no redrivePolicy{where}", EXPECTED, fix)
    queue, problem = _judge_target(sf, policy, queues, event=True)
    if problem:
        return problem
    return _shared(queue, _function_dlq(sf, fn)) or passed(
        f"sns event redrivePolicy -> {queue}; the framework adds the queue policy for SNS", EXPECTED)


_SUB_GETATT = re.compile(r"\$\{([A-Za-z0-9]+)\.Arn\}")
_SUB_REF = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def _as_mapping(policy: Any) -> Any:
    """CloudFormation takes a subscription's RedrivePolicy as JSON text too: a string, `Fn::Sub` of one whose
    `${Queue.Arn}` and `${Queue}` mean GetAtt and Ref, or `Fn::Join` of strings and intrinsic functions. Anything
    else is judged as it stands."""
    joined = _joined(policy)
    if joined is not None:
        return joined
    body = policy.get("Fn::Sub") if isinstance(policy, dict) and len(policy) == 1 else policy
    if isinstance(body, list) and body and isinstance(body[0], str):
        body = body[0]
    if not isinstance(body, str):
        return policy
    try:
        data = json.loads(body)
    except ValueError:
        return policy
    if not isinstance(data, dict):
        return policy
    if body is policy:
        return data

    def unsub(value: Any) -> Any:
        if isinstance(value, str) and (found := _SUB_GETATT.fullmatch(value)):
            return {"Fn::GetAtt": [found.group(1), "Arn"]}
        if isinstance(value, str) and (found := _SUB_REF.fullmatch(value)):
            return {"Ref": found.group(1)}
        return value

    return {key: unsub(value) for key, value in data.items()}


def _joined(policy: Any) -> dict | None:
    """`Fn::Join` of JSON text whose values may be intrinsic functions (each a whole JSON string): the mapping it means."""
    args = policy.get("Fn::Join") if isinstance(policy, dict) and len(policy) == 1 else None
    if not (isinstance(args, list) and len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], list)):
        return None
    def text(i: int, part: Any) -> str:
        if isinstance(part, str):
            return part
        if isinstance(part, dict) and isinstance(part.get("Ref"), str) and part["Ref"].startswith("AWS::"):
            return "${" + part["Ref"] + "}"  # a pseudo parameter reads as Fn::Sub writes it
        return f"\ue000{i}\ue000"

    parts = {f"\ue000{i}\ue000": part for i, part in enumerate(args[1])}
    try:
        data = json.loads(args[0].join(text(i, part) for i, part in enumerate(args[1])))
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    mapped = {key: parts.get(value, value) if isinstance(value, str) else value for key, value in data.items()}
    if any(isinstance(value, str) and "\ue000" in value for value in mapped.values()):
        return None  # a function inside a longer string: judged as written
    return mapped


def _judge_hand(sf: ServiceFile, fn: dict, queues: dict, logical: str, props: dict) -> Result:
    topic = sf.resolve(props.get("TopicArn"))
    if not names_the_topic(topic):
        return failed(f"{logical}'s TopicArn is {sls.raw(props.get('TopicArn'))}", f"TopicArn: {SSM_SHOWN}",
                      f"In {RR_YML}, set the subscription's `TopicArn: {SSM_SHOWN}`.")
    if "RedrivePolicy" not in props:
        return failed(f"{logical} has no RedrivePolicy", EXPECTED, f"In {RR_YML}, add to {logical} `RedrivePolicy: "
                      f"{{deadLetterTargetArn: {{Fn::GetAtt: [{QUEUE}, Arn]}}}}`.")
    queue, problem = _judge_target(sf, _as_mapping(sf.resolve(props.get("RedrivePolicy"))), queues, event=False)
    if problem:
        return problem
    shared = _shared(queue, _function_dlq(sf, fn))
    if shared:
        return shared
    if not _sns_may_send(sf, queue):
        return failed(f"no AWS::SQS::QueuePolicy lets SNS send to {queue}", f"sqs:SendMessage for {SNS} on {queue}",
                      f"In {RR_YML}, add an AWS::SQS::QueuePolicy with `Queues: [{{Ref: {queue}}}]` allowing "
                      f"`Service: {SNS}` `sqs:SendMessage` on `Fn::GetAtt: [{queue}, Arn]`: the sns event would "
                      "have written it for you, a hand-written subscription needs its own.")
    if not sls.sns_may_invoke_declared(sf, source_ok=is_the_topic):
        return failed(f"no AWS::Lambda::Permission lets SNS invoke {FUNCTION}", f"lambda:InvokeFunction for {SNS}",
                      f"In {RR_YML}, add an AWS::Lambda::Permission (`FunctionName: {{Fn::GetAtt: [{FUNCTION_LOGICAL}, Arn]}}`, "
                      f"`Action: lambda:InvokeFunction`, `Principal: {SNS}`, `SourceArn` the topic): without the sns "
                      "event nothing else writes it, and every ride would go to the queue.")
    return passed(f"{logical} RedrivePolicy -> {queue}; a queue policy lets SNS send to it", EXPECTED)


# --- the account ------------------------------------------------------------------------------------------------

def _queue_policy_allows(policy: dict, queue_arn: str, topic: str) -> bool:
    for st in as_list(policy.get("Statement")):
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        principal = st.get("Principal")
        services = as_list(principal.get("Service")) if isinstance(principal, dict) else as_list(principal)
        if not (SNS in services or "*" in services):
            continue
        if not any(isinstance(a, str) and fnmatch.fnmatchcase("sqs:sendmessage", a.lower()) for a in as_list(st.get("Action"))):
            continue
        if not any(fnmatch.fnmatchcase(queue_arn, str(r)) for r in as_list(st.get("Resource"))):
            continue
        sources = [v for cond in (st.get("Condition") or {}).values() if isinstance(cond, dict)
                   for k, v in cond.items() if k.lower() == "aws:sourcearn"]
        if not sources or any(fnmatch.fnmatchcase(topic, str(s)) for values in sources for s in as_list(values)):
            return True
    return False


def _subscription(ctx, topic: str, fn: dict) -> dict:
    from workshop.checks.live import lambda_subscriptions, subscription_attributes

    subs = [s for s in lambda_subscriptions(ctx, topic) if s["Endpoint"].split(":$LATEST")[0] == fn["FunctionArn"]]
    if not subs:
        from workshop.checks.live import files

        sf = files(ctx, RR)
        if sf is not None and hand_subscriptions(sf):
            fix = (f"Your AWS::SNS::Subscription replaced the sns event's subscription in one deploy: SNS handed the same "
                   f"subscription back for it, and CloudFormation then deleted it with the old resource. Run "
                   f"{aws.recreate_cmd(RR)} to create it afresh (or keep the `sns` event with its `redrivePolicy`).")
        else:
            fix = (f"Keep PutRideRecordSns's `sns` event in {RR_YML}, then {deploy_cmd(RR)}. If the event is there and the "
                   f"deploy changes nothing (the subscription was lost in a switch to or from a hand-written one), run "
                   f"{aws.recreate_cmd(RR)}.")
        raise Problem(failed("the topic has no lambda subscription to PutRideRecordSns",
                             f"the subscription of {ctx.step_ref('deploy-subscription')}", fix))
    return subscription_attributes(ctx, subs[0]["SubscriptionArn"])


def _declares_redrive(ctx) -> bool:
    from workshop.checks.live import files

    sf = files(ctx, RR)
    if sf is None:
        return False
    fn = sf.function(FUNCTION) or {}
    events = [e for e in sf.events(fn, "sns") if isinstance(e, dict) and "redrivePolicy" in e]
    return bool(events) or any("RedrivePolicy" in p for p in hand_subscriptions(sf).values())


def deployed_queue(ctx) -> tuple[str, str, str]:
    """(topic ARN, the subscription's dead letter queue ARN, its URL); the check ends when any is missing."""
    from botocore.exceptions import ClientError

    from workshop.checks.live import need_sns_function, topic_arn

    topic = topic_arn(ctx)
    attrs = _subscription(ctx, topic, need_sns_function(ctx))
    raw = attrs.get("RedrivePolicy")
    try:
        target = json.loads(raw).get("deadLetterTargetArn") if raw else None
    except (ValueError, AttributeError):
        target = None
    if not target:
        fix = (f"The redrive policy is declared in {RR_YML} but not deployed yet: run {deploy_cmd(RR)}." if _declares_redrive(ctx)
               else f"Add `redrivePolicy: {{deadLetterTargetRef: {QUEUE}}}` inside PutRideRecordSns's `sns` event, then {deploy_cmd(RR)}.")
        raise Problem(failed("the topic's subscription to PutRideRecordSns has no RedrivePolicy", EXPECTED, fix))
    parts = target.split(":")
    try:
        url = ctx.client("sqs").get_queue_url(QueueName=parts[-1], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
    except (ClientError, IndexError) as exc:
        if isinstance(exc, ClientError) and "NonExistentQueue" not in aws.code(exc):
            raise
        raise Problem(failed(f"the subscription's deadLetterTargetArn {target} names no existing queue", EXPECTED,
                             f"Declare `{QUEUE}` in {RR_YML}, name it with `deadLetterTargetRef: {QUEUE}`, then "
                             f"{deploy_cmd(RR)}. If both are there already (the queue was deleted outside the deploy, or "
                             f"replaced), a deploy sees nothing to change: run {aws.recreate_cmd(RR)}.")) from None
    return topic, target, url


@live
def subscription_redrive(ctx) -> Result:
    topic, target, url = deployed_queue(ctx)
    from workshop.checks.live import need_sns_function

    own = (need_sns_function(ctx).get("DeadLetterConfig") or {}).get("TargetArn")
    if own and own == target:
        return failed(f"the subscription redrives to {target.rsplit(':', 1)[-1]}, PutRideRecordSns's own dead letter queue",
                      EXPECTED, f"In {RR_YML}, declare a queue of its own, `{QUEUE}`, name it with "
                      f"`deadLetterTargetRef: {QUEUE}`, then {deploy_cmd(RR)}: the function's queue keeps Lambda's failed "
                      "events, this one the messages SNS could not deliver.")
    attributes = ctx.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["Policy", "FifoQueue"]).get("Attributes", {})
    if str(attributes.get("FifoQueue", "")).lower() == "true":
        return failed(f"the subscription's queue {target.rsplit(':', 1)[-1]} is a FIFO queue", "a standard queue",
                      f"In {RR_YML}, make {QUEUE} a standard queue (no `FifoQueue`, no `.fifo` name), then "
                      f"{deploy_cmd(RR)}: SNS moves a standard topic's undelivered messages only into a standard queue.")
    raw = attributes.get("Policy")
    try:
        policy = json.loads(raw) if raw else {}
    except ValueError:
        policy = {}
    if not _queue_policy_allows(policy, target, topic):
        return failed(f"the queue {target.rsplit(':', 1)[-1]}'s policy does not let SNS send to it from the topic",
                      f"sqs:SendMessage for {SNS} from {topic}",
                      f"Name the queue with `deadLetterTargetRef` in the sns event (the framework writes its policy), or add an "
                      f"AWS::SQS::QueuePolicy for {SNS}; then {deploy_cmd(RR)}.")
    return passed(f"RedrivePolicy -> {target}; its policy lets SNS send from the topic", EXPECTED)
