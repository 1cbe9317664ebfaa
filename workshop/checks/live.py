"""Live checks: what the target account holds, read through the target's boto3 session (read-only calls)."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable

from workshop.checks import aws
from workshop.checks.aws import deploy_cmd, live
from workshop.checks.model import Problem, Result, failed, passed
from workshop.checks.registry import RR, WR

HTTP_HANDLER = "handlers/put_ride_record.handler_http"
SNS_HANDLER = "handlers/put_ride_record.handler_sns"


def function(ctx, service: str, name: str) -> dict | None:
    """A deployed function's configuration; None when absent and the stack does not declare it; drift when it does."""
    from botocore.exceptions import ClientError

    def fetch():
        try:
            return ctx.client("lambda").get_function_configuration(FunctionName=ctx.target.function(service, name))
        except ClientError as exc:
            if aws.code(exc) != "ResourceNotFoundException":
                raise
            return None

    config = ctx.memo(("fn", service, name), fetch)
    if config is None and f"{name}LambdaFunction" in aws.resources(ctx, service):
        raise Problem(aws.drift(ctx, service, f"{name}LambdaFunction", f"the function {name}"))
    return config


def _need_function(ctx, service: str, name: str, fix: str | Callable[[], str]) -> dict:
    """The deployed function's configuration; missing, the check ends with `fix` (a callable: worked out only then)."""
    config = function(ctx, service, name)
    if config is None:
        raise Problem(failed(f"no function {ctx.target.function(service, name)}", f"{name} deployed",
                             fix() if callable(fix) else fix))
    return config


# --- fixes that fit what was observed: "deploy" when the files already declare it, else "declare it (step N)" ---

def files(ctx, service: str):
    """The service's serverless.yml (a ServiceFile); None when it is missing or broken (the static checks say so)."""
    from workshop.checks import sls

    try:
        return sls.config(ctx, service)
    except Problem:
        return None


def declared_function(ctx, service: str, name: str) -> dict | None:
    """The function as the learner's serverless.yml declares it, or None."""
    found = files(ctx, service)
    return found.function(name) if found is not None else None


def declared_resources(ctx, service: str, cfn_type: str) -> dict[str, dict]:
    found = files(ctx, service)
    return found.of_type(cfn_type) if found is not None else {}


def deploy_or_declare(ctx, service: str, what: str, *, declared: bool, step_id: str, declare: str) -> str:
    """The fix for something the target lacks: deploy it when the files declare it, else declare it (at its step) first."""
    if declared:
        return f"{what} is declared in {service}/serverless.yml but not deployed yet: run {deploy_cmd(service)}."
    return f"{declare} ({ctx.step_ref(step_id)}), then run {deploy_cmd(service)}."


def need_sns_function(ctx) -> dict:
    """PutRideRecordSns as deployed; missing, the fix says whether to declare it or only to deploy it."""
    def fix() -> str:
        return deploy_or_declare(ctx, RR, "PutRideRecordSns", declared=declared_function(ctx, RR, "PutRideRecordSns") is not None,
                                 step_id="add-sns-function", declare="Declare PutRideRecordSns")

    return _need_function(ctx, RR, "PutRideRecordSns", fix)


def deployed_resource(ctx, service: str, logical: str, *, what: str, cfn_type: str, step_id: str, declare: str) -> str:
    """The physical id of a resource the stack holds; missing, the fix fits what the learner's files declare."""
    found = aws.resources(ctx, service).get(logical)
    if not found or not found.get("PhysicalResourceId"):
        fix = deploy_or_declare(ctx, service, logical, declared=logical in declared_resources(ctx, service, cfn_type),
                                step_id=step_id, declare=declare)
        raise Problem(failed(f"{ctx.target.stack(service)} has no {what} ({logical})", f"{logical} deployed", fix))
    return found["PhysicalResourceId"]


@live
def stacks_deployed(ctx) -> Result:
    shown = [f"{ctx.target.stack(s)}: {aws.stack(ctx, s)['StackStatus']}" for s in (RR, WR)]
    return passed("; ".join(shown), "both stacks *_COMPLETE")


@live
def http_function(ctx) -> Result:
    aws.stack(ctx, RR)
    def fix() -> str:
        return deploy_or_declare(ctx, RR, "PutRideRecordHttp", declared=declared_function(ctx, RR, "PutRideRecordHttp") is not None,
                                 step_id="rename-http-function", declare="Rename the function to PutRideRecordHttp")

    config = _need_function(ctx, RR, "PutRideRecordHttp", fix)
    if config["Handler"] != HTTP_HANDLER:
        return failed(f"handler {config['Handler']}", HTTP_HANDLER,
                      f"Set `handler: {HTTP_HANDLER}` in {RR}/serverless.yml, then {deploy_cmd(RR)}.")
    if function(ctx, RR, "PutRideRecord") is not None:
        return failed("PutRideRecord is still deployed", "PutRideRecord gone",
                      f"Delete PutRideRecord from {RR}/serverless.yml, then {deploy_cmd(RR)}.")
    return passed(f"{config['FunctionName']} -> {HTTP_HANDLER}; PutRideRecord gone", "PutRideRecordHttp only")


@live
def record_route(ctx) -> Result:
    api = aws.physical(ctx, RR, "ApiGatewayRestApi", what="REST API", step_hint="Keep the http event on PutRideRecordHttp,")
    client = ctx.client("apigateway")
    items = client.get_resources(restApiId=api, limit=500)["items"]
    record = next((r for r in items if r.get("path") == "/record"), None)
    if record is None or "POST" not in (record.get("resourceMethods") or {}):
        return failed("the API has no POST /record", "POST /record", f"Keep the http POST /record event, then {deploy_cmd(RR)}.")
    uri = client.get_integration(restApiId=api, resourceId=record["id"], httpMethod="POST").get("uri", "")
    wanted = ctx.target.function(RR, "PutRideRecordHttp")
    target = uri.split(":function:")[-1].split("/")[0] if ":function:" in uri else uri
    if target != wanted:
        return failed(f"POST /record invokes {target or 'nothing'}", f"POST /record invokes {wanted}",
                      f"Keep the http event under PutRideRecordHttp in {RR}/serverless.yml, then {deploy_cmd(RR)}.")
    return passed(f"POST /record -> {wanted}", f"POST /record -> {wanted}")


def parameter(ctx, name: str) -> str | None:
    from botocore.exceptions import ClientError

    def fetch():
        try:
            return ctx.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
        except ClientError as exc:
            if aws.code(exc) == "ParameterNotFound":
                return None
            raise

    return ctx.memo(("ssm", name), fetch)


@live
def record_url_parameter(ctx) -> Result:
    t = ctx.target
    api = aws.physical(ctx, RR, "ApiGatewayRestApi", what="REST API", step_hint="Keep the http event,")
    name = f"/wild-rydes-ride-record/{t.stage}/URL"
    wanted = f"https://{api}.execute-api.{t.region}.amazonaws.com/{t.stage}/record"
    value = parameter(ctx, name)
    if value is None:
        return failed(f"no SSM parameter {name}", wanted, f"Keep RideRecordUrlParameter in {RR}/serverless.yml, then {deploy_cmd(RR)}.")
    if value != wanted:
        return failed(f"{name} = {value}", wanted, f"Restore RideRecordUrlParameter's Value, then {deploy_cmd(RR)}.")
    return passed(f"{name} = {value}", wanted)


def topic_arn(ctx) -> str:
    arn = deployed_resource(ctx, WR, "RidesSnsTopic", what="topic", cfn_type="AWS::SNS::Topic", step_id="add-sns-topic",
                            declare=f"Declare RidesSnsTopic in {WR}/serverless.yml")

    def exists():
        from botocore.exceptions import ClientError

        try:
            ctx.client("sns").get_topic_attributes(TopicArn=arn)
            return True
        except ClientError as exc:
            if aws.code(exc) in ("NotFound", "NotFoundException"):
                return False
            raise

    if not ctx.memo(("topic", arn), exists):
        raise Problem(aws.drift(ctx, WR, "RidesSnsTopic", "the topic"))
    return arn


@live
def topic(ctx) -> Result:
    arn = topic_arn(ctx)
    return passed(f"topic {arn}", "RidesSnsTopic exists")


@live
def topic_arn_parameter(ctx) -> Result:
    arn = topic_arn(ctx)
    name = f"/wild-rydes/{ctx.target.stage}/SnsTopicArn"
    value = parameter(ctx, name)
    if value is None:
        params = aws.of_type(ctx, WR, "AWS::SSM::Parameter")
        declared = [logical for logical, r in params.items() if r.get("PhysicalResourceId") == name]
        if declared:
            return aws.drift(ctx, WR, declared[0], f"the SSM parameter {name}")
        wrong = [p for p in (r.get("PhysicalResourceId") for r in params.values()) if p and "SnsTopicArn" in p]
        if wrong:
            return failed(f"no SSM parameter {name}; your stack's parameter is `{wrong[0]}`", f"{name} = {arn}",
                          f"Your stack's parameter is `{wrong[0]}`: in {WR}/serverless.yml write its "
                          f"`Name: /wild-rydes/${{sls:stage}}/SnsTopicArn`, then {deploy_cmd(WR)}.")
        if declared_resources(ctx, WR, "AWS::SSM::Parameter"):
            fix = f"The SSM parameter is declared in {WR}/serverless.yml but not deployed yet: run {deploy_cmd(WR)}."
        else:
            fix = (f"Add the AWS::SSM::Parameter (Name /wild-rydes/${{sls:stage}}/SnsTopicArn, Value Ref RidesSnsTopic) "
                   f"to {WR}/serverless.yml, then {deploy_cmd(WR)}.")
        return failed(f"the topic exists but there is no SSM parameter {name}", f"{name} = {arn}", fix)
    if value == arn:
        return passed(f"{name} = {value}", arn)
    if value == arn.rsplit(":", 1)[-1]:
        return failed(f"{name} holds the topic's NAME ({value})", f"the topic's ARN {arn}",
                      f"Set the parameter's `Value: {{Ref: RidesSnsTopic}}` in {WR}/serverless.yml (Ref gives a topic's ARN), "
                      f"then {deploy_cmd(WR)}.")
    return failed(f"{name} = {value}", arn, f"Set the parameter's `Value: {{Ref: RidesSnsTopic}}`, then {deploy_cmd(WR)}.")


@live
def sns_function(ctx) -> Result:
    aws.stack(ctx, RR)
    config = need_sns_function(ctx)
    if config["Handler"] != SNS_HANDLER:
        return failed(f"handler {config['Handler']}", SNS_HANDLER, f"Set `handler: {SNS_HANDLER}`, then {deploy_cmd(RR)}.")
    table = aws.physical(ctx, RR, "RideRecordTable", what="table", step_hint="Keep RideRecordTable,")
    env = (config.get("Environment") or {}).get("Variables") or {}
    if env.get("DDB_TABLE_NAME") != table:
        return failed(f"DDB_TABLE_NAME = {env.get('DDB_TABLE_NAME')}", f"DDB_TABLE_NAME = {table}",
                      f"Set PutRideRecordSns's `DDB_TABLE_NAME: {{Ref: RideRecordTable}}`, then {deploy_cmd(RR)}.")
    return passed(f"{config['FunctionName']} -> {SNS_HANDLER}, table {table}", "PutRideRecordSns deployed")


def lambda_subscriptions(ctx, topic: str) -> list[dict]:
    """The topic's lambda subscriptions (listed once per run: the subscription's checks share them)."""
    client = ctx.client("sns")
    return ctx.memo(("lambda-subscriptions", topic), lambda: [
        s for page in client.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
        for s in page["Subscriptions"] if s.get("Protocol") == "lambda"])


def subscription_attributes(ctx, subscription_arn: str) -> dict:
    return ctx.memo(("subscription-attributes", subscription_arn), lambda: ctx.client("sns").get_subscription_attributes(
        SubscriptionArn=subscription_arn)["Attributes"])


@live
def subscription(ctx) -> Result:
    arn = topic_arn(ctx)
    fn = need_sns_function(ctx)
    subs = lambda_subscriptions(ctx, arn)
    mine = [s for s in subs if s["Endpoint"].split(":$LATEST")[0] == fn["FunctionArn"]]
    if not mine:
        declared = aws.of_type(ctx, RR, "AWS::SNS::Subscription")
        others = [s["Endpoint"].rsplit(":", 1)[-1] for s in subs]
        if others:
            return failed(f"the topic delivers to {', '.join(others)}", f"a lambda subscription to {fn['FunctionName']}",
                          f"Move the sns event to PutRideRecordSns in {RR}/serverless.yml, then {deploy_cmd(RR)}.")
        if declared:
            return aws.drift(ctx, RR, next(iter(declared)), "the topic's subscription to PutRideRecordSns")
        return failed("the topic has no lambda subscription", f"a lambda subscription to {fn['FunctionName']}",
                      deploy_or_declare(ctx, RR, "PutRideRecordSns's sns event", declared=_declares_sns_event(ctx),
                                        step_id="subscribe-sns-function", declare="Add the sns event to PutRideRecordSns"))
    attrs = subscription_attributes(ctx, mine[0]["SubscriptionArn"])
    if str(attrs.get("PendingConfirmation", "false")).lower() != "false":
        return failed("the subscription is pending confirmation", "a confirmed subscription",
                      f"Run {aws.recreate_cmd(RR)} so CloudFormation creates it again.")
    return passed(f"lambda subscription -> {fn['FunctionName']}, confirmed", "confirmed lambda subscription")


def _sns_may_invoke(statement: dict, topic: str) -> bool:
    principal = statement.get("Principal")
    service = principal.get("Service") if isinstance(principal, dict) else principal
    actions = statement.get("Action")
    actions = actions if isinstance(actions, list) else [actions]
    if statement.get("Effect") != "Allow" or "sns.amazonaws.com" not in (service if isinstance(service, list) else [service]):
        return False
    if not any(fnmatch.fnmatchcase("lambda:InvokeFunction", str(a)) for a in actions):
        return False
    source = [v for cond in (statement.get("Condition") or {}).values() if isinstance(cond, dict)
              for k, v in cond.items() if k.lower() == "aws:sourcearn"]
    return not source or any(fnmatch.fnmatchcase(topic, str(s)) for s in source)


@live
def sns_invoke_permission(ctx) -> Result:
    from botocore.exceptions import ClientError

    arn = topic_arn(ctx)
    fn = need_sns_function(ctx)
    try:
        policy = json.loads(ctx.client("lambda").get_policy(FunctionName=fn["FunctionName"])["Policy"])
    except ClientError as exc:
        if aws.code(exc) != "ResourceNotFoundException":
            raise
        policy = {"Statement": []}
    if any(_sns_may_invoke(s, arn) for s in policy.get("Statement", [])):
        return passed(f"SNS may invoke {fn['FunctionName']} from {arn}", "lambda:InvokeFunction for sns.amazonaws.com")
    declared = aws.of_type(ctx, RR, "AWS::Lambda::Permission")
    if declared:
        return aws.drift(ctx, RR, next(iter(declared)), "the permission for SNS to invoke PutRideRecordSns")
    if _declares_sns_event(ctx):
        fix = (f"PutRideRecordSns's sns event (the framework adds the permission from it) is declared in {RR}/serverless.yml "
               f"but not deployed yet: run {deploy_cmd(RR)}.")
    else:
        fix = f"Declare the sns event on PutRideRecordSns (the framework adds the permission), then {deploy_cmd(RR)}."
    return failed("PutRideRecordSns's resource policy does not let SNS invoke it", "lambda:InvokeFunction for sns.amazonaws.com", fix)


def _declares_sns_event(ctx) -> bool:
    from workshop.deploy.service_file import ServiceFile

    return bool(ServiceFile.events(declared_function(ctx, RR, "PutRideRecordSns") or {}, "sns"))


@live
def request_ride_env(ctx) -> Result:
    arn = topic_arn(ctx)
    fn = _need_function(ctx, WR, "RequestRide", f"Run {deploy_cmd(WR)}.")
    env = (fn.get("Environment") or {}).get("Variables") or {}
    if env.get("RIDES_SNS_TOPIC_ARN") != arn:
        seen = ("the deployed RequestRide has no RIDES_SNS_TOPIC_ARN in its environment" if "RIDES_SNS_TOPIC_ARN" not in env
                else f"RIDES_SNS_TOPIC_ARN = {env['RIDES_SNS_TOPIC_ARN']}")
        return failed(seen, f"RIDES_SNS_TOPIC_ARN = {arn}",
                      f"Deploy the change of {ctx.step_ref('publish-to-sns')}: {deploy_cmd(WR)}.")
    if "RIDE_RECORD_URL" in env:
        return failed("RequestRide still has RIDE_RECORD_URL", "no RIDE_RECORD_URL",
                      f"Delete RIDE_RECORD_URL from {WR}/serverless.yml, then {deploy_cmd(WR)}.")
    return passed(f"RIDES_SNS_TOPIC_ARN = {arn}; no RIDE_RECORD_URL", "the topic ARN only")
