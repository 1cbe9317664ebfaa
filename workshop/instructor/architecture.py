"""The architecture as the files describe it, drawn as text: who calls whom through what.

Read from the two serverless.yml files (not from the step number), so a picture always matches the files it is
drawn from: a learner's workspace, a checkpoint, or a demo in progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workshop.deploy.service_file import ServiceFile, ServiceFileError


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
    subscription_dlq: str = ""  # the queue the subscription's redrive policy names (logical id), if any


def _read(folder: Path) -> ServiceFile:
    """The service's file; a missing or broken one draws as empty (the picture is never the place for a YAML error)."""
    try:
        return ServiceFile.load(folder)
    except ServiceFileError:
        return ServiceFile({})


def features(root: Path) -> Features:
    """Read the features from a tree holding `wild-rydes/` and `wild-rydes-ride-record/`."""
    rides = _read(root / "wild-rydes")
    record = _read(root / "wild-rydes-ride-record")
    request = rides.function("RequestRide") or {}
    env = rides.environment(request)
    sns_function = record.function("PutRideRecordSns")
    publishes = "RIDES_SNS_TOPIC_ARN" in env
    return Features(
        http_call="RIDE_RECORD_URL" in env,
        http_function="PutRideRecordHttp" if "PutRideRecordHttp" in record.functions else "PutRideRecord",
        topic="RidesSnsTopic" in rides.resources,
        topic_parameter=any("SnsTopicArn" in str(rides.resolve((r.get("Properties") or {}).get("Name")))
                            for r in rides.of_type("AWS::SSM::Parameter").values()),
        sns_function=sns_function is not None,
        subscribed=sns_function is not None and bool(record.events(sns_function, "sns")),
        publishes=publishes,
        dlq=bool(record.of_type("AWS::SQS::Queue")) and sns_function is not None and "onError" in sns_function,
        subscription_dlq=_subscription_dlq(record, sns_function),
    )


def _subscription_dlq(record: ServiceFile, sns_function: dict | None) -> str:
    """The queue named by the redrive policy of PutRideRecordSns's subscription (its sns event or a hand-written one)."""
    from workshop.checks.sls import hand_subscriptions

    policies = [e.get("redrivePolicy") for e in record.events(sns_function or {}, "sns") if isinstance(e, dict)]
    policies += [p.get("RedrivePolicy") for p in hand_subscriptions(record).values()]
    for policy in policies:
        if isinstance(policy, dict):
            ref = policy.get("deadLetterTargetRef")
            found = record.getatt_of(policy.get("deadLetterTargetArn"))
            name = ref if isinstance(ref, str) else found[0] if found else ""
            # Drawn inside Rich markup: only a real logical id (letters and digits) is shown, never the file's raw text.
            return name if name.isascii() and name.isalnum() else "a queue"
    return ""


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
        if f.subscription_dlq:
            lines.append(f"  SNS RidesSnsTopic --could not deliver--> SQS {f.subscription_dlq}")
    return lines


def around(root: Path, course, step) -> tuple[list[str], list[str]] | None:
    """The picture at the start of `step` and after it, drawn from the workspace's checkpoints (not the learner's
    files, which may be half-edited); None when the workspace has no checkpoints to draw from."""
    import tempfile

    from workshop.checkpoints import refs
    from workshop.errors import WorkshopError

    try:
        with tempfile.TemporaryDirectory(prefix="workshop-picture-") as tmp:
            start = refs.export_rev(root, refs.start_ref(course, step), Path(tmp) / "before")
            end = refs.export_checkpoint(root, step, Path(tmp) / "after")
            return draw(features(start)), draw(features(end))
    except (WorkshopError, OSError):
        return None
