"""Test setup for wild-rydes-ride-record: fake AWS credentials and moto's in-memory AWS, so no test reaches AWS.

Run from the service folder with `python -m pytest` (needs pytest and moto: `pip install pytest "moto[dynamodb]"`).
"""
import importlib
import os
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

TABLE_NAME = "ride-record-test"

# Let plain `pytest`, not only `python -m pytest`, import handlers/ from the service folder.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Set before any handler is imported, because the handler creates its boto3 resource on import.
# Fake credentials and no endpoint overrides: even a mistake cannot reach a real (or local) AWS.
for name in [name for name in os.environ if name.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE"))]:
    del os.environ[name]
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "DDB_TABLE_NAME": TABLE_NAME,
    }
)


@pytest.fixture
def table():
    """An empty ride table, shaped like RideRecordTable in serverless.yml, in moto's in-memory DynamoDB."""
    with mock_aws():
        yield boto3.resource("dynamodb").create_table(
            TableName=TABLE_NAME,
            KeySchema=[{"AttributeName": "RideId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "RideId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


@pytest.fixture
def handler_module(table):
    """handlers/put_ride_record.py, imported fresh inside the mock (it connects to DynamoDB on import)."""
    sys.modules.pop("handlers.put_ride_record", None)
    return importlib.import_module("handlers.put_ride_record")


@pytest.fixture
def ride():
    """A ride as wild-rydes sends it."""
    return {
        "RideId": "5b4c3a2e-1f0d-4e9c-8b7a-6d5e4f3a2b1c",
        "Unicorn": {"Name": "Shadowfax", "Color": "White"},
        "RequestTime": "2024-05-01T12:00:00+00:00",
        "PickupLocation": {"Latitude": 47.6062, "Longitude": -122.3321},
    }
