"""The architecture as the files describe it, drawn as text: who calls whom through what.

Read from the two serverless.yml files (not from the step number), so a picture always matches the files it is
drawn from: a learner's workspace, a checkpoint, or a demo in progress.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Features:
    """What the two services' files declare."""

    http_call: bool = True  # RequestRide POSTs to RIDE_RECORD_URL
    http_function: str = "PutRideRecord"
    topic: bool = False
    topic_parameter: bool = False
    sns_function: bool = False
    subscribed: bool = False
    publishes: bool = False
    dlq: bool = False


def _read(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def features(root: Path) -> Features:
    """Read the features from a tree holding `wild-rydes/` and `wild-rydes-ride-record/`."""
    rides = _read(root / "wild-rydes" / "serverless.yml")
    record = _read(root / "wild-rydes-ride-record" / "serverless.yml")
    sns_function = re.search(r"^\s{2}PutRideRecordSns:", record, re.MULTILINE) is not None
    return Features(
        http_call="RIDE_RECORD_URL" in rides,
        http_function="PutRideRecordHttp" if re.search(r"^\s{2}PutRideRecordHttp:", record, re.MULTILINE) else "PutRideRecord",
        topic="RidesSnsTopic" in rides,
        topic_parameter="SnsTopicArn" in rides,
        sns_function=sns_function,
        subscribed=sns_function and re.search(r"-\s*sns\s*:", record) is not None,
        publishes="RIDES_SNS_TOPIC_ARN" in rides,
        dlq="RideRecordDlq" in record,
    )


def draw(f: Features) -> list[str]:
    """The picture, one line per path through the system (Rich markup; dim = declared but unused)."""
    lines = ["rider --HTTP--> API Gateway /ride --> [bold]RequestRide[/]"]
    if f.http_call:
        lines.append(f"  RequestRide --HTTPS--> API Gateway /record --> [bold]{f.http_function}[/] --> DynamoDB RideRecordTable")
    else:
        lines.append(f"  [dim]API Gateway /record --> {f.http_function} --> DynamoDB (kept for other callers)[/]")
    if f.topic:
        publisher = "RequestRide --publish-->" if f.publishes else "[dim](no publisher yet)[/]"
        parameter = "  (ARN in SSM /wild-rydes/<stage>/SnsTopicArn)" if f.topic_parameter else ""
        lines.append(f"  {publisher} SNS RidesSnsTopic{parameter}")
    if f.sns_function:
        arrow = "SNS RidesSnsTopic --async-->" if f.subscribed else "[dim](not subscribed)[/]"
        lines.append(f"  {arrow} [bold]PutRideRecordSns[/] --> DynamoDB RideRecordTable")
        if f.dlq:
            lines.append("  PutRideRecordSns --after 3 failed attempts--> SQS RideRecordDlq")
    return lines
