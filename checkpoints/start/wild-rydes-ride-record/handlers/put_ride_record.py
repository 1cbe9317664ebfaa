"""PutRideRecord: store a ride that wild-rydes POSTs to /record."""
import json
import os
from decimal import Decimal

import boto3

# Created once per container: warm invocations reuse the connection.
dynamodb = boto3.resource("dynamodb")
table = dynamodb.Table(os.environ["DDB_TABLE_NAME"])


def handler(event, context):
    """API Gateway (lambda-proxy) event -> a stored ride and a 201 response."""
    ride = json.loads(event["body"])
    # DynamoDB refuses Python floats (e.g. the pickup location), so store them as Decimal.
    item = json.loads(json.dumps(ride), parse_float=Decimal)
    table.put_item(Item=item)
    # One log line per ride, naming it: `workshop ride` and verify read it to tell which function recorded a ride.
    print(f"Recorded ride {ride['RideId']}")
    return {
        "statusCode": 201,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(ride),
    }
