"""Sample service A: one handler that records a ride."""


def handler(event, context):
    ride = event.get("ride", {})
    return {"statusCode": 201, "body": ride.get("id", "")}
