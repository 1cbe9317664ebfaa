"""Thin commands: a command module never reaches into another command module's private names (shared helpers are
public, in cli/common.py), and nothing outside cli/ imports typer or rich (import-linter holds the rest)."""

from __future__ import annotations

import ast

from tests.conftest import REPO

CLI = REPO / "workshop" / "cli"


def test_no_command_module_imports_private_names_of_another():
    found = []
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("workshop.cli"):
                found += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert found == []


def test_the_rules_moved_out_of_the_commands_stay_out():
    """The finish rule, the cost question's splice, the demo's lifecycle and the ride loop live in the core."""
    text = {p.name: p.read_text(encoding="utf-8") for p in CLI.glob("*.py")}
    assert "verify_all" not in text["nav.py"] and '"cost"' not in text["nav.py"]
    assert "tempfile" not in text["demo.py"] and "shutil" not in text["demo.py"] and "emulator.stop" not in text["demo.py"]
    assert "request_ride(" not in text["rides.py"] and "for _ in range" not in text["rides.py"]
