"""CloudFormation resource types moto skips with only a warning, which the Serverless Framework emits.

Without `AWS::SNS::Subscription` an `sns:` event deploys with no subscription at all. moto finds resource classes
with `CloudFormationModel.__subclasses__()`, so each class here subclasses it directly; its lookup caches are cleared
after they are defined.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

from moto.core.common_models import CloudFormationModel


def _policy(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


class _Added:
    """What the four types share. A mixin, not a base class: moto only sees DIRECT subclasses of CloudFormationModel,
    so each type lists this first and CloudFormationModel second."""

    CFN_TYPE = ""

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.CFN_TYPE

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str,  # type: ignore[override]
                                        cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> Any:
        """An update writes the new properties over the old ones (each type's create is idempotent that way)."""
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)


class SnsSubscription(_Added, CloudFormationModel):
    CFN_TYPE = "AWS::SNS::Subscription"

    def __init__(self, arn: str, topic_arn: str):
        self.arn = arn
        self.topic_arn = topic_arn

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.arn

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    _ATTRIBUTES = ("FilterPolicyScope", "FilterPolicy", "RedrivePolicy", "RawMessageDelivery", "DeliveryPolicy")

    @classmethod
    def _attributes(cls, props: dict[str, Any]) -> dict[str, Any]:
        """The subscription attributes the properties set, as moto keeps them (policies as JSON text, raw delivery as
        a boolean, as its Subscribe stores it); the scope first: the filter policy is read against it."""
        values: dict[str, Any] = {}
        for name in cls._ATTRIBUTES:
            if name in props:
                value = props[name]
                if name == "RawMessageDelivery":
                    values[name] = value if isinstance(value, bool) else str(value).lower() == "true"
                else:
                    values[name] = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        return values

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],  # type: ignore[override]
                                        account_id: str, region_name: str, **kwargs: Any) -> SnsSubscription:
        from moto.sns.models import sns_backends

        from workshop.emulator import sns_redrive

        props = cloudformation_json["Properties"]
        topic_arn = props["TopicArn"]
        backend = sns_backends[account_id][topic_arn.split(":")[3]]
        values = cls._attributes(props)
        if "RedrivePolicy" in values:  # refused before anything is made, as SNS refuses a Subscribe
            sns_redrive.check(values["RedrivePolicy"], at_subscribe=True)
        subscription = backend.subscribe(topic_arn, props["Endpoint"], props["Protocol"])
        try:
            for name, value in values.items():
                backend.set_subscription_attributes(subscription.arn, name, value)
        except Exception:
            backend.unsubscribe(subscription.arn)
            raise
        return cls(subscription.arn, topic_arn)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str,  # type: ignore[override]
                                        cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> Any:
        """The topic, endpoint and protocol replace the subscription (new ARN); the policies and raw delivery are
        updated in place (same ARN, "No interruption" in CloudFormation's reference), and one no longer listed is
        removed."""
        from moto.sns.models import sns_backends

        props = cloudformation_json["Properties"]
        backend = sns_backends[account_id][original_resource.topic_arn.split(":")[3]]
        current = backend.subscriptions.get(original_resource.arn)
        if (current is None or props["TopicArn"] != original_resource.topic_arn or props["Endpoint"] != current.endpoint
                or props["Protocol"] != current.protocol):
            original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        values = cls._attributes(props)
        for name in cls._ATTRIBUTES:
            if name in values:
                backend.set_subscription_attributes(current.arn, name, values[name])
            elif name == "RawMessageDelivery":
                current.attributes[name] = False  # its default, always listed
            elif name in current.attributes:
                backend.set_subscription_attributes(current.arn, name, "")
                current.attributes.pop(name, None)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.sns.models import sns_backends

        sns_backends[account_id][self.topic_arn.split(":")[3]].unsubscribe(self.arn)


class LambdaEventInvokeConfig(_Added, CloudFormationModel):
    CFN_TYPE = "AWS::Lambda::EventInvokeConfig"

    def __init__(self, function_name: str, qualifier: str):
        self.function_name = function_name
        self.qualifier = qualifier

    @property
    def physical_resource_id(self) -> str:
        return f"{self.function_name}:{self.qualifier}"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],  # type: ignore[override]
                                        account_id: str, region_name: str, **kwargs: Any) -> LambdaEventInvokeConfig:
        from moto.awslambda.models import EventInvokeConfig
        from moto.awslambda.utils import get_backend

        props = cloudformation_json["Properties"]
        fn = get_backend(account_id, region_name).get_function(props["FunctionName"])
        config = {k: props[k] for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig") if k in props}
        if "MaximumRetryAttempts" in config:
            config["MaximumRetryAttempts"] = int(config["MaximumRetryAttempts"])
        fn.event_invoke_config = [EventInvokeConfig(fn.function_arn, fn.last_modified, config)]
        return cls(fn.function_name, str(props.get("Qualifier", "$LATEST")))

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.awslambda.utils import get_backend

        try:
            get_backend(account_id, region_name).get_function(self.function_name).event_invoke_config = []
        except Exception:  # noqa: BLE001 - the function may already be gone with the stack
            pass


class S3BucketPolicy(_Added, CloudFormationModel):
    CFN_TYPE = "AWS::S3::BucketPolicy"

    def __init__(self, bucket: str):
        self.bucket = bucket

    @property
    def physical_resource_id(self) -> str:
        return self.bucket

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],  # type: ignore[override]
                                        account_id: str, region_name: str, **kwargs: Any) -> S3BucketPolicy:
        from moto.s3.models import s3_backends

        props = cloudformation_json["Properties"]
        s3_backends[account_id]["aws"].put_bucket_policy(props["Bucket"], _policy(props["PolicyDocument"]).encode())
        return cls(props["Bucket"])

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.s3.models import s3_backends

        try:
            s3_backends[account_id]["aws"].delete_bucket_policy(self.bucket)
        except Exception:  # noqa: BLE001 - the bucket may already be gone with the stack
            pass


class SqsQueuePolicy(_Added, CloudFormationModel):
    CFN_TYPE = "AWS::SQS::QueuePolicy"

    def __init__(self, queues: list[str]):
        self.queues = queues

    @property
    def physical_resource_id(self) -> str:
        return ",".join(self.queues)

    @classmethod
    def _set(cls, account_id: str, region_name: str, queues: list[str], policy: str) -> None:
        from moto.sqs.models import sqs_backends

        for url in queues:
            region = url.split("//")[-1].split(".")[1] if ".amazonaws.com" in url else region_name
            backend = sqs_backends[account_id][region]
            backend.set_queue_attributes(url.rstrip("/").split("/")[-1], {"Policy": policy})

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],  # type: ignore[override]
                                        account_id: str, region_name: str, **kwargs: Any) -> SqsQueuePolicy:
        props = cloudformation_json["Properties"]
        queues = [str(q) for q in props.get("Queues", [])]
        cls._set(account_id, region_name, queues, _policy(props["PolicyDocument"]))
        return cls(queues)

    def delete(self, account_id: str, region_name: str) -> None:
        try:
            self._set(account_id, region_name, self.queues, "")
        except Exception:  # noqa: BLE001 - the queue may already be gone with the stack
            pass


TYPES = (SnsSubscription, LambdaEventInvokeConfig, S3BucketPolicy, SqsQueuePolicy)


def register(parsing: ModuleType) -> None:
    """Make moto's CloudFormation see the classes above (its lookups are cached on first use)."""
    for function in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        function.cache_clear()
