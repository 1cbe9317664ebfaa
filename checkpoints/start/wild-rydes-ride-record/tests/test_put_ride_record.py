"""PutRideRecord stores what it is sent and answers 201."""
import json
from decimal import Decimal


def api_gateway_event(ride):
    """The parts of an API Gateway (lambda-proxy) event the handler reads."""
    return {"httpMethod": "POST", "path": "/record", "body": json.dumps(ride)}


def stored(table, ride_id):
    return table.get_item(Key={"RideId": ride_id}).get("Item")


def test_handler_stores_the_ride(handler_module, table, ride):
    response = handler_module.handler(api_gateway_event(ride), None)

    assert response["statusCode"] == 201
    assert json.loads(response["body"]) == ride
    # DynamoDB hands numbers back as Decimal.
    assert stored(table, ride["RideId"]) == json.loads(json.dumps(ride), parse_float=Decimal)
