"""Static checks of serverless.yml: read for meaning (any correct spelling passes), each failure naming the edit."""

from __future__ import annotations

import re
from typing import Any

from workshop.checks import sls
from workshop.checks.model import Result, failed, passed
from workshop.checks.registry import RR, WR

RR_YML, WR_YML = f"{RR}/serverless.yml", f"{WR}/serverless.yml"
HTTP_HANDLER = "handlers/put_ride_record.handler_http"
SNS_HANDLER = "handlers/put_ride_record.handler_sns"
TOPIC, TABLE, PARAM_NAME = "RidesSnsTopic", "RideRecordTable", "/wild-rydes/${stage}/SnsTopicArn"
TOPIC_ARN_ATTRS = ("TopicArn",)  # for a topic, Ref and GetAtt TopicArn both give the ARN
SSM_TOPIC = "${ssm:/wild-rydes/${stage}/SnsTopicArn}"
STAGE_HINT = "write the stage as `${sls:stage}`, as the rest of the file does"


def _shown(value: Any) -> str:
    """A resolved value as the learner writes it (the stage as `${sls:stage}`)."""
    return str(value).replace(sls.STAGE, "${sls:stage}")


def _http_event_ok(event: Any) -> bool:
    if isinstance(event, str):
        method, _, path = event.strip().partition(" ")
    elif isinstance(event, dict):
        method, path = str(event.get("method", "")), str(event.get("path", ""))
    else:
        return False
    return method.lower() in ("post", "any") and path.strip().strip("/") == "record"


def http_function_declared(ctx) -> Result:
    doc = sls.config(ctx, RR)
    fns = sls.functions(doc)
    fn = fns.get("PutRideRecordHttp")
    if fn is None:
        seen = ", ".join(fns) or "none"
        return failed(f"functions: {seen}", "a function PutRideRecordHttp",
                      f"In {RR_YML}, rename the function key `PutRideRecord` to `PutRideRecordHttp`.")
    if sls.handler_path(fn) != HTTP_HANDLER:
        return failed(f"PutRideRecordHttp handler: {sls.handler_path(fn) or 'none'}", f"handler: {HTTP_HANDLER}",
                      f"In {RR_YML}, set `handler: {HTTP_HANDLER}` on PutRideRecordHttp.")
    if not any(_http_event_ok(e) for e in sls.events(fn, "http")):
        return failed("PutRideRecordHttp has no http POST /record event", "an http event: POST /record",
                      f"In {RR_YML}, keep the `http` event (`path: /record`, `method: post`) under PutRideRecordHttp.")
    if "PutRideRecord" in fns:
        return failed("PutRideRecord is still declared next to PutRideRecordHttp", "PutRideRecord renamed, not copied",
                      f"In {RR_YML}, delete the old `PutRideRecord` function: PutRideRecordHttp replaces it.")
    return passed(f"PutRideRecordHttp -> {HTTP_HANDLER}, POST /record", "PutRideRecordHttp with POST /record")


def topic_declared(ctx) -> Result:
    topics = sls.of_type(sls.config(ctx, WR), "AWS::SNS::Topic")
    if TOPIC in topics:
        return passed(f"{TOPIC}: AWS::SNS::Topic", f"{TOPIC}: AWS::SNS::Topic")
    if topics:
        return failed(f"an SNS topic named {', '.join(topics)}", f"the topic's logical name {TOPIC}",
                      f"In {WR_YML}, rename the resource to `{TOPIC}`: the next steps refer to it by that name.")
    return failed("no AWS::SNS::Topic under resources.Resources", f"{TOPIC} with Type AWS::SNS::Topic",
                  f"In {WR_YML}, add under `resources:` / `Resources:` a resource `{TOPIC}` with `Type: AWS::SNS::Topic`.")


def _name_problem(name: Any, doc: dict) -> str | None:
    text = sls.resolve(name, doc)
    if not isinstance(text, str):
        return f"Name is {text!r}, not a path"
    if text == PARAM_NAME:
        return None
    if re.fullmatch(r"/wild-rydes/[A-Za-z0-9-]+/SnsTopicArn", text):
        return f"Name {text} fixes the stage; {STAGE_HINT}"
    return f"Name {_shown(text)}"


def topic_arn_parameter(ctx) -> Result:
    doc = sls.config(ctx, WR)
    params = sls.of_type(doc, "AWS::SSM::Parameter")
    expected = f"an AWS::SSM::Parameter named {PARAM_NAME.replace('${stage}', '${sls:stage}')} with Value `Ref: {TOPIC}`"
    fix_add = (f"In {WR_YML}, add an `AWS::SSM::Parameter` resource with `Name: /wild-rydes/${{sls:stage}}/SnsTopicArn`, "
               f"`Type: String` and `Value: {{Ref: {TOPIC}}}`.")
    if not params:
        return failed("no AWS::SSM::Parameter under resources.Resources", expected, fix_add)
    problems = []
    for logical, res in params.items():
        props = res.get("Properties") or {}
        name_problem = _name_problem(props.get("Name"), doc)
        value = sls.resolve(props.get("Value"), doc)
        if sls.refers_to(value, TOPIC, TOPIC_ARN_ATTRS):
            if name_problem is None:
                return passed(f"{logical}: {_shown(PARAM_NAME)} = Ref {TOPIC}", expected)
            problems.append(failed(f"{logical}: {name_problem}", expected,
                                   f"In {WR_YML}, set the parameter's `Name: /wild-rydes/${{sls:stage}}/SnsTopicArn`."))
        elif sls.refers_to(value, TOPIC, ("TopicName",)):
            problems.append(failed(f"{logical}'s Value is the topic's NAME (Fn::GetAtt {TOPIC}.TopicName)", "the topic's ARN",
                                   f"In {WR_YML}, set the parameter's `Value: {{Ref: {TOPIC}}}`: for a topic, Ref gives its ARN."))
        elif isinstance(value, str) and value.startswith("arn:"):
            problems.append(failed(f"{logical}'s Value is a pasted ARN", f"Value `Ref: {TOPIC}`",
                                   f"In {WR_YML}, replace the pasted ARN with `Ref: {TOPIC}` so every stage gets its own topic."))
        elif name_problem is None:
            problems.append(failed(f"{logical}'s Value is {value!r}", f"Value `Ref: {TOPIC}`",
                                   f"In {WR_YML}, set the parameter's `Value: {{Ref: {TOPIC}}}`."))
    return problems[0] if problems else failed(
        f"SSM parameters {', '.join(params)} hold something else than the topic", expected, fix_add)


def sns_function_declared(ctx) -> Result:
    doc = sls.config(ctx, RR)
    fn = sls.functions(doc).get("PutRideRecordSns")
    if fn is None:
        return failed("no function PutRideRecordSns", f"PutRideRecordSns with handler {SNS_HANDLER}",
                      f"In {RR_YML}, add a function `PutRideRecordSns` with `handler: {SNS_HANDLER}`.")
    if sls.handler_path(fn) != SNS_HANDLER:
        return failed(f"PutRideRecordSns handler: {sls.handler_path(fn) or 'none'}", f"handler: {SNS_HANDLER}",
                      f"In {RR_YML}, set `handler: {SNS_HANDLER}` on PutRideRecordSns.")
    table = sls.resolve(sls.environment(doc, fn).get("DDB_TABLE_NAME"), doc)
    if not sls.refers_to(table, TABLE):
        return failed(f"DDB_TABLE_NAME is {table!r}", f"DDB_TABLE_NAME: Ref {TABLE}",
                      f"In {RR_YML}, give PutRideRecordSns `environment:` `DDB_TABLE_NAME: {{Ref: {TABLE}}}`.")
    return passed(f"PutRideRecordSns -> {SNS_HANDLER}, DDB_TABLE_NAME = Ref {TABLE}", "declared")


def _sns_arn(event: Any, doc: dict) -> Any:
    raw = event.get("arn") if isinstance(event, dict) else event
    return sls.resolve(raw, doc)


def _judge_arn(ctx, arn: Any) -> Result | None:
    """None when `arn` means the topic ARN that wild-rydes publishes in SSM; else the failure."""
    expected = "arn: ${ssm:/wild-rydes/${sls:stage}/SnsTopicArn}"
    fix = f"In {RR_YML}, set the sns event's `arn: ${{ssm:/wild-rydes/${{sls:stage}}/SnsTopicArn}}`."
    if isinstance(arn, str) and arn == SSM_TOPIC:
        return None
    if isinstance(arn, str) and arn.startswith("arn:aws:sns:"):
        return failed(f"the sns event has a pasted topic ARN ({arn})", expected,
                      fix + " A pasted ARN breaks in every other stage, region or account.")
    if isinstance(arn, str) and re.fullmatch(r"\$\{ssm:/wild-rydes/[A-Za-z0-9-]+/SnsTopicArn\}", arn):
        return failed(f"the sns event reads {_shown(arn)}: the stage is fixed", expected, f"In {RR_YML}, {STAGE_HINT}.")
    if isinstance(arn, str) and sls.unresolved(arn):
        printed = sls.framework_print(ctx, RR)
        events = sls.events(sls.functions(printed or {}).get("PutRideRecordSns") or {}, "sns")
        resolved = _sns_arn(events[0], printed) if events else None
        if isinstance(resolved, str) and resolved.startswith("arn:aws:sns:") and ":wild-rydes-" in resolved:
            return None
        return failed(f"the sns event's arn is {_shown(arn)} (the framework resolves it to {resolved or 'nothing'})", expected, fix)
    return failed(f"the sns event's arn is {_shown(arn)}", expected, fix)


def sns_event_declared(ctx) -> Result:
    doc = sls.config(ctx, RR)
    fns = sls.functions(doc)
    mine = sls.events(fns.get("PutRideRecordSns") or {}, "sns")
    others = [name for name, fn in fns.items() if name != "PutRideRecordSns" and sls.events(fn, "sns")]
    if not mine:
        if others:
            return failed(f"the sns event is on {', '.join(others)}", "the sns event on PutRideRecordSns",
                          f"In {RR_YML}, move the `sns` event from {others[0]} to PutRideRecordSns: only handler_sns reads SNS events.")
        return failed("PutRideRecordSns has no sns event", "an sns event on PutRideRecordSns",
                      f"In {RR_YML}, add to PutRideRecordSns `events:` `- sns:` `arn: ${{ssm:/wild-rydes/${{sls:stage}}/SnsTopicArn}}`.")
    for event in mine:
        if isinstance(event, str) and not event.startswith(("arn:", "${")):
            return failed(f"the sns event names a topic ({event}): the framework would create a new, empty topic",
                          "the existing topic, by ARN", f"In {RR_YML}, use `arn: ${{ssm:/wild-rydes/${{sls:stage}}/SnsTopicArn}}`.")
        problem = _judge_arn(ctx, _sns_arn(event, doc))
        if problem:
            return problem
    if others:
        return failed(f"{', '.join(others)} also subscribes to SNS", "only PutRideRecordSns subscribes",
                      f"In {RR_YML}, remove the `sns` event from {others[0]}.")
    return passed("PutRideRecordSns: sns arn ${ssm:/wild-rydes/${sls:stage}/SnsTopicArn}", "the topic ARN from SSM")


def _queue_arn_of(value: Any, doc: dict, queues: dict) -> str | None:
    found = sls.getatt_of(sls.resolve(value, doc))
    return found[0] if found and found[1] == "Arn" and found[0] in queues else None


def dlq_declared(ctx) -> Result:
    doc = sls.config(ctx, RR)
    queues = sls.of_type(doc, "AWS::SQS::Queue")
    fn = sls.functions(doc).get("PutRideRecordSns") or {}
    on_error = sls.resolve(fn.get("onError"), doc)
    expected = "onError: Fn::GetAtt [RideRecordDlq, Arn] and sqs:SendMessage on it"
    if not queues:
        return failed("no AWS::SQS::Queue under resources.Resources", "a queue RideRecordDlq",
                      f"In {RR_YML}, add a resource `RideRecordDlq` with `Type: AWS::SQS::Queue`.")
    if on_error is None:
        return failed("PutRideRecordSns has no onError", expected,
                      f"In {RR_YML}, add to PutRideRecordSns `onError: {{Fn::GetAtt: [RideRecordDlq, Arn]}}`.")
    if isinstance(on_error, str):
        return failed(f"onError is a plain string ({on_error})", expected,
                      f"In {RR_YML}, write `onError: {{Fn::GetAtt: [RideRecordDlq, Arn]}}`: with a plain string the "
                      "framework warns and does not tie the queue to this stack's RideRecordDlq.")
    if any(sls.refers_to(on_error, q) for q in queues):
        return failed("onError is `Ref` of the queue, which gives its URL", "the queue's ARN",
                      f"In {RR_YML}, write `onError: {{Fn::GetAtt: [RideRecordDlq, Arn]}}`: Ref of a queue is its URL.")
    queue = _queue_arn_of(on_error, doc, queues)
    if queue is None:
        return failed(f"onError is {on_error!r}", expected,
                      f"In {RR_YML}, write `onError: {{Fn::GetAtt: [RideRecordDlq, Arn]}}`.")
    has_action, covered = sls.grants(doc, "sqs:SendMessage",
                                     lambda r: _queue_arn_of(r, doc, queues) == queue or r == "*")
    if not covered:
        seen = "sqs:SendMessage is allowed on another resource" if has_action else "no statement allows sqs:SendMessage"
        return failed(seen, f"sqs:SendMessage on Fn::GetAtt [{queue}, Arn]",
                      f"In {RR_YML}, add to provider.iam.role.statements an Allow of `sqs:SendMessage` on "
                      f"`Fn::GetAtt: [{queue}, Arn]`: Lambda writes to the queue with the function's role.")
    return passed(f"onError -> {queue}; sqs:SendMessage allowed on it", expected)
