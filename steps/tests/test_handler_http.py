"""Step 1 (split-handler): put_ride_record(ride) stores a ride; handler_http serves API Gateway with it."""
import json


def api_gateway_event(ride):
    """An API Gateway (lambda-proxy) POST /record event, as PutRideRecordHttp receives it."""
    return {
        "resource": "/record",
        "path": "/record",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"},
        "queryStringParameters": None,
        "pathParameters": None,
        "requestContext": {"resourcePath": "/record", "httpMethod": "POST", "stage": "dev"},
        "body": json.dumps(ride),
        "isBase64Encoded": False,
    }


def parsed(text):
    """text as JSON, or None when it is not JSON."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def test_put_ride_record_stores_the_ride(put_ride_record_module, ride, require, call, assert_stored):
    put_ride_record = require(put_ride_record_module, "put_ride_record", "(ride)")

    call(put_ride_record, ride)

    assert_stored(ride, after="put_ride_record(ride)")


def test_handler_http_stores_the_ride_and_answers_201(put_ride_record_module, ride, require, call, assert_stored):
    handler_http = require(put_ride_record_module, "handler_http", "(event, context)")

    response = call(handler_http, api_gateway_event(ride), None)

    assert isinstance(response, dict), f"handler_http returned {response!r}; it should return a response with statusCode 201."
    assert response.get("statusCode") == 201, f"handler_http answered statusCode {response.get('statusCode')!r}; it should answer 201."
    body = response.get("body")
    assert parsed(body) == ride, f"handler_http answered with body {body!r}; it should be the ride it stored, as JSON."
    assert_stored(ride, after="handler_http on an API Gateway event")
