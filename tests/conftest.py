"""Shared fixtures: every test runs with an isolated HOME, git config and AWS config, and no network but loopback."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE_COURSE = REPO / "tests" / "sample_course"
CLI_ENV = {"NO_COLOR": "1", "COLUMNS": "120", "TERM": "dumb"}
# The sample course's services carry their own unit tests (run by `workshop dev check`), not part of this suite.
collect_ignore_glob = ["sample_course/*"]

_real_connect = socket.socket.connect


def _loopback_only(sock: socket.socket, address, *args, **kwargs):
    """Refuse any connection that is not to this machine: tests are offline."""
    host = address[0] if isinstance(address, tuple) else None
    if host is not None:
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise RuntimeError(f"test tried to reach the network ({address!r}); tests must stay offline")
    return _real_connect(sock, address, *args, **kwargs)


def pytest_collection_modifyitems(config, items):
    """Tests of a real AWS account run only when asked: WORKSHOP_AWS_TESTS=1 and credentials in the environment."""
    if os.environ.get("WORKSHOP_AWS_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="talks to a real AWS account: set WORKSHOP_AWS_TESTS=1 (and credentials) to run it")
    for item in items:
        if "aws" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def isolated(tmp_path_factory, monkeypatch, request):
    """A fresh HOME, no user git config, no AWS credentials or profile, and WORKSHOP_HOME in a temp folder."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("WORKSHOP_HOME", str(home / ".workshop-home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".state"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    if request.node.get_closest_marker("aws"):  # a real account: keep the caller's HOME (~/.aws), AWS chain and network
        yield home
        return
    monkeypatch.setenv("HOME", str(home))
    for name in list(os.environ):
        if name.startswith(("AWS_", "WORKSHOP_WORKSPACE")) or name in {"SLS_STAGE"}:
            monkeypatch.delenv(name, raising=False)
    # Point the AWS SDK at files that do not exist, so nothing reads the real ~/.aws.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    yield home
    if (home / ".aws").exists():
        pytest.fail(f"a test wrote {home / '.aws'}: tests must never read or write ~/.aws (use the emulator target)")


@pytest.fixture
def sample_course(monkeypatch):
    """Run the engine against the tiny sample course in tests/sample_course."""
    monkeypatch.setenv("WORKSHOP_COURSE_DIR", str(SAMPLE_COURSE))
    from workshop import course

    course._load.cache_clear()
    yield SAMPLE_COURSE
    course._load.cache_clear()


@pytest.fixture
def cli():
    """Invoke the CLI in-process with fixed width and no colour; returns a function(args) -> Result."""
    from typer.testing import CliRunner

    from workshop.cli import app

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, list(args), env=CLI_ENV, input=input)

    return invoke
