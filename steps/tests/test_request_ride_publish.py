"""Step 11 (publish-to-sns): a ride request publishes the ride to the rides topic, once, and calls nobody over HTTP."""
import json

import boto3
import pytest

# Still set, so code from before this step imports and shows what it does instead of publishing.
OLD_RIDE_RECORD_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/dev/record"


def parsed(text):
    """text as JSON, or None when it is not JSON."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


@pytest.fixture
def topic_arn(aws, monkeypatch):
    """The rides topic; the handler finds it through RIDES_SNS_TOPIC_ARN, as serverless.yml sets it."""
    arn = boto3.client("sns").create_topic(Name="workshop-check-rides")["TopicArn"]
    monkeypatch.setenv("RIDES_SNS_TOPIC_ARN", arn)
    monkeypatch.setenv("RIDE_RECORD_URL", OLD_RIDE_RECORD_URL)
    return arn


@pytest.fixture
def published(topic_arn):
    """published(): the messages on the topic so far, read back through an SQS queue subscribed to it."""
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="workshop-check-tap")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

    def messages():
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"])["Message"] for message in received]

    return messages


def test_a_request_publishes_the_ride_once(load_handler, published, network, require):
    handler = require(load_handler("request_ride"), "handler", "(event, context)")
    pickup = {"PickupLocation": {"Latitude": 47.6062, "Longitude": -122.3321}}
    event = {"httpMethod": "POST", "path": "/ride", "body": json.dumps(pickup)}

    try:
        response, failure = handler(event, None), None
    except Exception as error:
        response, failure = None, f"RequestRide raised {type(error).__name__}: {error}"
    if network.attempts:
        pytest.fail(
            f"RequestRide still makes an HTTP call (to {network.take()}). It should publish the ride to the topic "
            "named by RIDES_SNS_TOPIC_ARN instead of POSTing it to RIDE_RECORD_URL."
        )
    if failure:
        pytest.fail(failure)
    assert isinstance(response, dict), f"RequestRide returned {response!r}; it should return a response with statusCode 201."
    assert response.get("statusCode") == 201, f"RequestRide answered statusCode {response.get('statusCode')!r}; it should answer 201 with the ride."
    ride = parsed(response.get("body"))
    assert ride is not None, f"RequestRide answered with body {response.get('body')!r}; it should be the ride as JSON."
    messages = published()
    assert len(messages) == 1, f"One ride request put {len(messages)} messages on the topic; it should publish exactly one."
    message = parsed(messages[0])
    assert message is not None, f"The message on the topic is not JSON: {messages[0]!r}. Publish the ride with json.dumps(ride)."
    assert message == ride, f"The message on the topic is {message!r}; it should be the ride RequestRide answered: {ride!r}."
