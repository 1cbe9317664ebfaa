"""Asynchronous invocation as AWS does it (SNS events, InvocationType=Event): in the background, retried, then
sent to the function's DeadLetterConfig target or its EventInvokeConfig OnFailure destination.

AWS makes 3 attempts by default (MaximumRetryAttempts 2) about one and two minutes apart; the emulator keeps the count
and shortens the waits (settings.retry_delays).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from workshop.emulator import iam_enforce, lambda_run, settings
from workshop.emulator.activity import activity

log = logging.getLogger("workshop.emulator.async")
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="async-invoke")
DEFAULT_RETRIES = 2


def submit(account_id: str, region: str, function_name: str, event: Any, qualifier: str | None = None) -> None:
    """Queue an asynchronous invocation and return at once."""
    _pool.submit(_deliver, account_id, region, function_name, event, qualifier)


def _function(account_id: str, region: str, function_name: str, qualifier: str | None) -> Any:
    from moto.awslambda.utils import get_backend

    return get_backend(account_id, region).get_function(function_name, qualifier)


def _retries(fn: Any) -> int:
    for config in getattr(fn, "event_invoke_config", None) or []:
        if "MaximumRetryAttempts" in config.config:
            return int(config.config["MaximumRetryAttempts"])
    return DEFAULT_RETRIES


def _deliver(account_id: str, region: str, function_name: str, event: Any, qualifier: str | None) -> None:
    try:
        delays = settings.current().retry_delays
        attempts = 0
        while True:
            with activity.busy():
                fn = _function(account_id, region, function_name, qualifier)
                attempts += 1
                result = lambda_run.run(fn, event)
                if not result.errored:
                    return
                if attempts > _retries(fn):
                    log.info("async invoke of %s failed %d times: %s", function_name, attempts, result.error_type)
                    _give_up(fn, event, result, attempts)
                    return
            time.sleep(delays[min(attempts - 1, len(delays) - 1)] if delays else 0)
    except Exception:  # noqa: BLE001 - a background delivery must never take the emulator down
        log.exception("async invoke of %s failed", function_name)


def _give_up(fn: Any, event: Any, result: lambda_run.Invocation, attempts: int) -> None:
    dead_letter = (getattr(fn, "dead_letter_config", None) or {}).get("TargetArn")
    if dead_letter:
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": result.request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": (result.error_message or "")[:256]},
        }
        _send(fn, dead_letter, json.dumps(event), attributes, "the dead letter queue")
    for config in getattr(fn, "event_invoke_config", None) or []:
        target = ((config.config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if target:
            record = {
                "version": "1.0",
                "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "requestContext": {"requestId": result.request_id, "functionArn": f"{fn.function_arn}:$LATEST",
                                   "condition": "RetriesExhausted", "approximateInvokeCount": attempts},
                "requestPayload": event,
                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
                "responsePayload": json.loads(result.payload),
            }
            _send(fn, target, json.dumps(record), None, "the OnFailure destination")


_SEND_ACTION = {"sqs": "sqs:SendMessage", "sns": "sns:Publish", "lambda": "lambda:InvokeFunction"}


def _send(fn: Any, arn: str, body: str, sqs_attributes: dict[str, Any] | None, what: str) -> None:
    """Deliver a failed event to an SQS queue, SNS topic or Lambda function ARN, with the function's execution role
    (as Lambda does): without the permission the event is dropped (AWS counts it in the DeadLetterErrors or
    DestinationDeliveryFailures metric; nothing reaches the target)."""
    account_id = fn.account_id
    parts = arn.split(":")
    service, region = parts[2], parts[3]
    action = _SEND_ACTION.get(service)
    if action and not iam_enforce.allowed(account_id, fn.region, fn.role, action, arn):
        log.warning("%s of %s: the execution role %s may not %s on %s; the event is dropped (AWS: %s metric)",
                    what, fn.function_name, fn.role, action, arn,
                    "DeadLetterErrors" if "dead letter" in what else "DestinationDeliveryFailures")
        return
    if service == "sqs":
        from moto.sqs.models import sqs_backends

        sqs_backends[account_id][region].send_message(parts[5], body, message_attributes=sqs_attributes)
    elif service == "sns":
        from moto.sns.models import sns_backends

        sns_backends[account_id][region].publish(body, arn=arn)
    elif service == "lambda":
        submit(account_id, region, parts[6], json.loads(body))
    else:
        log.warning("failure destination %s is not supported by the emulator", arn)
