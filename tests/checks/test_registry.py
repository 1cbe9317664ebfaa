"""The registry and the course agree; declarations are least-privilege; the published IAM policy is the generated one."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO
from workshop.checks import registry
from workshop.checks.model import FAMILIES

READ_PREFIXES = ("Get", "List", "Describe", "FilterLogEvents", "ReceiveMessage", "Query")


def test_every_check_of_the_course_is_known_and_every_known_check_is_used():
    from workshop.course import model as course

    loaded = course.load(known_checks=registry.ids())  # raises CourseError naming any unknown id
    used = {c for step in loaded.steps for c in step.checks}
    assert used == set(registry.CHECKS)
    assert all(step.checks for step in loaded.steps)


def test_checks_are_well_formed():
    for check in registry.CHECKS.values():
        assert check.family in FAMILIES, check.id
        assert check.title and check.reference.startswith("https://"), check.id
        registry.function_of(check)  # the function exists
        if check.family == "static":
            assert not check.calls, f"{check.id}: static checks make no AWS call"


def test_only_behaviour_checks_write_and_live_checks_only_read():
    for check in registry.CHECKS.values():
        writes = [c for c in check.calls if not c.split(":")[1].startswith(READ_PREFIXES)]
        if check.family != "behaviour":
            assert not check.writes and not writes, (check.id, writes)
        if writes:
            assert check.writes and "(" in check.title, f"{check.id} writes and must say so in its title"


def test_the_published_iam_policy_is_the_generated_one():
    from workshop.checks import runner as verify

    committed = (REPO / "docs" / "verify-iam-policy.json").read_text()
    assert committed == verify.iam_policy_text(), "regenerate docs/verify-iam-policy.json (see verify.iam_policy_text)"
    policy = json.loads(committed)
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert "sns:Publish" in actions and not any(a.startswith(("sns:Create", "sns:Delete", "lambda:Update", "iam:Put")) for a in actions)


def test_registry_import_is_light():
    code = "import sys, workshop.checks.registry, workshop.checks.runner; print(any(m in sys.modules for m in ('boto3', 'botocore', 'cfnlint', 'rich', 'typer')))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_cli_module_imports_only_typer():
    code = "import sys, workshop.cli.verify; print(sorted(m for m in ('boto3', 'botocore', 'cfnlint', 'rich') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
