"""IAM policy evaluation for a role's session, as AWS evaluates a same-account request.

Identity policies of the role (inline and attached), its permissions boundary and, for the resources that carry one,
the resource's own policy (SNS topic, SQS queue, S3 bucket). An explicit Deny anywhere wins; otherwise an Allow in an
identity policy or in the resource's policy grants (same account), and the boundary must allow too. Actions match
case-insensitively, resources case-sensitively, `*` and `?` as IAM wildcards. Conditions are evaluated for the keys
the emulator knows (the principal, the region, the account); a key the request does not carry makes a condition
false, as AWS does (true for the negated operators and `...IfExists`).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any

ALLOWED, IMPLICIT_DENY, EXPLICIT_DENY = "allowed", "implicit", "explicit"
ANY_RESOURCE = "\x00any"  # the request's resource could not be determined: any Resource pattern applies


@dataclass(frozen=True)
class Principal:
    """Who calls: an assumed-role session of `role_arn` (a Lambda function's execution role)."""

    account_id: str
    role_arn: str
    session_name: str
    region: str = "us-east-1"

    @property
    def role_name(self) -> str:
        return self.role_arn.rsplit("/", 1)[-1]

    @property
    def arn(self) -> str:
        partition = self.role_arn.split(":")[1] if self.role_arn.startswith("arn:") else "aws"
        return f"arn:{partition}:sts::{self.account_id}:assumed-role/{self.role_name}/{self.session_name}"

    def context(self) -> dict[str, str]:
        return {"aws:principalarn": self.role_arn, "aws:principalaccount": self.account_id,
                "aws:requestedregion": self.region, "aws:userid": self.session_name,
                "aws:principaltype": "AssumedRole"}


@dataclass
class Decision:
    result: str
    checked: list[tuple[str, str]] = field(default_factory=list)  # (action, resource) of the failing pair

    @property
    def allowed(self) -> bool:
        return self.result == ALLOWED


@functools.lru_cache(maxsize=4096)
def _pattern(text: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in text)
    return re.compile(f"^{body}$", re.S | (re.I if ignore_case else 0))


def listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _matches(patterns: list[str], value: str, ignore_case: bool) -> bool:
    if value == ANY_RESOURCE:
        return True
    return any(_pattern(p, ignore_case).match(value) for p in patterns)


def arn_matches(patterns: list[str], value: str) -> bool:
    """AWS's ArnEquals / ArnLike (the two behave the same): each of the six colon-separated parts of the ARN is
    compared with the pattern's part, case-sensitively, `*` and `?` as wildcards WITHIN that part (a wildcard never
    spans a colon between parts, so a pattern with fewer than six parts matches nothing)."""
    actual = value.split(":", 5)
    if len(actual) != 6:
        return False
    for pattern in patterns:
        wanted = pattern.split(":", 5)
        if len(wanted) == 6 and all(_pattern(w, False).match(a) for w, a in zip(wanted, actual, strict=True)):
            return True
    return False


@functools.lru_cache(maxsize=1024)
def _statements(document: str) -> tuple[dict[str, Any], ...]:
    try:
        parsed = json.loads(document)
    except ValueError:
        return ()
    statements = parsed.get("Statement", []) if isinstance(parsed, dict) else []
    statements = [statements] if isinstance(statements, dict) else statements
    return tuple(s for s in statements if isinstance(s, dict))


def statements_of(document: Any) -> tuple[dict[str, Any], ...]:
    if document is None or document == "":
        return ()
    if isinstance(document, bytes):
        document = document.decode("utf-8", "replace")
    if not isinstance(document, str):
        document = json.dumps(document, sort_keys=True)
    return _statements(document)


_NEGATED = ("StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike", "NotIpAddress", "NumericNotEquals")


def _condition_holds(operator: str, key: str, wanted: Any, context: dict[str, str]) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator[:-len("IfExists")] if if_exists else operator
    for prefix in ("ForAnyValue:", "ForAllValues:"):
        base = base.removeprefix(prefix)
    actual = context.get(key.lower())
    if base == "Null":
        return (actual is None) == (str(listed(wanted)[0]).lower() == "true")
    if actual is None:
        return if_exists or base in _NEGATED
    values = listed(wanted)
    if base in ("ArnEquals", "ArnLike"):
        return arn_matches(values, actual)
    if base in ("ArnNotEquals", "ArnNotLike"):
        return not arn_matches(values, actual)
    if base == "StringEquals":
        return actual in values
    if base == "StringEqualsIgnoreCase":
        return actual.lower() in (v.lower() for v in values)
    if base == "StringLike":
        return _matches(values, actual, False)
    if base == "StringNotEquals":
        return actual not in values
    if base == "StringNotLike":
        return not _matches(values, actual, False)
    if base == "Bool":
        return actual.lower() in (v.lower() for v in values)
    return False  # an operator the emulator does not evaluate: the statement does not apply


def applies(statement: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> bool:
    if "NotAction" in statement:
        if _matches(listed(statement["NotAction"]), action, True):
            return False
    elif not _matches(listed(statement.get("Action")), action, True):
        return False
    if "NotResource" in statement:
        if resource != ANY_RESOURCE and _matches(listed(statement["NotResource"]), resource, False):
            return False
    elif "Resource" in statement and not _matches(listed(statement["Resource"]), resource, False):
        return False
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, wanted in (keys or {}).items():
            if not _condition_holds(str(operator), str(key), wanted, context):
                return False
    return True


def _principal_matches(statement: dict[str, Any], principal: Principal) -> bool:
    """Whether a resource policy's Principal names this session (or everyone, or its account)."""
    named = statement.get("Principal")
    if named == "*":
        return True
    if not isinstance(named, dict):
        return False
    aws = listed(named.get("AWS"))
    account_root = f"arn:aws:iam::{principal.account_id}:root"
    return any(p in ("*", principal.role_arn, principal.arn, principal.account_id, account_root) for p in aws)


def _verdict(statements: Any, action: str, resource: str, context: dict, principal: Principal | None = None) -> str:
    """One policy set's answer: EXPLICIT_DENY when a statement that applies denies, ALLOWED when one allows, else
    IMPLICIT_DENY. With `principal` (a resource policy), only statements naming it apply."""
    allowed = False
    for statement in statements:
        if (principal is None or _principal_matches(statement, principal)) and applies(statement, action, resource, context):
            if statement.get("Effect") == "Deny":
                return EXPLICIT_DENY
            allowed = allowed or statement.get("Effect") == "Allow"
    return ALLOWED if allowed else IMPLICIT_DENY


def evaluate(documents: list[Any], boundary: list[Any] | None, resource_policy: Any, principal: Principal,
             action: str, resource: str) -> str:
    """ALLOWED, IMPLICIT_DENY or EXPLICIT_DENY for one action on one resource."""
    context = principal.context()
    identity = _verdict((st for document in documents for st in statements_of(document)), action, resource, context)
    if identity == EXPLICIT_DENY:
        return EXPLICIT_DENY
    by_resource = _verdict(statements_of(resource_policy), action, resource, context, principal)
    if by_resource != IMPLICIT_DENY:
        return by_resource  # an explicit deny, or an allow that no permissions boundary limits
    if identity == ALLOWED and boundary is not None:
        return _verdict((st for document in boundary for st in statements_of(document)), action, resource, context)
    return identity
