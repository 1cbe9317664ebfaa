"""Shared setup for the behaviour checks that `workshop verify` runs against the learner's own code.

Each check file is run with WORKSHOP_SERVICE_DIR set to one service folder of the learner's workspace
(e.g. `.../wild-rydes-ride-record`). The learner's handler is imported fresh from there and called
inside moto's in-memory AWS with fake credentials. Nothing may leave this machine: every DNS lookup
or connection is refused and recorded, and a check that tried one fails saying where it went.
Failure messages are shown to the learner as what the check observed, so they speak the workshop's language.
"""
import importlib
import json
import os
import socket
import sys
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

SERVICE_DIR_VARIABLE = "WORKSHOP_SERVICE_DIR"
TABLE_NAME = "workshop-check-rides"


class NetworkRefused(OSError):
    """Raised in place of a real connection: the checks run offline."""


class Network:
    """The network attempts the code under test made, in the order it made them."""

    def __init__(self):
        self.attempts = []

    def take(self):
        """The attempts as text, forgotten once reported so they are not reported twice."""
        text = ", ".join(self.attempts)
        self.attempts.clear()
        return text


@pytest.fixture(autouse=True)
def network(monkeypatch):
    """Refuse and record every DNS lookup and connection; fail loudly if one goes unreported."""
    seen = Network()

    def refuse(target):
        seen.attempts.append(target)
        raise NetworkRefused(f"the workshop's checks run offline: refused a connection to {target}")

    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **k: refuse(f"{host}:{port}"))
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: refuse(str(address)))
    monkeypatch.setattr(socket.socket, "connect_ex", lambda self, address: refuse(str(address)))
    yield seen
    if seen.attempts:
        pytest.fail(f"The code tried to reach the network ({seen.take()}); these checks run offline.")


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch):
    """Fake credentials, one region, no profile or endpoint override: nothing can reach a real AWS."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def aws():
    """moto's in-memory AWS for the length of one check."""
    with mock_aws():
        yield


def forget_handlers():
    for name in [name for name in sys.modules if name == "handlers" or name.startswith("handlers.")]:
        del sys.modules[name]


@pytest.fixture
def load_handler(monkeypatch):
    """load_handler("put_ride_record") imports the learner's handlers/put_ride_record.py afresh."""
    folder = os.environ.get(SERVICE_DIR_VARIABLE)
    if not folder or not Path(folder).is_dir():
        pytest.fail(f"{SERVICE_DIR_VARIABLE} must name a service folder (got {folder!r}); run the checks with `workshop verify`.")
    service = Path(folder).resolve()
    monkeypatch.syspath_prepend(str(service))

    def load(module):
        shown = f"{service.name}/handlers/{module}.py"
        if not (service / "handlers" / f"{module}.py").is_file():
            pytest.fail(f"{shown} is missing.")
        forget_handlers()
        try:
            return importlib.import_module(f"handlers.{module}")
        except Exception as error:
            pytest.fail(f"{shown} could not be imported: {type(error).__name__}: {error}")

    yield load
    forget_handlers()


# Helpers are handed out as fixtures, so the check files never import this conftest by name.

@pytest.fixture
def require():
    """require(module, name, signature): the learner's function, or a failure saying it is not there yet."""

    def require(module, name, signature):
        function = getattr(module, name, None)
        if not callable(function):
            pytest.fail(f"handlers/{Path(module.__file__).name} has no function {name}{signature} yet.")
        return function

    return require


@pytest.fixture
def call():
    """call(function, *args): an exception in the learner's code becomes a one-line failure."""

    def call(function, *args):
        try:
            return function(*args)
        except Exception as error:
            failure = f"{function.__name__} raised {type(error).__name__}: {error}"
        pytest.fail(failure)  # outside `except`, so no chained traceback is shown

    return call


# --- wild-rydes-ride-record --------------------------------------------------------------------------

@pytest.fixture
def ride():
    """A ride as RequestRide builds it (the pickup location has floats, as a real one does)."""
    return {
        "RideId": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
        "Unicorn": {"Name": "Rocinante", "Color": "Yellow"},
        "RequestTime": "2024-05-01T12:00:00+00:00",
        "PickupLocation": {"Latitude": 47.6062, "Longitude": -122.3321},
    }


@pytest.fixture
def ride_table(aws, monkeypatch):
    """An empty table shaped like RideRecordTable; the handler finds it through DDB_TABLE_NAME."""
    monkeypatch.setenv("DDB_TABLE_NAME", TABLE_NAME)
    return boto3.resource("dynamodb").create_table(
        TableName=TABLE_NAME,
        KeySchema=[{"AttributeName": "RideId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "RideId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def put_ride_record_module(ride_table, load_handler):
    """The learner's handlers/put_ride_record.py, imported inside the mock with the table in place."""
    return load_handler("put_ride_record")


@pytest.fixture
def assert_stored(ride_table):
    """assert_stored(ride, after): the ride is in the table exactly as sent."""

    def assert_stored(ride, after):
        item = ride_table.get_item(Key={"RideId": ride["RideId"]}).get("Item")
        assert item is not None, f"Ride {ride['RideId']} is not in the table after {after}."
        # DynamoDB hands numbers back as Decimal.
        expected = json.loads(json.dumps(ride), parse_float=Decimal)
        assert item == expected, f"After {after}, the table holds {item!r} instead of the ride {expected!r}."

    return assert_stored
