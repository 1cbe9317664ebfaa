"""Behaviour checks: request a real ride and follow it, publish a poison ride to the topic, cut SNS off the record function
for a moment. The only checks that WRITE."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from workshop.checks import aws
from workshop.checks.aws import deploy_cmd, live
from workshop.checks.model import Result, failed, passed, pending, waiting
from workshop.checks.registry import RR, WR

RECORD_TIMEOUT = {"local": 20.0, "aws": 30.0}
LOG_TIMEOUT = {"local": 5.0, "aws": 20.0}  # CloudWatch Logs shows lines some seconds after they are written
LOG_POLL = {"local": 0.5, "aws": 2.0}  # FilterLogEvents: 5 requests a second per account and Region, shared by a class
SKEW = 900.0  # the RideId is searched 15 minutes either side of the request: clocks drift (WSL after sleep)
MAX_LOG_PAGES = 10
DLQ_TIMEOUT = {"local": 30.0, "aws": 20.0}
DLQ_WAIT = 600.0  # --wait on real AWS: Lambda retries over about three minutes, then the DLQ
REDRIVE_TIMEOUT = {"local": 30.0, "aws": 90.0}
PERMISSION_SETTLES = {"local": 0.0, "aws": 10.0}  # a removed resource policy statement takes seconds to apply everywhere
PATHS = {"PutRideRecord": "http", "PutRideRecordHttp": "http", "PutRideRecordSns": "sns"}
WROTE = "writes a test ride"


def _url(ctx, path: str) -> str:
    t = ctx.target
    api = aws.physical(ctx, WR, "ApiGatewayRestApi", what="REST API", step_hint="Keep RequestRide's http event,")
    if t.name == "local":
        return f"{ctx.endpoint}/restapis/{api}/{t.stage}/_user_request_/{path}"
    return f"https://{api}.execute-api.{t.region}.amazonaws.com/{t.stage}/{path}"


def _post(url: str, body: dict) -> tuple[int, str]:
    """POST JSON; an HTTP error is an answer, a TLS or network failure is the Problem said plainly."""
    import ssl

    import certifi

    from workshop.checks.model import Problem, errored

    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    # certifi's roots: a Python from python.org on macOS has none of its own until "Install Certificates" is run.
    context = ssl.create_default_context(cafile=certifi.where()) if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as answer:
            return answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:  # TLS, DNS, refused, timed out
        reason = getattr(exc, "reason", exc)
        host = urllib.parse.urlsplit(url).netloc
        raise Problem(errored(f"POST to {host} did not get an answer: {reason}"[:300],
                              "Check your network (a proxy or VPN may block it), then `workshop verify` again.")) from None


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _invocations(ctx, function: str, ride_id: str, start: float, end: float) -> tuple[bool, bool]:
    """(log lines name the RideId, the function ran in the request's window) for one function's log group.

    One FilterLogEvents search per function (the account's 5 requests a second are shared by a class), following
    nextToken. The RideId is looked for in a wide window: the laptop's clock may be minutes off AWS's (WSL)."""
    from botocore.exceptions import ClientError

    group = f"/aws/lambda/{ctx.target.function(RR, function)}"
    logs = ctx.client("logs")
    kwargs = {"logGroupName": group, "startTime": _ms(start - SKEW), "endTime": _ms(end + SKEW),
              "filterPattern": f'?"{ride_id}" ?"START RequestId"'}
    named = ran = False
    for _ in range(MAX_LOG_PAGES):
        try:
            page = logs.filter_log_events(**kwargs)
        except ClientError as exc:
            if aws.code(exc) != "ResourceNotFoundException":
                raise
            return False, False
        for event in page.get("events", []):
            if ride_id in event.get("message", ""):
                named = True
            elif "START RequestId" in event.get("message", "") and _ms(start) - 2000 <= event.get("timestamp", 0) <= _ms(end) + 2000:
                ran = True
        if named or not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    return named, ran


def _path(ctx, ride_id: str, start: float, end: float) -> tuple[str, str]:
    """Which function recorded the ride: by the RideId in its log lines, else by the invocation in the request's window.

    Throttled searches back off and end as "unknown" (the SNS check then says pending), never as an error."""
    deadline = time.monotonic() + LOG_TIMEOUT[ctx.target.name]
    waiting(deadline, "the log line that names the path")
    poll = LOG_POLL[ctx.target.name]
    throttled = False
    while True:
        by_time = []
        try:
            for function, path in PATHS.items():
                named, ran = _invocations(ctx, function, ride_id, start, end)
                if named:
                    return path, f"{function}'s log names the RideId"
                if ran:
                    by_time.append((function, path))
            throttled = False
        except Exception as exc:  # noqa: BLE001 - only throttling is handled here
            if aws.code(exc) not in aws.THROTTLED:
                raise
            throttled, poll = True, min(poll * 2, 30.0)
        if not throttled and len({p for _, p in by_time}) == 1:
            return by_time[0][1], f"{by_time[0][0]} ran while it was recorded"
        if time.monotonic() + poll > deadline:
            if throttled:
                return "unknown", "CloudWatch Logs throttled the search (a class shares its 5 requests a second)"
            return "unknown", "no log line shows which function wrote it" if not by_time else "both paths ran"
        time.sleep(poll)


DEFAULT_PICKUP = (47.6174, -122.2017)


def request_ride(ctx, pickup: tuple[float, float] = DEFAULT_PICKUP, *, source: str = "verify") -> dict:
    """POST /ride with a unique marker, then wait (bounded) for THAT RideId in the table; latencies measured.

    Returns status, http_ms, marker, and ride_id/record_ms/path/evidence/ride when it worked, or `problem` (a Result).
    """
    table = aws.physical(ctx, RR, "RideRecordTable", what="table", step_hint="Keep RideRecordTable,")
    marker = f"workshop-{source}-{uuid.uuid4().hex[:12]}"
    started = time.time()
    status, text = _post(_url(ctx, "ride"), {"PickupLocation": {"Latitude": pickup[0], "Longitude": pickup[1]}, "Marker": marker})
    answered = time.time()
    outcome = {"status": status, "http_ms": _ms(answered - started), "marker": marker}
    if status != 201:
        outcome["problem"] = failed(f"POST /ride answered {status}: {text[:160]}", "201 with a ride",
                                    f"Read RequestRide's errors with `workshop logs RequestRide`; redeploy with {deploy_cmd(WR)} if it is outdated.")
        return outcome
    try:
        outcome["ride"] = json.loads(text)
        ride_id = outcome["ride"]["RideId"]
    except (ValueError, KeyError, TypeError):
        outcome["problem"] = failed(f"POST /ride answered 201 without a RideId: {text[:160]}", "a ride with its RideId",
                                    f"Make RequestRide return the ride it built, then {deploy_cmd(WR)}.")
        return outcome
    outcome["ride_id"] = ride_id
    dynamodb = ctx.client("dynamodb")
    deadline = time.monotonic() + RECORD_TIMEOUT[ctx.target.name]
    waiting(deadline, f"ride {ride_id} in DynamoDB")
    while time.monotonic() < deadline:
        if dynamodb.get_item(TableName=table, Key={"RideId": {"S": ride_id}}, ConsistentRead=True).get("Item"):
            recorded = time.time()
            outcome["record_ms"] = _ms(recorded - started)
            outcome["path"], outcome["evidence"] = _path(ctx, ride_id, started, recorded)
            return outcome
        time.sleep(0.2)
    outcome["problem"] = failed(f"ride {ride_id} got 201 but is not in {table} after {RECORD_TIMEOUT[ctx.target.name]:.0f} s",
                                "the ride recorded", "Look for an exception in the ride-record functions' logs "
                                "(`workshop emulator logs` locally, CloudWatch on AWS), fix it, then `workshop verify`.")
    return outcome


def _said(o: dict) -> str:
    return (f"ride {o['ride_id']} recorded via {o['path'].upper()} ({o['evidence']}); 201 in {o['http_ms']} ms, "
            f"in the table after {o['record_ms']} ms ({WROTE})")


def _data(o: dict) -> dict:
    return {k: o[k] for k in ("ride_id", "path", "http_ms", "record_ms") if k in o}


@live
def ride_recorded_any(ctx) -> Result:
    o = request_ride(ctx)
    if "problem" in o:
        return o["problem"]
    return passed(_said(o), "the ride in the table (path and latency reported)", **_data(o))


ride_recorded_http = ride_recorded_any


@live
def ride_recorded_sns(ctx) -> Result:
    o = request_ride(ctx)
    if "problem" in o:
        return o["problem"]
    before = ((ctx.history.get("request-ride-http") or {}).get("checks", {}).get("ride-recorded", {}).get("data") or {})
    compared = (f"; over HTTP at {ctx.step_ref('request-ride-http')}: 201 in {before['http_ms']} ms"
                if before.get("http_ms") is not None else "")
    if o["path"] == "http":
        return failed(_said(o), "recorded via SNS", f"The deployed RequestRide still posts over HTTP: run {deploy_cmd(WR)}.", **_data(o))
    if o["path"] != "sns":
        return pending(_said(o), "recorded via SNS", "Logs can lag: run `workshop verify` again in a minute.", **_data(o))
    return passed(_said(o) + compared, "recorded via SNS", **_data(o))


@live
def poison_ride(ctx) -> Result:
    from workshop.checks.live import topic_arn

    topic = topic_arn(ctx)
    queues = aws.of_type(ctx, RR, "AWS::SQS::Queue")
    if not queues:
        return failed(f"{ctx.target.stack(RR)} has no SQS queue", "RideRecordDlq deployed",
                      f"Declare RideRecordDlq in {RR}/serverless.yml, then {deploy_cmd(RR)}.")
    from workshop.checks.live import need_sns_function
    from workshop.checks.live_iam import function_queue

    queue_url = function_queue(ctx, need_sns_function(ctx), queues)[1]["PhysicalResourceId"]
    earlier = (ctx.history.get("dead-letter-queue") or {}).get("checks", {}).get("poison-ride-dead-lettered", {})
    poison = (earlier.get("data") or {}).get("poison") if earlier.get("result") == "pending" else None
    if poison is None:  # a ride still in flight from the last run is looked for instead of publishing another
        poison = f"workshop-poison-{uuid.uuid4().hex[:12]}"
        ctx.client("sns").publish(TopicArn=topic, Message=f"{poison}: not a ride (published by `workshop verify` to test the DLQ)")
    started = time.monotonic()
    limit = DLQ_WAIT if ctx.wait else DLQ_TIMEOUT[ctx.target.name]
    sqs = ctx.client("sqs")
    waiting(started + limit, f"poison ride {poison} in the DLQ")
    while time.monotonic() - started < limit:
        wait = int(max(1, min(5, limit - (time.monotonic() - started))))
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
                                           VisibilityTimeout=30).get("Messages", []):
            if poison in message.get("Body", ""):
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                return passed(f"poison ride {poison} reached the DLQ after {time.monotonic() - started:.1f} s (published by verify)",
                              "the poison ride in the DLQ", poison=poison)
    if ctx.target.name == "aws" and not ctx.wait:
        return pending(f"poison ride {poison} published; not in the DLQ yet", "the poison ride in the DLQ",
                       "On AWS, Lambda retries for a few minutes before the DLQ: run `workshop verify --step "
                       f"{ctx.step_ref('dead-letter-queue').removeprefix('step ')} --wait`.",
                       poison=poison)
    return failed(f"poison ride {poison} is not in the DLQ after {limit:.0f} s", "the poison ride in the DLQ",
                  "Let handler_sns raise on a bad message (no try/except), keep `onError` and sqs:SendMessage, "
                  f"then {deploy_cmd(RR)}.")


def _restore(lam, function: str, statement: dict) -> None:
    """Give back a statement that let SNS invoke the function, under its own Sid (CloudFormation deletes it by that)."""
    args = {"FunctionName": function, "StatementId": statement["Sid"], "Action": "lambda:InvokeFunction",
            "Principal": "sns.amazonaws.com"}
    for cond in (statement.get("Condition") or {}).values():
        for key, value in (cond.items() if isinstance(cond, dict) else ()):
            if key.lower() == "aws:sourcearn":
                args["SourceArn"] = value
            elif key.lower() == "aws:sourceaccount":
                args["SourceAccount"] = value
    lam.add_permission(**args)


@live
def undelivered_ride(ctx) -> Result:
    """Remove SNS's permission to invoke PutRideRecordSns, publish a marked message, find it in the subscription's
    dead letter queue, and give the permission back in `finally` (said in the title and the result)."""
    from workshop.checks import redrive
    from workshop.checks.live import _sns_may_invoke, need_sns_function

    topic, target, url = redrive.deployed_queue(ctx)
    fn = need_sns_function(ctx)
    lam, name = ctx.client("lambda"), fn["FunctionName"]
    try:
        statements = json.loads(lam.get_policy(FunctionName=name)["Policy"]).get("Statement", [])
    except Exception as exc:  # noqa: BLE001 - no policy at all is an answer
        if aws.code(exc) != "ResourceNotFoundException":
            raise
        statements = []
    mine = [s for s in statements if _sns_may_invoke(s, topic) and s.get("Sid")]
    if not mine:
        return failed(f"SNS may not invoke {name} at all: every ride already goes to the queue", "SNS may invoke PutRideRecordSns",
                      f"Keep PutRideRecordSns's `sns` event (the framework adds the permission), then {deploy_cmd(RR)}. "
                      f"If the event is there and the deploy changes nothing (the permission was removed outside a "
                      f"deploy), run {aws.recreate_cmd(RR)}.")
    marker = f"workshop-undelivered-{uuid.uuid4().hex[:12]}"
    changed = f"SNS's permission to invoke {name} was removed for {{:.1f}} s and put back"
    removed, started, outcome = [], time.monotonic(), None
    try:
        for statement in mine:
            lam.remove_permission(FunctionName=name, StatementId=statement["Sid"])
            removed.append(statement)
        settle = PERMISSION_SETTLES[ctx.target.name]
        if settle:
            waiting(time.monotonic() + settle, "the removed permission to take effect")
            time.sleep(settle)
        ctx.client("sns").publish(TopicArn=topic, Message=f"{marker}: not a ride (published by `workshop verify` to test the "
                                                          "subscription's dead letter queue)")
        sent = time.monotonic()
        limit = REDRIVE_TIMEOUT[ctx.target.name]
        sqs = ctx.client("sqs")
        waiting(sent + limit, f"message {marker} in {target.rsplit(':', 1)[-1]}")
        while outcome is None and time.monotonic() - sent < limit:
            wait = int(max(1, min(5, limit - (time.monotonic() - sent))))
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
                                               VisibilityTimeout=30).get("Messages", []):
                if marker in message.get("Body", ""):
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    outcome = time.monotonic() - sent
                    break
    finally:
        lost = []
        for statement in removed:
            try:
                _restore(lam, name, statement)
            except Exception as exc:  # noqa: BLE001 - every statement is tried; the failure is the result
                lost.append(f"{statement['Sid']}: {exc}"[:200])
    said = changed.format(time.monotonic() - started)
    if lost:
        return failed(f"{said.replace(' and put back', '')}; putting it back FAILED ({'; '.join(lost)})",
                      "the permission restored", f"Rides are not delivered until it is back: run {aws.recreate_cmd(RR)}.")
    if outcome is not None:
        return passed(f"test message {marker} reached {target.rsplit(':', 1)[-1]} after {outcome:.1f} s "
                      f"(published by verify; {said})", "the undelivered message in the subscription's queue", marker=marker)
    return failed(f"test message {marker} is not in {target.rsplit(':', 1)[-1]} after {limit:.0f} s ({said})",
                  "the undelivered message in the subscription's queue",
                  f"Name the queue with `redrivePolicy: {{deadLetterTargetRef: {redrive.QUEUE}}}` in the sns event, so the "
                  f"framework also writes the queue's policy for SNS, then {deploy_cmd(RR)}.")
