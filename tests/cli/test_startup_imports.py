"""`workshop status` must not import boto3, moto, git or the runner's git, deploy and check code at start-up (the cold
start is benchmarked in bench/)."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from workshop.cli import app
try:
    app(["--workspace", sys.argv[1], "status"], standalone_mode=False)
except SystemExit:
    pass
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"boto3", "botocore", "moto", "git", "cfnlint", "yaml", "cryptography"})
# The runner's own heavy parts: git (checkpoints), deploys, checks and the emulator are never needed to show progress.
heavy += sorted({".".join(m.split(".")[:2]) for m in sys.modules
                 if m.startswith(("workshop.checkpoints", "workshop.deploy", "workshop.checks", "workshop.emulator"))})
sys.stderr.write(json.dumps(heavy))
"""


def test_status_imports_nothing_heavy(tmp_path):
    made = subprocess.run([sys.executable, "-m", "workshop", "init", str(tmp_path / "ws")], capture_output=True, text=True, check=False)
    assert made.returncode == 0, made.stderr
    result = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "ws")], capture_output=True, text=True, check=False)
    assert "Error" not in result.stderr, result.stderr
    heavy = json.loads(result.stderr.strip().splitlines()[-1])
    assert heavy == [], f"status imported {heavy}; import them lazily inside the commands that need them"


def test_the_lazy_command_table_matches_what_the_modules_register():
    import importlib

    from workshop import cli

    app = cli.load()
    registered = {c.name or c.callback.__name__ for c in app.registered_commands}
    registered |= {g.name for g in app.registered_groups}
    assert registered == set(cli.COMMAND_MODULES)
    for command, module in cli.COMMAND_MODULES.items():
        source = importlib.import_module(f"workshop.cli.{module}")
        names = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback.__module__ == source.__name__}
        names |= {g.name for g in app.registered_groups if g.typer_instance.registered_commands
                  and g.typer_instance.registered_commands[0].callback.__module__ == source.__name__}
        assert command in names, f"{command} is not registered by workshop.cli.{module}"


def test_command_of_skips_root_options():
    from workshop.cli import command_of

    assert command_of(["status", "--json"]) == "status"
    assert command_of(["--workspace", "ws", "status"]) == "status"
    assert command_of(["-w", "ws", "reset", "--step", "3"]) == "reset"
    assert command_of(["--workspace=ws", "hint"]) == "hint"
    assert command_of(["--help"]) is None and command_of([]) is None
