"""Static checks of serverless.yml: read for meaning (any spelling osls resolves the same way passes), each failure
naming the edit. Values are judged as osls resolves them for the deploy's stage; Observed shows the file's own text."""

from __future__ import annotations

import re
from typing import Any

from workshop.checks import sls
from workshop.checks.model import Result, failed, passed
from workshop.checks.registry import RR, WR
from workshop.checks.sls import STAGE
from workshop.deploy.service_file import ServiceFile

RR_YML, WR_YML = f"{RR}/serverless.yml", f"{WR}/serverless.yml"
HTTP_HANDLER = "handlers/put_ride_record.handler_http"
SNS_HANDLER = "handlers/put_ride_record.handler_sns"
TOPIC, TABLE = "RidesSnsTopic", "RideRecordTable"
PARAM_NAME = f"/wild-rydes/{STAGE}/SnsTopicArn"  # the stage as osls resolves it: no learner can type STAGE
PARAM_SHOWN = "/wild-rydes/${sls:stage}/SnsTopicArn"
TOPIC_ARN_ATTRS = ("TopicArn",)  # for a topic, Ref and GetAtt TopicArn both give the ARN
SSM_TOPIC = f"${{ssm:{PARAM_NAME}}}"
SSM_SHOWN = f"${{ssm:{PARAM_SHOWN}}}"
STAGE_HINT = "write the stage as `${sls:stage}`, as the rest of the file does"
NOT_A_VARIABLE = "`${stage}` is not a Serverless variable: osls leaves those very characters in the name"


def _http_event_ok(event: Any) -> bool:
    if isinstance(event, str):
        method, _, path = event.strip().partition(" ")
    elif isinstance(event, dict):
        method, path = str(event.get("method", "")), str(event.get("path", ""))
    else:
        return False
    return method.lower() in ("post", "any") and path.strip().strip("/") == "record"


def http_function_declared(ctx) -> Result:
    sf = sls.config(ctx, RR)
    fns = sf.functions
    fn = fns.get("PutRideRecordHttp")
    if fn is None:
        seen = ", ".join(fns) or "none"
        return failed(f"functions: {seen}", "a function PutRideRecordHttp",
                      f"In {RR_YML}, rename the function key `PutRideRecord` to `PutRideRecordHttp`.")
    if sf.handler_path(fn) != HTTP_HANDLER:
        return failed(f"PutRideRecordHttp handler: {sf.handler_path(fn) or 'none'}{sls.misplaced(sf, 'PutRideRecordHttp', 'handler')}",
                      f"handler: {HTTP_HANDLER}", f"In {RR_YML}, set `handler: {HTTP_HANDLER}` on PutRideRecordHttp.")
    if not any(_http_event_ok(e) for e in sf.events(fn, "http")):
        return failed(f"PutRideRecordHttp has no http POST /record event{sls.misplaced(sf, 'PutRideRecordHttp', 'events')}",
                      "an http event: POST /record",
                      f"In {RR_YML}, keep the `http` event (`path: /record`, `method: post`) under PutRideRecordHttp.")
    if "PutRideRecord" in fns:
        return failed("PutRideRecord is still declared next to PutRideRecordHttp", "PutRideRecord renamed, not copied",
                      f"In {RR_YML}, delete the old `PutRideRecord` function: PutRideRecordHttp replaces it.")
    return passed(f"PutRideRecordHttp -> {HTTP_HANDLER}, POST /record", "PutRideRecordHttp with POST /record")


def topic_declared(ctx) -> Result:
    topics = sls.config(ctx, WR).of_type("AWS::SNS::Topic")
    if TOPIC in topics:
        return passed(f"{TOPIC}: AWS::SNS::Topic", f"{TOPIC}: AWS::SNS::Topic")
    if topics:
        return failed(f"an SNS topic named {', '.join(topics)}", f"the topic's logical name {TOPIC}",
                      f"In {WR_YML}, rename the resource to `{TOPIC}`: the next steps refer to it by that name.")
    return failed("no AWS::SNS::Topic under resources.Resources", f"{TOPIC} with Type AWS::SNS::Topic",
                  f"In {WR_YML}, add under `resources:` / `Resources:` a resource `{TOPIC}` with `Type: AWS::SNS::Topic`.")


def _name_problem(name: Any, sf) -> str | None:
    """None when the Name resolves, for every stage, to the topic's parameter; else what is wrong (the file's text verbatim)."""
    text = sf.resolve(name)
    if not isinstance(text, str):
        return f"Name is {sls.raw(name)}, not a path"
    if text == PARAM_NAME:
        return None
    if "${stage}" in text:
        return f"Name {name}: {NOT_A_VARIABLE}; {STAGE_HINT}"
    if re.fullmatch(r"/wild-rydes/[^/]+/SnsTopicArn", text):
        return f"Name {name} fixes the stage; {STAGE_HINT}"
    return f"Name {name}"


def topic_arn_parameter(ctx) -> Result:
    sf = sls.config(ctx, WR)
    params = sf.of_type("AWS::SSM::Parameter")
    expected = f"an AWS::SSM::Parameter named {PARAM_SHOWN} with Value `Ref: {TOPIC}`"
    fix_add = (f"In {WR_YML}, add an `AWS::SSM::Parameter` resource with `Name: {PARAM_SHOWN}`, "
               f"`Type: String` and `Value: {{Ref: {TOPIC}}}`.")
    if not params:
        return failed("no AWS::SSM::Parameter under resources.Resources", expected, fix_add)
    problems = []
    for logical, res in params.items():
        props = res.get("Properties") or {}
        name_problem = _name_problem(props.get("Name"), sf)
        value = sf.resolve(props.get("Value"))
        if sf.refers_to(value, TOPIC, TOPIC_ARN_ATTRS):
            if name_problem is None:
                return passed(f"{logical}: {props.get('Name')} = {sls.raw(props.get('Value'))}", expected)
            problems.append(failed(f"{logical}: {name_problem}", expected,
                                   f"In {WR_YML}, set the parameter's `Name: {PARAM_SHOWN}`."))
        elif sf.refers_to(value, TOPIC, ("TopicName",)):
            problems.append(failed(f"{logical}'s Value is the topic's NAME (Fn::GetAtt {TOPIC}.TopicName)", "the topic's ARN",
                                   f"In {WR_YML}, set the parameter's `Value: {{Ref: {TOPIC}}}`: for a topic, Ref gives its ARN."))
        elif isinstance(value, str) and value.startswith("arn:"):
            problems.append(failed(f"{logical}'s Value is a pasted ARN", f"Value `Ref: {TOPIC}`",
                                   f"In {WR_YML}, replace the pasted ARN with `Ref: {TOPIC}` so every stage gets its own topic."))
        elif name_problem is None:
            problems.append(failed(f"{logical}'s Value is {sls.raw(props.get('Value'))}", f"Value `Ref: {TOPIC}`",
                                   f"In {WR_YML}, set the parameter's `Value: {{Ref: {TOPIC}}}`."))
    return problems[0] if problems else failed(
        f"SSM parameters {', '.join(params)} hold something else than the topic", expected, fix_add)


def sns_function_declared(ctx) -> Result:
    sf = sls.config(ctx, RR)
    fn = sf.function("PutRideRecordSns")
    if fn is None:
        return failed("no function PutRideRecordSns", f"PutRideRecordSns with handler {SNS_HANDLER}",
                      f"In {RR_YML}, add a function `PutRideRecordSns` with `handler: {SNS_HANDLER}`.")
    if sf.handler_path(fn) != SNS_HANDLER:
        return failed(f"PutRideRecordSns handler: {sf.handler_path(fn) or 'none'}{sls.misplaced(sf, 'PutRideRecordSns', 'handler')}",
                      f"handler: {SNS_HANDLER}", f"In {RR_YML}, set `handler: {SNS_HANDLER}` on PutRideRecordSns.")
    raw_table = sf.environment(fn).get("DDB_TABLE_NAME")
    table = sf.resolve(raw_table)
    if not sf.refers_to(table, TABLE):
        where = sls.misplaced(sf, "PutRideRecordSns", "DDB_TABLE_NAME") if raw_table is None else ""
        return failed(f"DDB_TABLE_NAME is {sls.raw(raw_table) if raw_table is not None else 'not set'}{where}",
                      f"DDB_TABLE_NAME: Ref {TABLE}",
                      f"In {RR_YML}, give PutRideRecordSns `environment:` `DDB_TABLE_NAME: {{Ref: {TABLE}}}`.")
    http = sf.events(fn, "http") + sf.events(fn, "httpApi")
    if http:
        return failed("PutRideRecordSns has an http event: it would take over a route (POST /record) from PutRideRecordHttp",
                      "no http event on PutRideRecordSns (SNS invokes it)",
                      f"In {RR_YML}, remove the `http` event from PutRideRecordSns: only PutRideRecordHttp answers over HTTP.")
    return passed(f"PutRideRecordSns -> {SNS_HANDLER}, DDB_TABLE_NAME = Ref {TABLE}", "declared")


def _sns_arn(event: Any) -> Any:
    return event.get("arn") if isinstance(event, dict) else event


def names_the_topic(value: Any) -> bool:
    """A resolved value that is the topic ARN wild-rydes publishes in SSM for the deploy's stage (`${ssm :...}` too)."""
    return isinstance(value, str) and re.sub(r"^\$\{ssm\s*:\s*", "${ssm:", value) == SSM_TOPIC


def is_the_topic(sf: ServiceFile, value: Any) -> bool:
    """A permission's SourceArn that names the topic (or no SourceArn: any topic may invoke)."""
    source = sf.resolve(value)
    return source is None or names_the_topic(source)


def _judge_arn(ctx, sf, raw_arn: Any) -> Result | None:
    """None when `raw_arn` means the topic ARN that wild-rydes publishes in SSM for the deploy's stage; else the failure."""
    expected = f"arn: {SSM_SHOWN}"
    fix = f"In {RR_YML}, set the sns event's `arn: {SSM_SHOWN}`."
    arn = sf.resolve(raw_arn)
    if names_the_topic(arn):
        return None
    if isinstance(arn, str) and arn.startswith("arn:aws:sns:"):
        return failed(f"the sns event has a pasted topic ARN ({arn})", expected,
                      fix + " A pasted ARN breaks in every other stage, region or account.")
    if isinstance(arn, str) and re.fullmatch(r"\$\{ssm:/wild-rydes/[^/]+/SnsTopicArn\}", arn):
        why = NOT_A_VARIABLE if "${stage}" in arn else "the stage is fixed"
        return failed(f"the sns event reads {raw_arn}: {why}", expected, f"In {RR_YML}, {STAGE_HINT}.")
    if isinstance(arn, str) and sls.unresolved(arn):
        printed = sls.printed(ctx, RR)
        events = printed.events(printed.function("PutRideRecordSns") or {}, "sns") if printed else []
        resolved = _sns_arn(events[0]) if events else None
        if isinstance(resolved, str) and resolved.startswith("arn:aws:sns:") and ":wild-rydes-" in resolved:
            return None
        return failed(f"the sns event's arn is {raw_arn} (the framework resolves it to {resolved or 'nothing'})", expected, fix)
    return failed(f"the sns event's arn is {sls.raw(raw_arn)}", expected, fix)


def sns_event_declared(ctx) -> Result:
    sf = sls.config(ctx, RR)
    fns = sf.functions
    mine = sf.events(fns.get("PutRideRecordSns") or {}, "sns")
    others = [name for name, fn in fns.items() if name != "PutRideRecordSns" and sf.events(fn, "sns")]
    if not mine:
        hand = sls.hand_subscriptions(sf)
        if hand:  # written out by hand (the end state the subscription's DLQ step allows)
            logical, props = next(iter(hand.items()))
            if not sls.sns_may_invoke_declared(sf, source_ok=is_the_topic):
                return failed(f"{logical} subscribes PutRideRecordSns, but no AWS::Lambda::Permission lets the topic invoke it",
                              "the sns event on PutRideRecordSns",
                              f"In {RR_YML}, keep the `sns` event on PutRideRecordSns (it writes the permission), or add an "
                              f"AWS::Lambda::Permission for `Principal: sns.amazonaws.com` with `SourceArn: {SSM_SHOWN}`.")
            problem = _judge_arn(ctx, sf, props.get("TopicArn"))
            return problem or passed(f"{logical}: lambda subscription to PutRideRecordSns, TopicArn {props.get('TopicArn')}",
                                     "the topic ARN from SSM")
        if others:
            return failed(f"the sns event is on {', '.join(others)}", "the sns event on PutRideRecordSns",
                          f"In {RR_YML}, move the `sns` event from {others[0]} to PutRideRecordSns: only handler_sns reads SNS events.")
        return failed(f"PutRideRecordSns has no sns event{sls.misplaced(sf, 'PutRideRecordSns', 'events')}",
                      "an sns event on PutRideRecordSns",
                      f"In {RR_YML}, add to PutRideRecordSns `events:` `- sns:` `arn: {SSM_SHOWN}`.")
    for event in mine:
        if isinstance(event, str) and not event.startswith(("arn:", "${")):
            return failed(f"the sns event names a topic ({event}): the framework would create a new, empty topic",
                          "the existing topic, by ARN", f"In {RR_YML}, use `arn: {SSM_SHOWN}`.")
        problem = _judge_arn(ctx, sf, _sns_arn(event))
        if problem:
            return problem
    if others:
        return failed(f"{', '.join(others)} also subscribes to SNS", "only PutRideRecordSns subscribes",
                      f"In {RR_YML}, remove the `sns` event from {others[0]}.")
    return passed(f"PutRideRecordSns: sns arn {_sns_arn(mine[0])}", "the topic ARN from SSM")


def _queue_arn_of(value: Any, sf, queues: dict) -> str | None:
    found = sf.getatt_of(sf.resolve(value))
    return found[0] if found and found[1] == "Arn" and found[0] in queues else None


def dlq_declared(ctx) -> Result:
    sf = sls.config(ctx, RR)
    queues = sf.of_type("AWS::SQS::Queue")
    fn = sf.function("PutRideRecordSns") or {}
    on_error = sf.resolve(fn.get("onError"))
    expected = "onError: Fn::GetAtt [RideRecordDlq, Arn] and sqs:SendMessage on it"
    if not queues:
        return failed("no AWS::SQS::Queue under resources.Resources", "a queue RideRecordDlq",
                      f"In {RR_YML}, add a resource `RideRecordDlq` with `Type: AWS::SQS::Queue`.")
    if on_error is None:
        return failed(f"PutRideRecordSns has no onError{sls.misplaced(sf, 'PutRideRecordSns', 'onError')}", expected,
                      f"In {RR_YML}, add to PutRideRecordSns `onError: {{Fn::GetAtt: [RideRecordDlq, Arn]}}`.")
    if isinstance(on_error, str):
        return failed(f"onError is a plain string ({on_error})", expected,
                      f"In {RR_YML}, write `onError: {{Fn::GetAtt: [RideRecordDlq, Arn]}}`: with a plain string the "
                      "framework warns and does not tie the queue to this stack's RideRecordDlq.")
    if any(sf.refers_to(on_error, q) for q in queues):
        return failed("onError is `Ref` of the queue, which gives its URL", "the queue's ARN",
                      f"In {RR_YML}, write `onError: {{Fn::GetAtt: [RideRecordDlq, Arn]}}`: Ref of a queue is its URL.")
    queue = _queue_arn_of(on_error, sf, queues)
    if queue is None:
        return failed(f"onError is {sls.raw(fn.get('onError'))}", expected,
                      f"In {RR_YML}, write `onError: {{Fn::GetAtt: [RideRecordDlq, Arn]}}`.")
    has_action, covered = sf.grants("sqs:SendMessage", lambda r: _queue_arn_of(r, sf, queues) == queue or r == "*")
    if not covered:
        seen = "sqs:SendMessage is allowed on another resource" if has_action else "no statement allows sqs:SendMessage"
        return failed(seen, f"sqs:SendMessage on Fn::GetAtt [{queue}, Arn]",
                      f"In {RR_YML}, add to provider.iam.role.statements an Allow of `sqs:SendMessage` on "
                      f"`Fn::GetAtt: [{queue}, Arn]`: Lambda writes to the queue with the function's role.")
    return passed(f"onError -> {queue}; sqs:SendMessage allowed on it", expected)
