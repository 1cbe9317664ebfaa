"""Markers belong on tests: a `slow` or skip marker on a helper marks nothing, so the test it was meant for runs unmarked."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _marked_functions():
    for path in sorted(TESTS.rglob("*.py")):
        if "sample_course" in path.parts or "fixtures" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for decorator in node.decorator_list:
                    target = decorator.func if isinstance(decorator, ast.Call) else decorator
                    if "mark" in ast.unparse(target).split(".")[:-1]:
                        yield path.relative_to(TESTS), node.name, ast.unparse(target)


def test_markers_sit_on_tests():
    misplaced = [f"{path}: {marker} on {name}" for path, name, marker in _marked_functions() if not name.startswith("test_")]
    assert misplaced == [], "markers on functions that are not tests (move them onto the test): " + "; ".join(misplaced)
