"""Step 7 (add-sns-handler): handler_sns stores the ride of every record in an SNS event."""
import json

import pytest

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:wild-rydes-dev-RidesSnsTopic"


def sns_event(*rides, raw=None):
    """An SNS event as Lambda receives it: one record per message, the ride as JSON text in Sns.Message."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{TOPIC_ARN}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": f"95df01b4-ee98-5cb9-9903-4c221d41eb5{number}",
                    "TopicArn": TOPIC_ARN,
                    "Subject": None,
                    "Message": raw if raw is not None else json.dumps(ride),
                    "Timestamp": "2024-05-01T12:00:01.000Z",
                    "MessageAttributes": {},
                },
            }
            for number, ride in enumerate(rides)
        ]
    }


def test_handler_sns_stores_the_ride_of_one_record(put_ride_record_module, ride, require, call, assert_stored):
    handler_sns = require(put_ride_record_module, "handler_sns", "(event, context)")

    call(handler_sns, sns_event(ride), None)

    assert_stored(ride, after="handler_sns on an SNS event with one record")


def test_handler_sns_stores_the_ride_of_every_record(put_ride_record_module, ride, require, call, assert_stored):
    handler_sns = require(put_ride_record_module, "handler_sns", "(event, context)")
    second = dict(ride, RideId="7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910", Unicorn={"Name": "Bucephalus", "Color": "Golden"})

    call(handler_sns, sns_event(ride, second), None)

    for each in (ride, second):
        assert_stored(each, after="handler_sns on an SNS event with two records")


@pytest.mark.parametrize("message", ["workshop-poison: not a ride", json.dumps({"Unicorn": "no RideId"})],
                         ids=["not JSON", "no RideId"])
def test_handler_sns_raises_when_a_ride_cannot_be_stored(put_ride_record_module, require, message):
    handler_sns = require(put_ride_record_module, "handler_sns", "(event, context)")

    try:
        handler_sns(sns_event({}, raw=message), None)
    except Exception:
        return  # Lambda sees the failure: it retries, then (step 13) sends the event to the dead letter queue
    pytest.fail(f"handler_sns returned normally for a message that cannot be stored ({message!r}): let the exception "
                "propagate (no try/except around put_ride_record), so Lambda retries and step 13's queue receives it")
