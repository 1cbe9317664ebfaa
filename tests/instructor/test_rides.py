"""`workshop ride` / `workshop logs` input handling (the rides themselves run in the end-to-end tests)."""

from __future__ import annotations

import pytest

from workshop.deploy.targets import Target
from workshop.errors import BadInput
from workshop.instructor import rides


def test_pickup_and_since_parse_and_reject():
    assert rides.parse_pickup("47.61,-122.2") == (47.61, -122.2)
    assert rides.parse_since("5m") == 300 and rides.parse_since("2h") == 7200 and rides.parse_since("30s") == 30
    for bad in ("", "1", "91,0", "0,181", "a,b", "1,2,3"):
        with pytest.raises(BadInput, match="--pickup"):
            rides.parse_pickup(bad)
    for bad in ("", "5", "5 minutes", "-5m", "m"):
        with pytest.raises(BadInput, match="--since"):
            rides.parse_since(bad)


def test_function_names_short_or_full():
    target = Target("local", stage="dev")
    assert rides.function_name(target, "PutRideRecordSns") == "wild-rydes-ride-record-dev-PutRideRecordSns"
    assert rides.function_name(target, "wild-rydes-dev-RequestRide") == "wild-rydes-dev-RequestRide"
    with pytest.raises(BadInput, match="workshop logs PutRideRecordSns"):
        rides.function_name(target, "PutRide")


@pytest.mark.parametrize("args", [["ride", "--count", "0"], ["ride", "--count", "101"], ["ride", "--pickup", "x"],
                                  ["logs", "Nope"], ["logs", "RequestRide", "--since", "ever"]])
def test_bad_ride_and_logs_input_exit_2(tmp_path, cli, monkeypatch, args):
    assert cli("init", str(tmp_path / "ws")).exit_code == 0
    monkeypatch.chdir(tmp_path / "ws")
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
