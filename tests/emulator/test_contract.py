"""Contract tests: the fixture services deployed by the real osls behave against the emulator as on AWS.

One module-scoped deploy of both services is shared; the restart test runs last but one, the removal last.
"""

from __future__ import annotations

import base64
import json
import urllib.request
import uuid

import pytest
from emulator_support import STAGE, json_payload, wait_for

pytestmark = pytest.mark.slow

RECORD, CALLER = f"fixture-record-{STAGE}", f"fixture-caller-{STAGE}"


def _api_id(emu, stack: str) -> str:
    name = f"{STAGE}-{stack.removesuffix('-' + STAGE)}"  # the Serverless Framework names a REST API "<stage>-<service>"
    return next(api["id"] for api in emu.client("apigateway").get_rest_apis()["items"] if api["name"] == name)


def _table(emu) -> str:
    return next(t for t in emu.client("dynamodb").list_tables()["TableNames"] if t.startswith(f"{RECORD}-RecordTable"))


def _topic(emu) -> str:
    return next(t["TopicArn"] for t in emu.client("sns").list_topics()["Topics"] if t["TopicArn"].endswith(f"fixture-rides-{STAGE}"))


def _dlq_url(emu) -> str:
    return next(u for u in emu.client("sqs").list_queues()["QueueUrls"] if "RecordDlq" in u)


def _post(url: str, body: dict, host: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **({"Host": host} if host else {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def _item(emu, ride_id: str):
    return emu.client("dynamodb").get_item(TableName=_table(emu), Key={"RideId": {"S": ride_id}}).get("Item")


def test_functions_get_real_arns_in_their_environment(deployed):
    config = deployed.client("lambda").get_function_configuration(FunctionName=f"{RECORD}-PutRecordHttp")
    variables = config["Environment"]["Variables"]
    assert variables["TOPIC_ARN"] == _topic(deployed)
    assert variables["TABLE_NAME"] == _table(deployed)
    assert config["Runtime"] == "python3.12" and config["Handler"] == "handlers/record.handler_http"


def test_sns_event_makes_a_confirmed_lambda_subscription(deployed):
    sns = deployed.client("sns")
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=_topic(deployed))["Subscriptions"]
    function_arn = deployed.client("lambda").get_function(FunctionName=f"{RECORD}-PutRecordSns")["Configuration"]["FunctionArn"]
    (subscription,) = [s for s in subscriptions if s["Protocol"] == "lambda"]
    assert subscription["Endpoint"] == function_arn
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])["Attributes"]
    assert attributes["PendingConfirmation"] == "false"


def test_dead_letter_config_is_kept_and_reported(deployed):
    queue_arn = deployed.client("sqs").get_queue_attributes(QueueUrl=_dlq_url(deployed), AttributeNames=["QueueArn"])
    expected = {"TargetArn": queue_arn["Attributes"]["QueueArn"]}
    lam = deployed.client("lambda")
    assert lam.get_function_configuration(FunctionName=f"{RECORD}-PutRecordSns")["DeadLetterConfig"] == expected
    assert lam.get_function(FunctionName=f"{RECORD}-PutRecordSns")["Configuration"]["DeadLetterConfig"] == expected
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=f"{RECORD}-PutRecordHttp")


def test_ssm_parameters_and_stack_outputs(deployed):
    ssm = deployed.client("ssm")
    api = _api_id(deployed, RECORD)
    url = ssm.get_parameter(Name=f"/fixture-record/{STAGE}/URL")["Parameter"]["Value"]
    assert url == f"https://{api}.execute-api.us-east-1.amazonaws.com/{STAGE}"
    assert ssm.get_parameter(Name=f"/fixture-record/{STAGE}/TopicArn")["Parameter"]["Value"] == _topic(deployed)
    outputs = deployed.client("cloudformation").describe_stacks(StackName=RECORD)["Stacks"][0]["Outputs"]
    assert {o["OutputKey"]: o["OutputValue"] for o in outputs}["ServiceEndpoint"] == url


def test_http_post_through_the_gateway_writes_the_record(deployed):
    api, ride = _api_id(deployed, RECORD), f"http-{uuid.uuid4()}"
    status, body = _post(f"{deployed.info.endpoint}/restapis/{api}/{STAGE}/_user_request_/record", {"RideId": ride})
    assert (status, body) == (201, {"RideId": ride, "Path": "http"})
    assert _item(deployed, ride)["Path"] == {"S": "http"}
    host_style = f"host-{uuid.uuid4()}"  # the same API addressed as AWS does, by its execute-api host name
    status, _ = _post(f"{deployed.info.endpoint}/{STAGE}/record", {"RideId": host_style},
                      host=f"{api}.execute-api.us-east-1.amazonaws.com")
    assert status == 201 and _item(deployed, host_style)


def test_unknown_route_answers_like_api_gateway(deployed):
    api = _api_id(deployed, RECORD)
    with pytest.raises(urllib.error.HTTPError) as raised:
        _post(f"{deployed.info.endpoint}/restapis/{api}/{STAGE}/_user_request_/nowhere", {})
    assert raised.value.code == 403
    assert json.loads(raised.value.read()) == {"message": "Missing Authentication Token"}


def test_function_calls_another_api_over_https_with_urllib(deployed):
    api, ride = _api_id(deployed, CALLER), f"urllib-{uuid.uuid4()}"
    status, body = _post(f"{deployed.info.endpoint}/restapis/{api}/{STAGE}/_user_request_/ride", {"RideId": ride})
    assert status == 201 and body == {"recordStatus": 201, "record": {"RideId": ride, "Path": "http"}}
    assert _item(deployed, ride)


def test_function_calls_another_api_with_its_bundled_requests(deployed):
    ride = f"requests-{uuid.uuid4()}"
    response = deployed.client("lambda").invoke(FunctionName=f"{CALLER}-CallRequests", Payload=json.dumps({"RideId": ride}))
    result = json_payload(response)
    assert "FunctionError" not in response, result
    assert result["status"] == 201 and result["record"]["RideId"] == ride
    assert "/vendor/requests/" in result["requests_file"]  # its own copy, not the runner's
    assert _item(deployed, ride)


def test_ride_published_to_the_topic_lands_through_the_sns_function(deployed):
    ride = f"sns-{uuid.uuid4()}"
    deployed.client("sns").publish(TopicArn=_topic(deployed), Message=json.dumps({"RideId": ride}))
    item = wait_for(lambda: _item(deployed, ride), timeout=30)
    assert item and item["Path"] == {"S": "sns"} and item["TopicArn"] == {"S": _topic(deployed)}


def test_poison_message_lands_in_the_dlq_after_the_retries(deployed):
    ride = f"poison-{uuid.uuid4()}"
    deployed.client("sns").publish(TopicArn=_topic(deployed), Message=json.dumps({"RideId": ride, "poison": True}))
    sqs = deployed.client("sqs")
    messages = wait_for(lambda: sqs.receive_message(QueueUrl=_dlq_url(deployed), MessageAttributeNames=["All"]).get("Messages"), 60)
    assert messages, "nothing reached the dead letter queue"
    event = json.loads(messages[0]["Body"])
    assert json.loads(event["Records"][0]["Sns"]["Message"])["RideId"] == ride
    assert messages[0]["MessageAttributes"]["ErrorMessage"]["StringValue"] == "poison ride"
    logs = deployed.client("logs")
    group = f"/aws/lambda/{RECORD}-PutRecordSns"
    attempts = 0  # one error line per attempt (a warm environment serves the retries: one log stream may hold them)
    for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]
        attempts += sum(e["message"].startswith("[ERROR] ValueError: poison ride") for e in events)
    assert attempts == 3  # the first try and AWS's two retries
    assert not _item(deployed, ride)


def test_async_invoke_failure_goes_to_the_on_failure_destination(deployed):
    lam, sqs = deployed.client("lambda"), deployed.client("sqs")
    queue = next(u for u in sqs.list_queues()["QueueUrls"] if "FailureQueue" in u)
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    config = lam.get_function_event_invoke_config(FunctionName=f"{RECORD}-FailAsync")
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn
    assert json.loads(sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["Policy"])["Attributes"]["Policy"])["Statement"]
    marker = str(uuid.uuid4())
    response = lam.invoke(FunctionName=f"{RECORD}-FailAsync", InvocationType="Event", Payload=json.dumps({"id": marker}))
    assert response["StatusCode"] == 202
    messages = wait_for(lambda: sqs.receive_message(QueueUrl=queue).get("Messages"), 60)
    record = json.loads(messages[0]["Body"])
    assert record["requestPayload"] == {"id": marker}
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responsePayload"]["errorMessage"] == f"always fails: {marker}"


def test_deployment_bucket_policy_is_stored(deployed):
    s3 = deployed.client("s3")
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(f"{RECORD}-serverlessdeploymentbucket"))
    statements = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert any(s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in (False, "false") for s in statements)


def test_importing_requests_without_shipping_it_fails_as_on_aws(deployed):
    response = deployed.client("lambda").invoke(FunctionName=f"{RECORD}-NeedsRequests", Payload=b"{}")
    error = json_payload(response)
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"] == "Unable to import module 'handlers/needs_requests': No module named 'requests'"


def test_function_sees_the_lambda_runtime_not_the_runner(deployed):
    response = deployed.client("lambda").invoke(FunctionName=f"{RECORD}-Echo", Payload=b"{}", LogType="Tail")
    seen = json_payload(response)
    assert seen["region"] == seen["default_region"] == "us-east-1"
    assert seen["importable"] == {"moto": False, "requests": False, "boto3": True, "flask": False}
    assert seen["function_name"] == f"{RECORD}-Echo" and seen["arn"].endswith(f":function:{RECORD}-Echo")
    assert 0 < seen["remaining_ms"] <= 2000
    log = base64.b64decode(response["LogResult"]).decode()
    report = next(line for line in log.splitlines() if line.startswith("REPORT RequestId: "))
    fields = report.split("\t")
    assert fields[0] == f"REPORT RequestId: {seen['request_id']}"
    assert [f.split(":")[0] for f in fields[1:-1]] == ["Duration", "Billed Duration", "Memory Size", "Max Memory Used", "Init Duration"]
    assert "echo called" in log and log.startswith(f"START RequestId: {seen['request_id']} Version: $LATEST")


def test_function_timeout(deployed):
    response = deployed.client("lambda").invoke(FunctionName=f"{RECORD}-Echo", Payload=json.dumps({"sleep": 10}))
    error = json_payload(response)
    assert response["FunctionError"] == "Unhandled"
    assert error["errorMessage"].endswith("Task timed out after 2.00 seconds")


def _snapshot(emu) -> dict:
    lam, cfn, sns, ssm = (emu.client(s) for s in ("lambda", "cloudformation", "sns", "ssm"))
    return {
        "functions": sorted((f["FunctionArn"], f["CodeSha256"], json.dumps(f.get("Environment")), json.dumps(f.get("DeadLetterConfig")))
                            for f in lam.list_functions()["Functions"]),
        "apis": sorted(a["id"] for a in emu.client("apigateway").get_rest_apis()["items"]),
        "stacks": sorted((s["StackId"], s["StackStatus"], json.dumps(s.get("Outputs"), sort_keys=True, default=str))
                         for s in cfn.describe_stacks()["Stacks"]),
        "subscriptions": sorted(s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]),
        "parameters": sorted((p["Name"], p["Value"]) for p in ssm.get_parameters_by_path(Path="/", Recursive=True)["Parameters"]),
        "queues": sorted(emu.client("sqs").list_queues()["QueueUrls"]),
        "items": sorted(i["RideId"]["S"] for i in emu.client("dynamodb").scan(TableName=_table(emu))["Items"]),
    }


def test_stop_and_start_keep_every_resource_and_id(deployed):
    before = _snapshot(deployed)
    old_pid, old_ports = deployed.info.pid, (deployed.info.port, deployed.info.https_port)
    deployed.restart()
    assert deployed.info.pid != old_pid and not deployed.info.notes
    assert (deployed.info.port, deployed.info.https_port) == old_ports  # the same endpoint when the ports are free
    assert _snapshot(deployed) == before
    ride = f"after-restart-{uuid.uuid4()}"
    status, _ = _post(f"{deployed.info.endpoint}/restapis/{_api_id(deployed, CALLER)}/{STAGE}/_user_request_/ride", {"RideId": ride})
    assert status == 201 and _item(deployed, ride)


def test_remove_deletes_the_stack_and_its_rest_api(deployed):
    caller_dir = deployed.started[1]
    api = _api_id(deployed, CALLER)
    deployed.osls(caller_dir, "remove")
    assert api not in [a["id"] for a in deployed.client("apigateway").get_rest_apis()["items"]]
    assert not [f for f in deployed.client("lambda").list_functions()["Functions"] if f["FunctionName"].startswith(CALLER)]
    assert not [e for e in deployed.client("cloudformation").list_exports()["Exports"] if e["Name"].startswith(f"sls-{CALLER}")]
