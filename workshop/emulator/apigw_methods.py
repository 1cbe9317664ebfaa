"""API Gateway methods without an upstream (MOCK integrations, e.g. the OPTIONS method `cors: true` adds).

moto's CloudFormation support for AWS::ApiGateway::Method reads `IntegrationHttpMethod` and `Uri` unconditionally,
so a MOCK integration (which has neither) fails the whole stack. Fill in what AWS itself leaves empty.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any


def patch(models: ModuleType) -> None:
    method_cls = models.Method
    original = method_cls.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        properties = cloudformation_json.get("Properties", {})
        integration = properties.get("Integration")
        if isinstance(integration, dict):
            integration = dict(integration)
            integration.setdefault("IntegrationHttpMethod", properties.get("HttpMethod", "POST"))
            integration.setdefault("Uri", None)
            cloudformation_json = {**cloudformation_json, "Properties": {**properties, "Integration": integration}}
        return original(cls, resource_name, cloudformation_json, *args, **kwargs)

    method_cls.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)
