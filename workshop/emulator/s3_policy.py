"""Bucket policies as AWS applies them to the emulator's requests.

The Serverless Framework's deployment bucket denies `aws:SecureTransport: false`. AWS's S3 endpoint is HTTPS, so that
statement never applies; moto cannot evaluate the condition and denies every upload (HTTP 403). Statements whose only
condition is plain-HTTP transport are left out when moto checks a request; the stored policy is unchanged.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any


def _plain_http_only(statement: dict[str, Any]) -> bool:
    condition = statement.get("Condition") or {}
    keys = {key.lower() for operator in condition.values() if isinstance(operator, dict) for key in operator}
    return bool(keys) and keys == {"aws:securetransport"}


def effective_policy(policy: str) -> str | None:
    """The policy without its plain-HTTP statements (None when nothing remains)."""
    document = json.loads(policy)
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    kept = [s for s in statements if not _plain_http_only(s)]
    return json.dumps({**document, "Statement": kept}) if kept else None


def patch(models: ModuleType) -> None:
    def get_permission(self: Any, action: str, resource: str) -> Any:
        from moto.iam.access_control import IAMPolicy, PermissionResult

        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = effective_policy(self.policy.decode())
        if policy is None:
            return PermissionResult.NEUTRAL
        return IAMPolicy(policy).is_action_permitted(action, resource)

    models.FakeBucket.get_permission = get_permission
