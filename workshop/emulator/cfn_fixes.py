"""moto CloudFormation bugs that break Serverless Framework deploys, fixed in place.

- DeleteChangeSet of an unknown name raised UnboundLocalError (HTTP 500); AWS answers ChangeSetNotFound.
- Executing a change set left the stack's outputs and exports as they were before (empty after a first deploy).
- DeleteStack popped exports that change sets never registered (KeyError, HTTP 500).
- A REST API stayed behind when its stack was deleted.
- ValidateTemplate ran cfn-lint (AWS only checks the template's syntax): +250 MB resident and seconds per deploy.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any


class _Problem:
    def __init__(self, message: str):
        self.message = message


def validate_template(template: str) -> list[_Problem]:
    """Syntax-level checks as AWS's ValidateTemplate does; an empty list means valid."""
    from moto.cloudformation.models import Stack

    try:
        parsed = Stack.parse_template(template)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a format error to the caller
        return [_Problem(f"Template format error: {exc}")]
    if not isinstance(parsed, dict) or not isinstance(parsed.get("Resources"), dict) or not parsed["Resources"]:
        return [_Problem("Template format error: At least one Resources member must be defined.")]
    return []


def patch_stacks(models: ModuleType) -> None:
    backend_cls = models.CloudFormationBackend
    original_delete_change_set = backend_cls.delete_change_set
    original_execute = backend_cls.execute_change_set
    original_delete_stack = backend_cls.delete_stack

    @functools.wraps(original_delete_change_set)
    def delete_change_set(self: Any, change_set_name: str) -> None:
        known = change_set_name in self.change_sets or any(
            cs.change_set_name == change_set_name for cs in self.change_sets.values()
        )
        if not known:
            from moto.cloudformation.exceptions import ValidationError

            raise ValidationError(change_set_name, message=f"ChangeSet [{change_set_name}] does not exist")
        original_delete_change_set(self, change_set_name)

    @functools.wraps(original_execute)
    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        from workshop.emulator.cfn_failures import find_change_set

        change_set = find_change_set(self, change_set_name, stack_name)
        stack = self.stacks.get(change_set.stack_id) if change_set is not None else None
        try:  # read before the update: the old outputs may name resources the update removes
            old_exports = {export.name for export in stack.exports} if stack is not None else set()
        except Exception:  # noqa: BLE001 - outputs that cannot be resolved export nothing
            old_exports = set()
        original_execute(self, change_set_name, stack_name)
        if stack is None or not isinstance(stack.template, str):  # a stack made by an interleaved deploy: nothing to parse
            return
        stack._parse_template()
        stack.output_map = stack._create_output_map()
        for name in old_exports:
            self.exports.pop(name, None)
        for export in stack.exports:
            self.exports[export.name] = export

    @functools.wraps(original_delete_stack)
    def delete_stack(self: Any, name_or_stack_id: str) -> None:
        for stack in list(self.stacks.values()):
            if name_or_stack_id in (stack.stack_id, stack.name):
                for export in stack.exports:  # make sure each one is there for moto to pop
                    self.exports.setdefault(export.name, export)
                for arn in [arn for arn, cs in self.change_sets.items() if cs.stack_id == stack.stack_id]:
                    del self.change_sets[arn]  # a deleted stack's change sets go with it, as on AWS
        original_delete_stack(self, name_or_stack_id)

    backend_cls.delete_change_set = delete_change_set
    backend_cls.execute_change_set = execute_change_set
    backend_cls.delete_stack = delete_stack
    backend_cls.validate_template = lambda self, template: validate_template(template)


def patch_rest_api(models: ModuleType) -> None:
    def delete(self: Any, account_id: str, region_name: str) -> None:
        backend = models.apigateway_backends[account_id][region_name]
        backend.apis.pop(self.id, None)

    models.RestAPI.delete = delete
