"""Which gap-filling module patches which moto module (applied when moto first imports it)."""

from __future__ import annotations

from types import ModuleType

from workshop.emulator.hooks import after_import


def _lambda(module: ModuleType) -> None:
    from workshop.emulator import lambda_patch

    lambda_patch.patch(module)


def _sns(module: ModuleType) -> None:
    from workshop.emulator import sns_delivery, sns_redrive

    sns_delivery.patch(module)
    sns_redrive.patch_models(module)


def _sns_responses(module: ModuleType) -> None:
    from workshop.emulator import sns_redrive

    sns_redrive.patch_responses(module)


def _cfn_parsing(module: ModuleType) -> None:
    from workshop.emulator import cfn_types

    cfn_types.register(module)


def _cfn_models(module: ModuleType) -> None:
    from workshop.emulator import cfn_failures, cfn_fixes

    cfn_fixes.patch_stacks(module)
    cfn_failures.patch_stacks(module)


def _apigateway(module: ModuleType) -> None:
    from workshop.emulator import apigw_methods, cfn_fixes

    cfn_fixes.patch_rest_api(module)
    apigw_methods.patch(module)


def _s3(module: ModuleType) -> None:
    from workshop.emulator import s3_policy

    s3_policy.patch(module)


def _cfn_updates(module: ModuleType) -> None:
    from workshop.emulator import cfn_updates

    getattr(cfn_updates, _UPDATE_PATCHES[module.__name__])(module)


_UPDATE_PATCHES = {"moto.cloudformation.parsing": "patch_parsing", "moto.apigateway.models": "patch_apigateway",
                   "moto.iam.models": "patch_iam", "moto.logs.models": "patch_logs", "moto.sns.models": "patch_sns",
                   "moto.dynamodb.models": "patch_dynamodb", "moto.sqs.models": "patch_sqs"}


def install() -> None:
    """Register every patch; each runs when moto imports its module."""
    after_import("moto.awslambda.models", _lambda)
    after_import("moto.sns.models", _sns)
    after_import("moto.sns.responses", _sns_responses)
    after_import("moto.cloudformation.parsing", _cfn_parsing)
    after_import("moto.cloudformation.models", _cfn_models)
    after_import("moto.apigateway.models", _apigateway)
    after_import("moto.s3.models", _s3)
    for name in _UPDATE_PATCHES:  # after the create-time patches above: stack updates call the patched creates
        after_import(name, _cfn_updates)
    after_import("moto.cloudformation.parsing", _cfn_failures)  # last: wraps the update patch too
    after_import("moto.logs.models", _logs_limits)


def _logs_limits(module: ModuleType) -> None:
    from workshop.emulator import logs_limits

    logs_limits.patch(module)


def _cfn_failures(module: ModuleType) -> None:
    from workshop.emulator import cfn_failures

    cfn_failures.patch_parsing(module)
