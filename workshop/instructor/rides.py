"""`workshop ride` and `workshop logs`: request rides through the deployed API, read a function's log lines."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from workshop.deploy.targets import Target
from workshop.errors import BadInput

# Which service each of the module's functions belongs to (osls names them `<service>-<stage>-<Function>`).
FUNCTIONS = {
    "RequestRide": "wild-rydes",
    "PutRideRecord": "wild-rydes-ride-record",
    "PutRideRecordHttp": "wild-rydes-ride-record",
    "PutRideRecordSns": "wild-rydes-ride-record",
}
MAX_RIDES = 100
SINCE_RE = re.compile(r"^(\d{1,6})([smhd])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_pickup(text: str) -> tuple[float, float]:
    """`LAT,LON` within the globe's ranges."""
    try:
        lat_text, lon_text = text.split(",")
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        raise BadInput(f"--pickup takes LAT,LON in degrees (e.g. `--pickup 47.61,-122.20`), not {text!r}.") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise BadInput(f"--pickup {text}: latitude must be -90..90 and longitude -180..180 (e.g. `--pickup 47.61,-122.20`).")
    return lat, lon


def parse_since(text: str) -> float:
    """`30s`, `5m`, `2h`, `1d` as seconds."""
    match = SINCE_RE.match(text.strip())
    if not match:
        raise BadInput(f"--since takes a number and s, m, h or d (e.g. `--since 5m`), not {text!r}.")
    return int(match.group(1)) * UNITS[match.group(2)]


def function_name(target: Target, name: str) -> str:
    """The deployed name of a function given by its short name (PutRideRecordSns) or its full name."""
    if name in FUNCTIONS:
        return target.function(FUNCTIONS[name], name)
    for short, service in FUNCTIONS.items():
        if name == target.function(service, short):
            return name
    known = ", ".join(FUNCTIONS)
    raise BadInput(f"Unknown function {name!r}: use one of {known} (e.g. `workshop logs PutRideRecordSns`).")


@dataclass(frozen=True)
class LogLine:
    timestamp: int  # ms since the epoch
    stream: str
    message: str


FOLLOW_POLL = 2.0  # FilterLogEvents allows 5 requests a second per account and Region, and a class shares them
MAX_BACKOFF = 30.0


def log_lines(session, group: str, since_seconds: float, *, follow: bool = False, poll: float = FOLLOW_POLL,
              sleep=time.sleep) -> Iterator[LogLine]:
    """The group's lines since then, oldest first; with `follow`, keep polling (every 2 s or slower) until interrupted.

    A throttled search waits longer before the next (doubling up to 30 s) instead of failing."""
    from workshop.deploy import targets

    logs = targets.client(session, "logs")
    start = int((time.time() - since_seconds) * 1000)
    seen: set[str] = set()
    poll = max(poll, FOLLOW_POLL)
    wait = poll
    while True:
        kwargs = {"logGroupName": group, "startTime": start}
        newest = start
        try:
            pages = logs.get_paginator("filter_log_events").paginate(**kwargs)
            for page in pages:
                for event in page.get("events", []):
                    if event["eventId"] in seen:
                        continue
                    seen.add(event["eventId"])
                    newest = max(newest, event["timestamp"])
                    yield LogLine(event["timestamp"], event.get("logStreamName", ""), event["message"].rstrip("\n"))
            wait = poll
        except logs.exceptions.ResourceNotFoundException:
            if not follow:
                return
        except Exception as exc:  # noqa: BLE001 - throttling backs off; anything else is the caller's
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            if not follow or code not in ("ThrottlingException", "Throttling", "TooManyRequestsException"):
                raise
            wait = min(wait * 2, MAX_BACKOFF)
        if not follow:
            return
        start = newest
        sleep(wait)


def parse_request(count: int, pickup: str | None) -> tuple[float, float] | None:
    """Check a ride request's options before anything is opened; returns the pickup (None: the default one)."""
    if not 1 <= count <= MAX_RIDES:
        raise BadInput(f"--count must be 1 to {MAX_RIDES}, not {count} (e.g. `workshop ride --count 5`).")
    return parse_pickup(pickup) if pickup is not None else None


def request_rides(session, count: int, pickup: tuple[float, float] | None, *,
                  on_ride: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Request `count` rides through the deployed API and follow each into the table (see `ride_json` for each one's
    shape). A target that cannot take rides at all ends the loop with a WorkshopError naming the fix."""
    from workshop.checks import behaviour
    from workshop.checks.model import Problem
    from workshop.checks.runner import context
    from workshop.errors import WorkshopError

    where = pickup or behaviour.DEFAULT_PICKUP
    ctx = context(session)
    rides = []
    for _ in range(count):
        try:
            outcome = behaviour.request_ride(ctx, where, source="ride")
        except Problem as problem:
            r = problem.result
            raise WorkshopError(f"{r.observed}: {r.fix}") from None
        ride = ride_json(outcome)
        rides.append(ride)
        if on_ride is not None:
            on_ride(ride)
    return rides


def ride_json(o: dict[str, Any]) -> dict[str, Any]:
    """One requested ride as `workshop ride --json` shows it (docs/json.md); `fix` (not shown in JSON) when not recorded."""
    ride = o.get("ride") or {}
    problem = o.get("problem")
    return {
        "ride_id": o.get("ride_id"), "status": o.get("status"), "unicorn": (ride.get("Unicorn") or {}).get("Name"),
        "http_ms": o.get("http_ms"), "record_ms": o.get("record_ms"), "path": o.get("path"), "evidence": o.get("evidence"),
        "recorded": problem is None, "problem": problem.observed if problem else None,
        **({"fix": problem.fix} if problem else {}),
    }


def gone_function(root, target: Target, name: str) -> str | None:
    """When `name` is no longer declared in its service's serverless.yml (renamed, say): one line naming the ones that are."""
    service = FUNCTIONS.get(name) or next((s for short, s in FUNCTIONS.items() if name == target.function(s, short)), None)
    if service is None:
        return None
    from workshop.checks import sls
    from workshop.checks.model import Context, Problem

    try:
        declared = list(sls.config(Context(root, target), service).functions)
    except (Problem, OSError):
        return None
    short = next((s for s in FUNCTIONS if name in (s, target.function(FUNCTIONS[s], s))), name)
    if not declared or short in declared:
        return None
    others = ", ".join(declared)
    return (f"{short} is no longer a function of {service}: its serverless.yml declares {others}. "
            f"Run `workshop logs {declared[0]}`.")


def how_known(evidence: str | None) -> str:
    """Why the runner says which path recorded a ride, in one phrase: a log line naming it, or timing alone."""
    if not evidence:
        return "no evidence of the path"
    if "names the RideId" in evidence:
        return f"known for sure: {evidence}"
    if "ran while" in evidence:
        return f"inferred from timing: {evidence}, but no log line names this ride"
    return evidence


@dataclass(frozen=True)
class Spread:
    """min/median/max of one latency over several rides, in ms."""

    label: str
    low: int
    median: int
    high: int


def spreads(outcomes: list[dict]) -> list[Spread]:
    """For `ride -n N`: the spread of the answer time and of the time to DynamoDB over the rides that were recorded."""
    import statistics

    found = []
    for label, key in (("answered", "http_ms"), ("in DynamoDB", "record_ms")):
        values = [o[key] for o in outcomes if isinstance(o.get(key), int | float) and o.get("recorded", "problem" not in o)]
        if values:
            found.append(Spread(label, int(min(values)), int(statistics.median(values)), int(max(values))))
    return found
