"""Resource properties checked as CloudFormation and the services check them, before a resource is made or changed.

Generally: every resource's resolved properties are validated against CloudFormation's published resource schema
for its region (the ones cfn-lint ships): required properties, string lengths, patterns, enumerations, number ranges,
item counts, nested definitions. Where a service refuses more than its schema says (an SSM parameter name with `$`,
an SNS topic name with `.`), the service's own rule is applied with the service's wording. A failure is reported
the way CloudFormation reports it in the stack's events, so the stack fails with AWS's words.

Also: physical names that CloudFormation generates (`<stack>-<logical id>-<SUFFIX>`, shortened to the type's limit,
lower case for buckets), where moto kept the whole logical id and ignored the limit.
"""

from __future__ import annotations

import functools
import json
import random
import re
import string
from pathlib import Path
from typing import Any

from workshop.emulator.cfn_errors import ResourceFailure, handler_message

_SCHEMAS: Path | None = None


def _schema_dir() -> Path | None:
    global _SCHEMAS
    if _SCHEMAS is None:
        import importlib.util

        spec = importlib.util.find_spec("cfnlint")
        if spec is None or spec.origin is None:
            return None
        _SCHEMAS = Path(spec.origin).parent / "data" / "schemas"
    return _SCHEMAS


@functools.lru_cache(maxsize=32)
def _providers(region: str) -> dict[str, str]:
    folder = _schema_dir()
    if folder is None:
        return {}
    path = folder / "providers" / f"{region}.json"
    if not path.exists():
        path = folder / "providers" / "us-east-1.json"
    return json.loads(path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=256)
def schema(resource_type: str, region: str = "us-east-1") -> dict[str, Any] | None:
    """CloudFormation's resource provider schema of `resource_type` in `region` (None when unknown)."""
    digest = _providers(region).get(resource_type)
    folder = _schema_dir()
    if not digest or folder is None:
        return None
    path = folder / "resources" / f"{digest}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


@functools.lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


class _Invalid(Exception):
    def __init__(self, message: str, properties_validation: bool = False):
        super().__init__(message)
        self.message = message
        self.properties_validation = properties_validation


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 20:
        ref = str(node["$ref"])
        if not ref.startswith("#/"):
            return {}
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node, seen = target, seen + 1
    return node if isinstance(node, dict) else {}


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _check(value: Any, node: dict[str, Any], root: dict[str, Any], path: str, member: str) -> None:
    node = _resolve(node, root)
    if not node or value is None:
        return
    kind = node.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if isinstance(value, str) and ("string" in kinds or kind is None):
        if "enum" in node and value not in node["enum"]:
            raise _Invalid(f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
                           f"Member must satisfy enum value set: [{', '.join(map(str, node['enum']))}]")
        if "maxLength" in node and len(value) > int(node["maxLength"]):
            raise _Invalid(f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
                           f"Member must have length less than or equal to {node['maxLength']}")
        if "minLength" in node and len(value) < int(node["minLength"]):
            raise _Invalid(f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
                           f"Member must have length greater than or equal to {node['minLength']}")
        compiled = _regex(str(node["pattern"])) if "pattern" in node else None
        if compiled is not None and not compiled.search(value):
            raise _Invalid(f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
                           f"Member must satisfy regular expression pattern: {node['pattern']}")
        return
    if ("integer" in kinds or "number" in kinds) and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            number = float(value)
        except ValueError:
            raise _Invalid(f"{path}: expected type: Number, found: String", True) from None
        if "minimum" in node and number < float(node["minimum"]):
            raise _Invalid(f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
                           f"Member must have value greater than or equal to {node['minimum']}")
        if "maximum" in node and number > float(node["maximum"]):
            raise _Invalid(f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
                           f"Member must have value less than or equal to {node['maximum']}")
        return
    if isinstance(value, list) and ("array" in kinds or kind is None):
        if "maxItems" in node and len(value) > int(node["maxItems"]):
            raise _Invalid(f"1 validation error detected: Value at '{member}' failed to satisfy constraint: "
                           f"Member must have length less than or equal to {node['maxItems']}")
        if "minItems" in node and len(value) < int(node["minItems"]):
            raise _Invalid(f"{path}: expected minimum item count: {node['minItems']}, found: {len(value)}", True)
        items = node.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                _check(item, items, root, f"{path}/{index}", f"{member}.{index + 1}.member")
        return
    if isinstance(value, dict) and ("object" in kinds or "properties" in node):
        _check_object(value, node, root, path, member)


def _check_object(value: dict[str, Any], node: dict[str, Any], root: dict[str, Any], path: str, member: str) -> None:
    for name in node.get("required", []) or []:
        if name not in value:
            raise _Invalid(f"{path or '#'}: required key [{name}] not found", True)
    properties = node.get("properties") or {}
    for name, item in value.items():
        if name in properties:
            inner = f"{member}.{_camel(name)}" if member else _camel(name)
            _check(item, properties[name], root, f"{path or '#'}/{name}", inner)


# Rules a service applies that its CloudFormation schema does not carry, with the service's own words.
_SSM_NAME = re.compile(r"^[a-zA-Z0-9_.\-/]+$")
_SSM_MESSAGE = ("Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). If formed as a path, it "
                "can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, "
                "numbers and the following 3 symbols .-_")
_SERVICE_RULES: dict[tuple[str, str], tuple[re.Pattern[str], str]] = {
    ("AWS::SSM::Parameter", "Name"): (_SSM_NAME, _SSM_MESSAGE),
    ("AWS::SNS::Topic", "TopicName"): (re.compile(r"^[A-Za-z0-9_-]{1,256}(\.fifo)?$"), "Invalid parameter: Topic Name"),
    ("AWS::SQS::Queue", "QueueName"): (re.compile(r"^[A-Za-z0-9_-]{1,80}$|^[A-Za-z0-9_-]{1,75}\.fifo$"),
                                       "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"),
    ("AWS::DynamoDB::Table", "TableName"): (
        re.compile(r"^[a-zA-Z0-9_.-]{3,255}$"),
        "1 validation error detected: Value '{value}' at 'tableName' failed to satisfy constraint: Member must satisfy "
        "regular expression pattern: [a-zA-Z0-9_.-]+"),
}


def _service_rules(resource_type: str, props: dict[str, Any]) -> None:
    for (kind, name), (pattern, words) in _SERVICE_RULES.items():
        value = props.get(name)
        if kind != resource_type or not isinstance(value, str):
            continue
        if not pattern.match(value) or (kind == "AWS::SSM::Parameter" and re.match(r"^/?(aws|ssm)", value, re.I)):
            if kind == "AWS::DynamoDB::Table" and len(value) < 3:
                words = (f"1 validation error detected: Value '{value}' at 'tableName' failed to satisfy constraint: "
                         "Member must have length greater than or equal to 3")
            raise _Invalid(words.replace("{value}", value))


def validate(logical_id: str, resource_type: str, props: Any, region: str) -> None:
    """Raise ResourceFailure with CloudFormation's reason when the resolved `props` break the type's rules."""
    if not isinstance(props, dict):
        return
    found = schema(resource_type, region)
    try:
        if found is not None:
            _check_object(props, found, found, "", "")
        _service_rules(resource_type, props)
    except _Invalid as invalid:
        if invalid.properties_validation:
            reason = f"Properties validation failed for resource {logical_id} with message: [{invalid.message}]"
        else:
            reason = handler_message(resource_type, invalid.message)
        raise ResourceFailure(logical_id, resource_type, reason) from None


# ---- generated names ------------------------------------------------------------------------------------------

_NAME_LIMITS = {"AWS::S3::Bucket": 63, "AWS::IAM::Role": 64, "AWS::Lambda::Function": 64, "AWS::SQS::Queue": 80,
                "AWS::SNS::Topic": 256, "AWS::DynamoDB::Table": 255, "AWS::IAM::ManagedPolicy": 128,
                "AWS::Logs::LogGroup": 512, "AWS::IAM::InstanceProfile": 128, "AWS::Events::Rule": 64,
                "AWS::StepFunctions::StateMachine": 80, "AWS::ElasticLoadBalancingV2::TargetGroup": 32,
                "AWS::ElasticLoadBalancingV2::LoadBalancer": 32}


def generated_name(resource_type: str, stack_name: str, logical_id: str) -> str:
    """A physical name as CloudFormation makes one: `<stack>-<logical id>-<13 random>`, the first two parts shortened
    (the longer one first) to the type's limit; lower case for S3 buckets."""
    if resource_type == "AWS::IAM::Policy":  # an inline policy's generated name is short
        return f"{stack_name[:5]}-{logical_id[:4]}-{''.join(random.choices(string.ascii_uppercase, k=12))}"  # noqa: S311
    limit = _NAME_LIMITS.get(resource_type, 255)
    lower = resource_type == "AWS::S3::Bucket"
    alphabet = string.ascii_lowercase + string.digits if lower else string.ascii_uppercase + string.digits
    suffix = "".join(random.choices(alphabet, k=12 if lower else 13))  # noqa: S311 - a name, not a secret
    stack, logical = stack_name, logical_id
    room = limit - len(suffix) - 2
    while len(stack) + len(logical) > room and (stack or logical):
        if len(logical) >= len(stack):
            logical = logical[:-1]
        else:
            stack = stack[:-1]
    name = "-".join(part for part in (stack.rstrip("-"), logical, suffix) if part)
    return name.lower() if lower else name
