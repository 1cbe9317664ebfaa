"""`workshop emulator ...` through the CLI: thin commands, JSON on stdout, the per-user folder outside a workspace."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import workshop.cli.emulator  # noqa: F401 - registers `workshop emulator` on the app
from workshop.cli.application import app

runner = CliRunner()
ENV = {"NO_COLOR": "1", "COLUMNS": "120", "TERM": "dumb"}
KEYS = ["running", "pid", "port", "https_port", "endpoint", "state_file"]


def _run(*args: str):
    return runner.invoke(app, list(args), env=ENV)


def test_status_json_when_not_running():
    result = _run("emulator", "status", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == dict.fromkeys(KEYS) | {"running": False}


def test_start_status_logs_stop(isolated):
    home_dir = isolated / ".workshop-home" / "emulator"
    try:
        started = _run("emulator", "start")
        assert started.exit_code == 0, started.output
        status = _run("emulator", "status", "--json")
        data = json.loads(status.stdout)
        assert list(data) == KEYS and data["running"] is True
        assert data["endpoint"] == f"http://127.0.0.1:{data['port']}"
        assert data["state_file"] == str(home_dir.resolve() / "state.pickle")
        again = _run("emulator", "start")
        assert again.exit_code == 0 and "already running" in again.output
        logs = _run("emulator", "logs", "--lines", "5")
        assert logs.exit_code == 0 and "emulator listening on" in logs.stdout
    finally:
        stopped = _run("emulator", "stop")
    assert stopped.exit_code == 0 and "stopped" in stopped.output
    assert "not running" in _run("emulator", "stop").output


def test_port_in_use_is_a_one_line_error(isolated):
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        result = _run("emulator", "start", "--port", str(holder.getsockname()[1]))
    assert result.exit_code == 1
    assert "in use" in result.output and "Traceback" not in result.output
