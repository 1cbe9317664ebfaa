"""A resource that cannot be created or updated fails its stack, as CloudFormation fails it.

moto has no failure path: an error inside a change set's execution became an HTTP 500 (or a stack left half done in
`REVIEW_IN_PROGRESS`), so osls printed a traceback instead of CloudFormation's reason. Here a resource error is an
event `CREATE_FAILED`/`UPDATE_FAILED` with AWS's wording ("Resource handler returned message: ..."), then the stack
rolls back: a new stack deletes what it made (`ROLLBACK_COMPLETE`), an update re-applies the previous template
(`UPDATE_ROLLBACK_COMPLETE`). The API call itself succeeds, as on AWS; the stack's events carry the reason.

Also: a CREATE change set for a stack that exists is refused (two deploys at once no longer make two stacks of one
name), and an update of a stack in ROLLBACK_COMPLETE is refused with AWS's message.
"""

from __future__ import annotations

import copy
import functools
import logging
from types import ModuleType
from typing import Any

from workshop.emulator.cfn_errors import ResourceFailure, handler_message

log = logging.getLogger("workshop.emulator")
def _service_error(exc: Exception) -> str | None:
    """The message of an AWS-style error raised by a moto backend (None for a Python error)."""
    from moto.core.exceptions import ServiceException
    from moto.core.exceptions import _RESTError as RESTError

    if isinstance(exc, ServiceException):
        return getattr(exc, "message", None) or str(exc)
    if isinstance(exc, RESTError):
        return getattr(exc, "message", None) or getattr(exc, "description", None) or str(exc)
    return None


def patch_parsing(parsing: ModuleType) -> None:
    """A service error while a resource is created or updated becomes a ResourceFailure naming the resource."""
    original_create = parsing.parse_and_create_resource
    original_update = parsing.parse_and_update_resource

    from workshop.emulator import cfn_validate

    def _validate(logical_id: str, resource_json: dict[str, Any], resources_map: Any, region: str) -> None:
        condition = resource_json.get("Condition")
        if condition and not resources_map.lazy_condition_map[condition]:
            return  # not created
        parsed = parsing.parse_resource(resource_json, resources_map)
        if parsed:
            cfn_validate.validate(logical_id, resource_json.get("Type", ""), parsed[1].get("Properties"), region)

    def _guard(function: Any) -> Any:
        @functools.wraps(function)
        def wrapper(logical_id: str, resource_json: dict[str, Any], resources_map: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                region = kwargs.get("region_name") or (args[1] if len(args) > 1 else "us-east-1")
                _validate(logical_id, resource_json, resources_map, region)
                return function(logical_id, resource_json, resources_map, *args, **kwargs)
            except ResourceFailure:
                raise
            except Exception as exc:
                message = _service_error(exc)
                if message is None:
                    raise
                raise ResourceFailure(logical_id, resource_json.get("Type", ""),
                                      handler_message(resource_json.get("Type", ""), message)) from exc
        return wrapper

    parsing.generate_resource_name = cfn_validate.generated_name
    parsing.parse_and_create_resource = _guard(original_create)
    parsing.parse_and_update_resource = _guard(original_update)


def _resource_event(stack: Any, failure: ResourceFailure, status: str) -> None:
    from moto.cloudformation.models import Event

    stack.events.append(Event(stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=failure.logical_id,
                              physical_resource_id="", resource_type=failure.resource_type, resource_status=status,
                              resource_status_reason=failure.reason, resource_properties=None))


def _delete_all(stack: Any) -> None:
    resource_map = stack.resource_map
    for logical_id in reversed(list(resource_map._parsed_resources)):
        resource = resource_map._parsed_resources.get(logical_id)
        if resource is None or isinstance(resource, str):
            continue
        try:
            resource_map._delete_resource(resource, resource_map._resource_json_map.get(logical_id, {}))
        except Exception:  # noqa: BLE001 - as CloudFormation: the rollback goes on, the leftover is logged
            log.warning("rollback could not delete %s", logical_id, exc_info=True)
        resource_map._parsed_resources.pop(logical_id, None)


def roll_back(stack: Any, failure: ResourceFailure, creating: bool, previous: tuple[dict[str, Any], Any] | None) -> None:
    """Record the failure and undo the change, leaving the stack in the status CloudFormation would."""
    verb = "create" if creating or failure.logical_id not in (previous[0].get("Resources", {}) if previous else {}) else "update"
    _resource_event(stack, failure, f"{verb.upper()}_FAILED")
    log.warning("stack %s: %s failed: %s", stack.name, failure.logical_id, failure.reason)
    summary = f"The following resource(s) failed to {verb}: [{failure.logical_id}]. "
    if creating or previous is None:
        stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=summary + "Rollback requested by user.")
        _delete_all(stack)
        stack.status = "ROLLBACK_COMPLETE"
        stack._add_stack_event("ROLLBACK_COMPLETE")
        return
    template, parameters = previous
    stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=summary)
    try:
        stack.resource_map.update(template, parameters)
        stack.output_map = stack._create_output_map()
    except Exception:  # noqa: BLE001 - the rollback itself failed: CloudFormation says so in the status
        log.warning("stack %s: the rollback failed", stack.name, exc_info=True)
        stack.status = "UPDATE_ROLLBACK_FAILED"
        stack._add_stack_event("UPDATE_ROLLBACK_FAILED")
        return
    stack.status = "UPDATE_ROLLBACK_COMPLETE"
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")


def find_change_set(backend: Any, name: str, stack_name: str | None = None) -> Any:
    """By ARN, else the newest change set of that name (of that stack): a deleted stack's ones keep their names."""
    if name in backend.change_sets:
        return backend.change_sets[name]
    matches = [cs for cs in backend.change_sets.values() if cs.change_set_name == name
               and (not stack_name or stack_name in (cs.stack_name, cs.stack_id))]
    return matches[-1] if matches else None


def patch_stacks(models: ModuleType) -> None:
    """Failures roll back; change sets that CloudFormation refuses are refused."""
    from moto.cloudformation.exceptions import ValidationError

    backend_cls = models.CloudFormationBackend
    original_execute = backend_cls.execute_change_set
    original_create_change_set = backend_cls.create_change_set
    original_create_stack = backend_cls.create_stack
    original_update_stack = backend_cls.update_stack

    @functools.wraps(original_execute)
    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = find_change_set(self, change_set_name, stack_name)
        if change_set is None:
            raise ValidationError(message=f"ChangeSet [{change_set_name}] does not exist")
        stack = self.stacks.get(change_set.stack_id)
        if stack is None or change_set.execution_status not in (None, "AVAILABLE"):
            raise _invalid_status(change_set_name, change_set.execution_status or "OBSOLETE")
        creating = change_set.change_set_type == "CREATE"
        if creating and stack.status != "REVIEW_IN_PROGRESS":  # another deploy created the stack meanwhile
            change_set.execution_status = "OBSOLETE"
            raise _invalid_status(change_set_name, "OBSOLETE")
        previous = None if creating else (copy.deepcopy(stack.template_dict),
                                          copy.deepcopy(getattr(stack.resource_map, "input_parameters", None)))
        try:
            original_execute(self, change_set.change_set_id, stack_name)  # by ARN: exactly this one
        except ResourceFailure as failure:
            change_set.execution_status = "EXECUTE_FAILED"
            roll_back(stack, failure, creating, previous)

    @functools.wraps(original_create_change_set)
    def create_change_set(self: Any, stack_name: str, change_set_name: str, template: str, parameters: Any,
                          description: str, change_set_type: str, *args: Any, **kwargs: Any) -> tuple[str, str]:
        existing = next((s for s in self.stacks.values() if s.name == stack_name), None)
        if change_set_type == "CREATE" and existing is not None:
            if existing.status != "REVIEW_IN_PROGRESS":
                raise ValidationError(message=f"Stack [{stack_name}] already exists and cannot be created again with "
                                              f"the changeSet [{change_set_name}].")
            change_set_id, new_stack_id = original_create_change_set(
                self, stack_name, change_set_name, template, parameters, description, change_set_type, *args, **kwargs)
            self.stacks.pop(new_stack_id, None)  # one stack per name: the change set joins the one under review
            change_set = self.change_sets[change_set_id]
            change_set.stack, change_set.stack_id = existing, existing.stack_id
            return change_set_id, existing.stack_id
        if change_set_type == "UPDATE" and existing is not None and existing.status in (
                "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "REVIEW_IN_PROGRESS", "UPDATE_ROLLBACK_FAILED"):
            raise ValidationError(message=f"Stack:{existing.stack_id} is in {existing.status} state and can not be updated.")
        return original_create_change_set(self, stack_name, change_set_name, template, parameters, description,
                                          change_set_type, *args, **kwargs)

    @functools.wraps(original_create_stack)
    def create_stack(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return original_create_stack(self, name, *args, **kwargs)
        except ResourceFailure as failure:
            stack = next(s for s in self.stacks.values() if s.name == name)
            roll_back(stack, failure, True, None)
            return stack

    @functools.wraps(original_update_stack)
    def update_stack(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        stack = self.get_stack(name)
        previous = (copy.deepcopy(stack.template_dict), copy.deepcopy(getattr(stack.resource_map, "input_parameters", None)))
        old_template = stack.template
        try:
            return original_update_stack(self, name, *args, **kwargs)
        except ResourceFailure as failure:
            stack.template = old_template  # moto set the new template before it failed; CloudFormation keeps the old
            stack._parse_template()
            roll_back(stack, failure, False, previous)
            return stack

    backend_cls.execute_change_set = execute_change_set
    backend_cls.create_change_set = create_change_set
    backend_cls.create_stack = create_stack
    backend_cls.update_stack = update_stack


def _invalid_status(name: str, status: str) -> Exception:
    from moto.cloudformation.exceptions import CloudFormationError

    class InvalidChangeSetStatus(CloudFormationError):
        code = "InvalidChangeSetStatus"

    return InvalidChangeSetStatus(f"ChangeSet [{name}] cannot be executed in its current status of [{status}]")
