"""`workshop status` must not import boto3, moto or git at start-up (the cold start is benchmarked in bench/)."""

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
sys.stderr.write(json.dumps(heavy))
"""


def test_status_imports_nothing_heavy(tmp_path):
    made = subprocess.run([sys.executable, "-m", "workshop", "init", str(tmp_path / "ws")], capture_output=True, text=True, check=False)
    assert made.returncode == 0, made.stderr
    result = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "ws")], capture_output=True, text=True, check=False)
    assert "Error" not in result.stderr, result.stderr
    heavy = json.loads(result.stderr.strip().splitlines()[-1])
    assert heavy == [], f"status imported {heavy}; import them lazily inside the commands that need them"
