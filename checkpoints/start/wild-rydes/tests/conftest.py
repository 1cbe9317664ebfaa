"""Test setup for wild-rydes: fake AWS credentials and settings, so no test reaches AWS or ride-record.

Run from the service folder with `python -m pytest` (needs pytest: `pip install pytest`).
"""
import importlib
import os
import sys
from pathlib import Path

import pytest

RIDE_RECORD_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/dev/record"

# Let plain `pytest`, not only `python -m pytest`, import handlers/ from the service folder.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Set before the handler is imported, because it reads its settings on import.
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
        "RIDE_RECORD_URL": RIDE_RECORD_URL,
    }
)


@pytest.fixture
def handler_module():
    """handlers/request_ride.py, imported fresh so it reads the settings above."""
    sys.modules.pop("handlers.request_ride", None)
    return importlib.import_module("handlers.request_ride")


@pytest.fixture
def ride_request():
    """An API Gateway (lambda-proxy) event as the Wild Rydes web page sends it."""
    return {
        "httpMethod": "POST",
        "path": "/ride",
        "body": '{"PickupLocation": {"Latitude": 47.6062, "Longitude": -122.3321}}',
    }
