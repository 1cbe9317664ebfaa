"""Stack UPDATES (the Serverless Framework redeploys through change sets), made to apply what the new template says.

moto applies a modified resource with its class's `update_from_cloudformation_json`; where a class has none,
`parse_and_update_resource` returns None, the stack forgets the resource and the old one stays as it was (e.g. an
API method still calling a deleted function). Where one exists it may ignore properties (a role's inline policies).
Here: types without an update are replaced (or updated in place where a replacement would lose state), the
incomplete updates are completed, and a failed update is logged instead of vanishing in moto's retry loop.
"""

from __future__ import annotations

import json
import logging
import re
from types import ModuleType
from typing import Any

log = logging.getLogger("workshop.emulator")


def _delete(resource: Any, cls: Any, resource_json: dict[str, Any], account_id: str, region_name: str) -> None:
    """Delete a replaced resource as moto's ResourceMap._delete_resource does (instance first, then the class)."""
    try:
        resource.delete(account_id, region_name)
    except (TypeError, AttributeError):
        if not hasattr(cls.delete_from_cloudformation_json, "__isabstractmethod__"):
            cls.delete_from_cloudformation_json(getattr(resource, "physical_resource_id", None), resource_json,
                                                account_id, region_name)


def _replace(cls: Any, original: Any, logical_id: str, name: str, resource_json: dict[str, Any],
             account_id: str, region_name: str) -> Any:
    """CloudFormation's replacement: create the new resource, then delete the old one.

    When both share a physical id (a fixed name), the old one goes first: deleting it afterwards would delete the new one.
    """
    old_id = getattr(original, "physical_resource_id", None) if original is not None else None
    name_property = cls.cloudformation_name_type() if hasattr(cls, "cloudformation_name_type") else ""
    same_name = bool(name_property) and resource_json.get("Properties", {}).get(name_property) == old_id
    if original is not None and same_name:
        _delete(original, cls, resource_json, account_id, region_name)
    kwargs = {"LogicalId": logical_id, "ResourceType": resource_json["Type"]}
    new = cls.create_from_cloudformation_json(name, resource_json, account_id, region_name, **kwargs)
    if original is not None and not same_name and original is not new:
        try:
            _delete(original, cls, resource_json, account_id, region_name)
        except Exception:  # noqa: BLE001 - the new resource exists; a leftover old one is only clutter
            log.warning("replaced %s but could not delete the old one", logical_id, exc_info=True)
    return new


def _references(value: Any) -> set[str]:
    """The logical ids a resource's JSON points at (Ref, Fn::GetAtt, Fn::Sub's ${Name}, DependsOn)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                target = item[0] if isinstance(item, list) else str(item).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                found.update(name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", str(text)))
            if key == "DependsOn":
                found.update([item] if isinstance(item, str) else item)
            found |= _references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def _dependency_order(names: list[str], resources: dict[str, Any]) -> list[str]:
    """`names` with each one after the names it references, as CloudFormation orders an update.

    moto updates in template order, so a function could read a topic's ARN before the topic was replaced.
    """
    pending, ordered = set(names), []

    def visit(name: str, path: set[str]) -> None:
        if name not in pending or name in path:  # a cycle is invalid in CloudFormation; keep template order then
            return
        for dependency in sorted(_references(resources.get(name, {})) & pending):
            visit(dependency, path | {name})
        if name in pending:
            pending.discard(name)
            ordered.append(name)

    for name in names:
        visit(name, set())
    return ordered


def _clean_up(resource_map: Any, removed: list[tuple[str, dict[str, Any]]]) -> None:
    """Delete the resources an update removed (those that reference others first), and forget them."""
    pending = [(name, json_) for name, json_ in removed if name not in resource_map._resource_json_map]
    for _attempt in range(3):  # a resource others still use is deleted on a later pass
        left = []
        for name, resource_json in reversed(pending):
            resource = resource_map._parsed_resources.get(name)
            if resource is None or resource_json.get("DeletionPolicy") == "Retain":
                resource_map._parsed_resources.pop(name, None)
                continue
            try:
                resource_map._delete_resource(resource, resource_json)
            except Exception:  # noqa: BLE001 - retried; CloudFormation reports DELETE_FAILED and completes the update
                left.append((name, resource_json))
                continue
            resource_map._parsed_resources.pop(name, None)
        pending = list(reversed(left))
        if not pending:
            return
    for name, _json in pending:
        log.warning("update cleanup could not delete %s; it is no longer part of the stack", name)
        resource_map._parsed_resources.pop(name, None)


def patch_parsing(parsing: ModuleType) -> None:
    """Every modified resource ends up updated or replaced; none is left as None in the stack's resources."""
    original_update = parsing.ResourceMap.update

    def parse_and_update_resource(logical_id: str, resource_json: dict[str, Any], resources_map: Any,
                                  account_id: str, region_name: str) -> Any:
        parsed = parsing.parse_resource_and_generate_name(logical_id, resource_json, resources_map)
        if not parsed:  # a type moto does not know: nothing was created, nothing to update
            return None
        cls, resource_json, name = parsed
        original = resources_map[logical_id]
        try:
            if original is None or hasattr(cls.update_from_cloudformation_json, "__isabstractmethod__"):
                new = _replace(cls, original, logical_id, name, resource_json, account_id, region_name)
            else:
                # positional, as the project's wrappers (lambda_patch) name their parameters differently from moto
                new = cls.update_from_cloudformation_json(original, name, resource_json, account_id, region_name)
        except Exception as exc:
            # moto retries (a dependency may not be updated yet) and only raises the last error: say what failed
            log.warning("update of %s (%s) failed: %r", logical_id, resource_json["Type"], exc)
            raise
        new.cf_resource_type = resource_json["Type"]
        new.logical_resource_id = logical_id
        return new

    original_diff = parsing.ResourceMap.build_resource_diff

    def build_resource_diff(self: Any, other_template: dict[str, Any],
                            parameters: dict[str, Any] | None = None) -> dict[str, Any]:
        # moto adds `"Properties": {}` to a resource written without any when it creates it, so the stored template no
        # longer equals the same resource in the next one: it was "modified" (a topic was replaced, its ARN changed)
        for resources in (self._resource_json_map, other_template.get("Resources", {})):
            for resource in resources.values():
                if isinstance(resource, dict):
                    resource.setdefault("Properties", {})
        diff = original_diff(self, other_template, parameters)
        resources = other_template.get("Resources", {})
        diff["Modify"] = _dependency_order(diff["Modify"], resources)
        if getattr(self, "_workshop_updating", False):
            # moto creates added resources before it updates modified ones: a new Lambda::Version would publish the
            # function's old code and environment. Added resources that read a modified one wait for its update
            # (unless a modified one reads them in turn); `update` below creates them.
            modified = set(diff["Modify"])
            needed = set().union(*(_references(resources[name]) for name in modified)) if modified else set()
            self._workshop_deferred = [name for name in diff["Add"]
                                       if _references(resources[name]) & modified and name not in needed]
            diff["Add"] = [name for name in diff["Add"] if name not in self._workshop_deferred]
            # CloudFormation deletes removed resources last (cleanup), after every addition and change succeeded;
            # moto deleted them first and kept them listed, so a re-added one was "found" with no queue behind it
            self._workshop_removed = [(name, self._resource_json_map[name]) for name in diff["Remove"]]
            diff["Remove"] = []
        return diff

    def update(self: Any, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
        self._workshop_updating, self._workshop_deferred, self._workshop_removed = True, [], []
        try:
            original_update(self, template, parameters)
        finally:
            self._workshop_updating = False
        for logical_id in _dependency_order(self._workshop_deferred, self._resource_json_map):
            _ = self[logical_id]  # moto's lazy map creates a resource on first access
        _clean_up(self, self._workshop_removed)
        # an unsupported type's update returns None, which moto stores; a missing entry is what a create leaves
        for logical_id in list(self._resource_json_map):
            if logical_id in self._parsed_resources and self._parsed_resources[logical_id] is None:
                del self._parsed_resources[logical_id]

    parsing.parse_and_update_resource = parse_and_update_resource
    parsing.ResourceMap.update = update
    parsing.ResourceMap.build_resource_diff = build_resource_diff


def patch_apigateway(models: ModuleType) -> None:
    """A method is rewritten in place (same resource and verb); a REST API keeps its id, resources and stages."""

    def method_update(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
                      account_id: str, region_name: str) -> Any:
        props = cloudformation_json["Properties"]
        backend = models.apigateway_backends[account_id][region_name]
        old_verb = getattr(original_resource, "http_method", None)
        # put_method + put_integration (in the create) overwrite; a changed verb or resource leaves the old to remove
        for api in backend.apis.values():
            for resource in api.resources.values():
                if resource.resource_methods.get(old_verb) is original_resource and not (
                        api.id == props["RestApiId"] and resource.id == props["ResourceId"] and old_verb == props["HttpMethod"]):
                    resource.delete_method(old_verb)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    def rest_api_update(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
                        account_id: str, region_name: str) -> Any:
        props = cloudformation_json["Properties"]
        original_resource.name = props.get("Name", original_resource.name)
        original_resource.description = props.get("Description", "")
        if "Policy" in props:
            policy = props["Policy"]
            original_resource.policy = policy if isinstance(policy, str) else json.dumps(policy)
        return original_resource

    models.Method.update_from_cloudformation_json = classmethod(method_update)
    models.RestAPI.update_from_cloudformation_json = classmethod(rest_api_update)


def patch_iam(models: ModuleType) -> None:
    """moto's role update only sets the description: apply the inline policies, trust policy and managed policies."""

    def role_update(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
                    account_id: str, region_name: str) -> Any:
        props = cloudformation_json["Properties"]
        if props.get("RoleName", original_resource.name) != original_resource.name:  # a new name is a new role
            return _replace(cls, original_resource, original_resource.logical_resource_id, props["RoleName"],
                            cloudformation_json, account_id, region_name)
        backend = models.iam_backends[account_id][models.get_partition(region_name)]
        role = original_resource
        trust = props.get("AssumeRolePolicyDocument")
        if trust is not None:
            role.assume_role_policy_document = trust if isinstance(trust, str) else json.dumps(trust)
        role.description = props.get("Description", "")
        role.max_session_duration = props.get("MaxSessionDuration", 3600)
        role.policies.clear()  # the template lists every inline policy: those it no longer lists are removed
        for policy in props.get("Policies", []):
            role.put_policy(policy["PolicyName"], policy["PolicyDocument"])
        wanted = set(props.get("ManagedPolicyArns", []))
        for arn in set(role.managed_policies) - wanted:
            backend.detach_role_policy(arn, role.name)
        for arn in wanted - set(role.managed_policies):
            backend.attach_role_policy(arn, role.name)
        return role

    models.Role.update_from_cloudformation_json = classmethod(role_update)


def patch_logs(models: ModuleType) -> None:
    """A log group with the same name keeps its streams (only its retention changes); a new name replaces it."""

    def log_group_update(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
                         account_id: str, region_name: str) -> Any:
        props = cloudformation_json["Properties"]
        if props.get("LogGroupName", original_resource.name) != original_resource.name:
            return _replace(cls, original_resource, original_resource.logical_resource_id, new_resource_name,
                            cloudformation_json, account_id, region_name)
        backend = models.logs_backends[account_id][region_name]
        if props.get("RetentionInDays"):
            backend.put_retention_policy(original_resource.name, int(props["RetentionInDays"]))
        else:
            backend.delete_retention_policy(original_resource.name)
        return original_resource

    models.LogGroup.update_from_cloudformation_json = classmethod(log_group_update)


def patch_sns(models: ModuleType) -> None:
    """moto replaces a topic on any update (new generated name, new ARN, subscriptions lost); AWS keeps a topic whose
    name does not change and updates its display name in place."""
    original_update = models.Topic.update_from_cloudformation_json.__func__

    def topic_update(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
                     account_id: str, region_name: str) -> Any:
        props = cloudformation_json["Properties"]
        same_name = props.get("TopicName", original_resource.name) == original_resource.name
        if not same_name or bool(props.get("FifoTopic", False)) != bool(original_resource.fifo_topic):
            return original_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        original_resource.display_name = props.get("DisplayName", "")
        original_resource.kms_master_key_id = props.get("KmsMasterKeyId", "")
        return original_resource

    models.Topic.update_from_cloudformation_json = classmethod(topic_update)


def patch_dynamodb(models: ModuleType) -> None:
    """moto cannot update a table (the fallback would replace it: new name, items lost). Keep a table whose keys and
    name stay, as AWS does, and apply its capacity settings; a new key schema or name replaces it."""

    def table_update(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
                     account_id: str, region_name: str) -> Any:
        props = cloudformation_json["Properties"]
        keys_kept = props.get("KeySchema") == original_resource.schema
        if not keys_kept or props.get("TableName", original_resource.name) != original_resource.name:
            return _replace(cls, original_resource, original_resource.logical_resource_id, new_resource_name,
                            cloudformation_json, account_id, region_name)
        models.dynamodb_backends[account_id][region_name].update_table(
            original_resource.name, props.get("AttributeDefinitions"), [], props.get("ProvisionedThroughput"),
            props.get("BillingMode", "PROVISIONED" if props.get("ProvisionedThroughput") else "PAY_PER_REQUEST"),
            {}, None, None)
        return original_resource

    models.Table.update_from_cloudformation_json = classmethod(table_update)


def patch_sqs(models: ModuleType) -> None:
    """moto's queue update applies two properties; apply every attribute (a dead letter queue's redrive policy, its
    retention...). A new QueueName or FifoQueue is a new queue."""
    original_update = models.Queue.update_from_cloudformation_json.__func__
    not_attributes = {"QueueName", "FifoQueue", "Tags"}

    def queue_update(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
                     account_id: str, region_name: str) -> Any:
        props = cloudformation_json["Properties"]
        if props.get("QueueName", original_resource.name) != original_resource.name or \
                bool(props.get("FifoQueue", False)) != bool(original_resource.fifo_queue):
            return _replace(cls, original_resource, original_resource.logical_resource_id, new_resource_name,
                            cloudformation_json, account_id, region_name)
        queue = original_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        attributes = {key: json.dumps(value) if isinstance(value, dict) else str(value)
                      for key, value in props.items() if key not in not_attributes}
        if attributes:
            models.sqs_backends[account_id][region_name].set_queue_attributes(queue.name, attributes)
        return queue

    models.Queue.update_from_cloudformation_json = classmethod(queue_update)
