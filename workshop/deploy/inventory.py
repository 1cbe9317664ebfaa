"""What of the workshop is still on a target: every resource named after a service and the stage."""

from __future__ import annotations

import re
from collections.abc import Iterator

from workshop.deploy import targets
from workshop.deploy.targets import Target, services

# `-serverlessdeploymentbuck-` on AWS (the logical id cut), `-serverlessdeploymentbucket-` in moto: accept any cut.


def _prefixes(target: Target) -> tuple[str, ...]:
    return tuple(f"{service}-{target.stage}" for service in services())


def _ours(name: str, target: Target, *, generated: bool) -> bool:
    """`{service}-{stage}-{LogicalId}` (plus `-{random}` for generated names), so stage `dev` never claims `dev-alice`."""
    tail = r"[A-Z][A-Za-z0-9]*" + (r"-[A-Za-z0-9]+" if generated else "")
    return any(re.fullmatch(rf"{re.escape(prefix)}-{tail}", name) for prefix in _prefixes(target))


def leftovers(session, target: Target) -> list[tuple[str, str]]:
    """(kind, name) of every workshop resource of this stage still on the target."""
    found: list[tuple[str, str]] = []
    for kind, lister in _LISTERS:
        try:
            found.extend((kind, name) for name in lister(session, target))
        except Exception as exc:  # a service the emulator or a restricted role does not offer: say so, keep going
            found.append((kind, f"(could not list: {type(exc).__name__})"))
    return found


def _stacks(session, target: Target) -> Iterator[str]:
    names = {target.stack(s) for s in services()}
    for page in targets.client(session, "cloudformation").get_paginator("list_stacks").paginate():
        for stack in page["StackSummaries"]:
            if stack["StackName"] in names and stack["StackStatus"] != "DELETE_COMPLETE":
                yield f"{stack['StackName']} ({stack['StackStatus']})"


def _functions(session, target: Target) -> Iterator[str]:
    for page in targets.client(session, "lambda").get_paginator("list_functions").paginate():
        yield from (f["FunctionName"] for f in page["Functions"] if _ours(f["FunctionName"], target, generated=False))


def _topics(session, target: Target) -> Iterator[str]:
    for page in targets.client(session, "sns").get_paginator("list_topics").paginate():
        for topic in page["Topics"]:
            name = topic["TopicArn"].rsplit(":", 1)[-1]
            if _ours(name, target, generated=True):
                yield name


def _queues(session, target: Target) -> Iterator[str]:
    sqs = targets.client(session, "sqs")
    for prefix in _prefixes(target):
        names = (url.rsplit("/", 1)[-1] for url in sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []))
        yield from (n for n in names if _ours(n, target, generated=True))


def _tables(session, target: Target) -> Iterator[str]:
    for page in targets.client(session, "dynamodb").get_paginator("list_tables").paginate():
        yield from (t for t in page["TableNames"] if _ours(t, target, generated=True))


def _parameters(session, target: Target) -> Iterator[str]:
    ssm = targets.client(session, "ssm")
    for service in services():
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=f"/{service}/{target.stage}", Recursive=True):
            yield from (p["Name"] for p in page["Parameters"])


def _apis(session, target: Target) -> Iterator[str]:
    wanted = {f"{target.stage}-{s}" for s in services()}
    for page in targets.client(session, "apigateway").get_paginator("get_rest_apis").paginate():
        yield from (f"{a['name']} ({a['id']})" for a in page["items"] if a["name"] in wanted)


def _buckets(session, target: Target) -> Iterator[str]:
    """Deployment buckets. CloudFormation names them `<stack>-<logical id>-<random>` in lower case, cut to 63
    characters: `serverlessdeploymentbuck` is all AWS keeps of the logical id, and long stack names are cut too. So
    the stage is read from what osls stores inside (`serverless/<service>/<stage>/...`), not from the bucket's name."""
    s3 = targets.client(session, "s3")
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        # <stack>-<logical id>-<suffix>, both shortened by CloudFormation to fit 63 ("...-serverlessdeploymentbuck-...")
        parts = name.rsplit("-", 2)
        head = parts[0] if len(parts) == 3 and len(parts[1]) >= 8 and "serverlessdeploymentbucket".startswith(parts[1]) else ""
        for service in services():
            if head and target.stack(service).lower().startswith(head.lower()):
                listed = s3.list_objects_v2(Bucket=name, Prefix=f"serverless/{service}/{target.stage}/", MaxKeys=1)
                if listed.get("KeyCount", 0):
                    yield name
                    break


def _log_groups(session, target: Target) -> Iterator[str]:
    logs = targets.client(session, "logs")
    for prefix in _prefixes(target):
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=f"/aws/lambda/{prefix}-"):
            names = (g["logGroupName"] for g in page["logGroups"])
            yield from (n for n in names if _ours(n.removeprefix("/aws/lambda/"), target, generated=False))


_LISTERS = (
    ("stack", _stacks), ("function", _functions), ("topic", _topics), ("queue", _queues), ("table", _tables),
    ("parameter", _parameters), ("rest api", _apis), ("bucket", _buckets), ("log group", _log_groups),
)
