"""Live checks of permissions and the dead letter queue: the functions' roles and DeadLetterConfig (read-only calls)."""

from __future__ import annotations

import fnmatch
import json
import urllib.parse

from workshop.checks import aws
from workshop.checks.aws import deploy_cmd, live
from workshop.checks.live import _need_function, declared_function, declared_resources, deploy_or_declare, need_sns_function, topic_arn
from workshop.checks.model import Problem, Result, failed, passed
from workshop.checks.registry import RR, WR


def role_statements(ctx, fn: dict) -> list[dict]:
    """Every statement of the function role's inline and attached policies."""
    def fetch():
        iam, role = ctx.client("iam"), fn["Role"].rsplit("/", 1)[-1]
        docs = [iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"]
                for n in iam.list_role_policies(RoleName=role)["PolicyNames"]]
        for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
            docs.append(iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)["PolicyVersion"]["Document"])
        docs = [_document(d) for d in docs]
        found = []
        for doc in docs:
            st = doc.get("Statement", [])
            found += st if isinstance(st, list) else [st]
        return found

    return ctx.memo(("role", fn["Role"]), fetch)


def _document(raw) -> dict:
    """A policy document as IAM returns it: a dict, URL-encoded JSON, or (some emulators) a Python literal."""
    if not isinstance(raw, str):
        return raw
    text = urllib.parse.unquote(raw)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        import ast

        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return {}
        return value if isinstance(value, dict) else {}


def allows(statements: list[dict], action: str, resource: str) -> bool:
    def listed(value):
        return value if isinstance(value, list) else [value]

    return any(s.get("Effect") == "Allow"
               and any(fnmatch.fnmatchcase(action.lower(), str(a).lower()) for a in listed(s.get("Action")))
               and any(fnmatch.fnmatchcase(resource, str(r)) for r in listed(s.get("Resource")))
               for s in statements)


@live
def publish_permission(ctx) -> Result:
    arn = topic_arn(ctx)
    fn = _need_function(ctx, WR, "RequestRide", f"Run {deploy_cmd(WR)}.")
    if allows(role_statements(ctx, fn), "sns:Publish", arn):
        return passed(f"the role allows sns:Publish on {arn}", "sns:Publish on the topic")
    return failed("RequestRide's role does not allow sns:Publish on the topic", f"sns:Publish on {arn}",
                  f"Add an Allow of sns:Publish on `Ref: RidesSnsTopic` to {WR}/serverless.yml, then {deploy_cmd(WR)}.")


def queue_arn(ctx) -> tuple[str, dict]:
    """The dead letter queue's ARN and PutRideRecordSns's configuration (looked up once per run: two checks ask)."""
    return ctx.memo("queue_arn", lambda: _queue_arn(ctx))


def _queue_arn(ctx) -> tuple[str, dict]:
    fn = need_sns_function(ctx)
    queues = aws.of_type(ctx, RR, "AWS::SQS::Queue")
    if not queues:
        declared = declared_resources(ctx, RR, "AWS::SQS::Queue")
        raise Problem(failed(f"{ctx.target.stack(RR)} has no SQS queue", "RideRecordDlq deployed",
                             deploy_or_declare(ctx, RR, next(iter(declared), "RideRecordDlq"), declared=bool(declared),
                                               step_id="dead-letter-queue",
                                               declare=f"Declare RideRecordDlq (AWS::SQS::Queue) in {RR}/serverless.yml")))
    logical, summary = function_queue(ctx, fn, queues)
    from botocore.exceptions import ClientError

    try:
        attrs = ctx.client("sqs").get_queue_attributes(QueueUrl=summary["PhysicalResourceId"], AttributeNames=["QueueArn"])
    except ClientError as exc:
        if "NonExistentQueue" in aws.code(exc):
            raise Problem(aws.drift(ctx, RR, logical, "the dead letter queue")) from None
        raise
    return attrs["Attributes"]["QueueArn"], fn


def function_queue(ctx, fn: dict, queues: dict[str, dict]) -> tuple[str, dict]:
    """Which of the stack's queues is PutRideRecordSns's own dead letter queue (the subscription may have another):
    the one DeadLetterConfig names, else the one the file's onError names, else RideRecordDlq, else the first."""
    if len(queues) > 1:
        from workshop.deploy.service_file import ServiceFile

        by_name = {str(s.get("PhysicalResourceId", "")).rsplit("/", 1)[-1]: logical for logical, s in queues.items()}
        named = by_name.get(str((fn.get("DeadLetterConfig") or {}).get("TargetArn") or "").rsplit(":", 1)[-1])
        declared = ServiceFile.getatt_of((declared_function(ctx, RR, "PutRideRecordSns") or {}).get("onError"))
        for choice in (named, declared[0] if declared else None, "RideRecordDlq"):
            if choice in queues:
                return choice, queues[choice]
    return next(iter(queues.items()))


@live
def dlq_config(ctx) -> Result:
    arn, fn = queue_arn(ctx)
    target = (fn.get("DeadLetterConfig") or {}).get("TargetArn")
    if target != arn:
        if not target and (declared_function(ctx, RR, "PutRideRecordSns") or {}).get("onError"):
            fix = f"PutRideRecordSns's `onError` is declared in {RR}/serverless.yml but not deployed yet: run {deploy_cmd(RR)}."
        else:
            fix = f"Set PutRideRecordSns's `onError: {{Fn::GetAtt: [RideRecordDlq, Arn]}}`, then {deploy_cmd(RR)}."
        return failed(f"DeadLetterConfig.TargetArn = {target or 'none'}", arn, fix)
    return passed(f"DeadLetterConfig -> {arn}", arn)


@live
def dlq_send_permission(ctx) -> Result:
    arn, fn = queue_arn(ctx)
    if allows(role_statements(ctx, fn), "sqs:SendMessage", arn):
        return passed(f"the role allows sqs:SendMessage on {arn}", "sqs:SendMessage on the queue")
    return failed("PutRideRecordSns's role does not allow sqs:SendMessage on the queue", f"sqs:SendMessage on {arn}",
                  f"Add an Allow of sqs:SendMessage on `Fn::GetAtt: [RideRecordDlq, Arn]` to {RR}/serverless.yml, "
                  f"then {deploy_cmd(RR)}.")
