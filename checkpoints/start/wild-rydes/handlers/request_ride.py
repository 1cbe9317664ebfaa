"""RequestRide: give a rider a unicorn and have the ride recorded."""
import json
import os
import random
import urllib.request
import uuid
from datetime import datetime, timezone

# Set at deploy time from SSM (see serverless.yml): where wild-rydes-ride-record listens.
RIDE_RECORD_URL = os.environ["RIDE_RECORD_URL"]

# A built-in fleet: this module is about how the services talk, not about finding unicorns.
FLEET = [
    {"Name": "Bucephalus", "Color": "Golden"},
    {"Name": "Shadowfax", "Color": "White"},
    {"Name": "Rocinante", "Color": "Yellow"},
]


def handler(event, context):
    """API Gateway (lambda-proxy) event -> a new ride, recorded, and a 201 response."""
    try:
        request = json.loads(event.get("body") or "{}")
    except json.JSONDecodeError:
        request = None
    if not isinstance(request, dict):
        return response(400, {"Error": "The request body must be a JSON object."})

    ride = {
        "RideId": str(uuid.uuid4()),
        "Unicorn": random.choice(FLEET),
        "RequestTime": datetime.now(timezone.utc).isoformat(),
        "PickupLocation": request.get("PickupLocation"),
    }
    record_ride(ride)
    return response(201, ride)


def record_ride(ride):
    """POST the ride to wild-rydes-ride-record and wait for its answer."""
    post = urllib.request.Request(
        RIDE_RECORD_URL,
        data=json.dumps(ride).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    # Synchronous: the rider waits for API Gateway and ride-record on every request,
    # and if ride-record fails (urlopen raises), this request fails too.
    with urllib.request.urlopen(post, timeout=5) as answer:
        answer.read()


def response(status, body):
    # `cors: true` in serverless.yml answers the browser's preflight; with lambda-proxy
    # the function itself must still send the CORS header on the real answer.
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"},
        "body": json.dumps(body),
    }
