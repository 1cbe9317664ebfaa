"""moto's LambdaFunction, made to run code locally and to keep its DeadLetterConfig.

Stock moto runs functions in Docker and drops DeadLetterConfig (from CreateFunction and from CloudFormation).
"""

from __future__ import annotations

import base64
import functools
import json
from types import ModuleType
from typing import Any

from workshop.emulator import async_invoke, iam_enforce, lambda_run


def _dead_letter(value: Any) -> dict[str, str] | None:
    """A DeadLetterConfig as AWS reports it, or None when unset or cleared with an empty TargetArn."""
    if isinstance(value, dict) and value.get("TargetArn"):
        return {"TargetArn": str(value["TargetArn"])}
    return None


DLQ_SERVICES = {"sqs": ("sqs:SendMessage", "SendMessage on SQS"), "sns": ("sns:Publish", "Publish on SNS")}


def dead_letter_refusal(account_id: str, region: str, role_arn: str, config: Any) -> str | None:
    """AWS's message when the execution role cannot send to the dead letter target, else None."""
    target = (_dead_letter(config) or {}).get("TargetArn")
    if not target:
        return None
    service = target.split(":")[2] if target.count(":") >= 5 else ""
    action, words = DLQ_SERVICES.get(service, (None, None))
    if action is None or iam_enforce.allowed(account_id, region, role_arn, action, target):
        return None
    return f"The provided execution role does not have permissions to call {words}"


# Runtimes AWS no longer accepts for new functions or updates (Lambda's deprecation schedule, creation blocked).
BLOCKED_RUNTIMES = frozenset({"python2.7", "python3.6", "python3.7", "python3.8"})


def _check_runtime(runtime: Any) -> None:
    if str(runtime) in BLOCKED_RUNTIMES:
        from moto.awslambda.exceptions import InvalidParameterValueException

        raise InvalidParameterValueException(
            f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda functions. "
            "We recommend you use a supported runtime while creating or updating functions.")


def _check_dead_letter(account_id: str, region: str, role_arn: str, config: Any) -> None:
    refusal = dead_letter_refusal(account_id, region, role_arn, config)
    if refusal:
        from moto.awslambda.exceptions import InvalidParameterValueException

        raise InvalidParameterValueException(refusal)


def patch(models: ModuleType) -> None:
    cls = models.LambdaFunction
    original_init = cls.__init__
    original_configuration = cls.get_configuration
    original_update = cls.update_configuration
    original_create_cfn = cls.create_from_cloudformation_json.__func__
    original_update_cfn = cls.update_from_cloudformation_json.__func__

    @functools.wraps(original_init)
    def __init__(self: Any, account_id: str, spec: dict[str, Any], region: str, version: Any = 1) -> None:
        _check_runtime(spec.get("Runtime"))
        _check_dead_letter(account_id, region, str(spec.get("Role", "")), spec.get("DeadLetterConfig"))
        original_init(self, account_id, spec, region, version)
        self.dead_letter_config = _dead_letter(spec.get("DeadLetterConfig"))

    @functools.wraps(original_configuration)
    def get_configuration(self: Any, on_create: bool = False) -> dict[str, Any]:
        config = original_configuration(self, on_create)
        if getattr(self, "dead_letter_config", None):
            config["DeadLetterConfig"] = dict(self.dead_letter_config)
        return config

    @functools.wraps(original_update)
    def update_configuration(self: Any, updates: dict[str, Any]) -> dict[str, Any]:
        if "Runtime" in updates:
            _check_runtime(updates["Runtime"])
        if "DeadLetterConfig" in updates or "Role" in updates:
            config = updates.get("DeadLetterConfig", self.dead_letter_config)
            _check_dead_letter(self.account_id, self.region, str(updates.get("Role") or self.role), config)
        if "DeadLetterConfig" in updates:
            self.dead_letter_config = _dead_letter(updates["DeadLetterConfig"])
        return original_update(self, updates)

    def create_from_cloudformation_json(cls_: Any, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        props = cloudformation_json.get("Properties", {})
        _check_dead_letter(account_id, region_name, str(props.get("Role", "")), props.get("DeadLetterConfig"))
        fn = original_create_cfn(cls_, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        fn.dead_letter_config = _dead_letter(cloudformation_json.get("Properties", {}).get("DeadLetterConfig"))
        return fn

    def update_from_cloudformation_json(cls_: Any, original: Any, new_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str) -> Any:
        props = cloudformation_json.get("Properties", {})
        _check_dead_letter(account_id, region_name, str(props.get("Role", "")), props.get("DeadLetterConfig"))
        fn = original_update_cfn(cls_, original, new_name, cloudformation_json, account_id, region_name)
        fn.dead_letter_config = _dead_letter(cloudformation_json.get("Properties", {}).get("DeadLetterConfig"))
        return fn

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        result = lambda_run.run(self, event)
        return result.payload, result.errored, result.log_text

    def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> str | bytes:
        invocation_type = request_headers.get("x-amz-invocation-type", "RequestResponse")
        if invocation_type == "DryRun":
            return ""
        if invocation_type == "Event":
            event = json.loads(body) if body else {}
            async_invoke.submit(self.account_id, self.region, self.function_name, event)
            return ""
        result = lambda_run.run(self, body)
        if result.errored:
            response_headers["x-amz-function-error"] = "Unhandled"
        tail = result.log_text.encode("utf-8")[-4096:]
        response_headers["x-amz-log-result"] = base64.b64encode(tail).decode("ascii")
        response_headers["x-amz-executed-version"] = "$LATEST"
        return result.payload.encode("utf-8")

    cls.__init__ = __init__
    cls.get_configuration = get_configuration
    cls.update_configuration = update_configuration
    cls.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)
    cls.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)
    cls._invoke_lambda = _invoke_lambda
    cls.invoke = invoke
