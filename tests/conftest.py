"""Shared fixtures: every test runs with an isolated HOME, git config and AWS config, and no network but loopback."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Case counts come from these profiles, never from environment variables: `pytest --hypothesis-profile=quick` while
# editing, `--hypothesis-profile=thorough` before a release. `default` is what `make test` and CI run.
settings.register_profile("default", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.register_profile("quick", parent=settings.get_profile("default"), max_examples=30)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=3000)
settings.load_profile("default")

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


@pytest.fixture(scope="session")
def _osls_cache(tmp_path_factory):
    """One copy of osls's compiled-schema cache for the whole run (each fresh HOME would recompile it, ~8 s)."""
    return tmp_path_factory.mktemp("osls-cache") / "artifacts"


def _scrub(mp: pytest.MonkeyPatch, home: Path) -> None:
    """HOME, git config and the AWS SDK pointed at nothing of the user's."""
    mp.setenv("HOME", str(home))
    mp.setenv("WORKSHOP_HOME", str(home / ".workshop-home"))
    mp.setenv("XDG_STATE_HOME", str(home / ".state"))
    mp.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in list(os.environ):
        if name.startswith(("AWS_", "WORKSHOP_WORKSPACE")) or name in {"SLS_STAGE"}:
            mp.delenv(name, raising=False)
    mp.setenv("AWS_CONFIG_FILE", str(home / "no-aws-config"))
    mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "no-aws-credentials"))
    mp.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session", autouse=True)
def _session_isolation(tmp_path_factory, _osls_cache):
    """The same isolation for module- and session-scoped fixtures, which run before any test's own fixtures."""
    if os.environ.get("WORKSHOP_AWS_TESTS") == "1":
        yield
        return
    with pytest.MonkeyPatch.context() as mp:
        _scrub(mp, tmp_path_factory.mktemp("session-home"))
        mp.setenv("WORKSHOP_OSLS_CACHE", str(_osls_cache))
        # One emulator-state signing key for the run: module-scoped emulators outlive a test's WORKSHOP_HOME.
        mp.setenv("WORKSHOP_STATE_KEY_FILE", str(tmp_path_factory.mktemp("state-key") / "emulator-state.key"))
        yield


@pytest.fixture(autouse=True)
def isolated(tmp_path_factory, monkeypatch, request, _osls_cache):
    """A fresh HOME, no user git config, no AWS credentials or profile, and WORKSHOP_HOME in a temp folder."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("WORKSHOP_HOME", str(home / ".workshop-home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".state"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("WORKSHOP_OSLS_CACHE", str(_osls_cache))
    if request.node.get_closest_marker("aws"):  # a real account: keep the caller's HOME (~/.aws), AWS chain and network
        yield home
        return
    _scrub(monkeypatch, home)  # the AWS SDK points at files that do not exist: nothing reads the real ~/.aws
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    yield home
    if (home / ".aws").exists():
        pytest.fail(f"a test wrote {home / '.aws'}: tests must never read or write ~/.aws (use the emulator target)")


@pytest.fixture
def sample_course(monkeypatch):
    """Run the engine against the tiny sample course in tests/sample_course."""
    monkeypatch.setenv("WORKSHOP_COURSE_DIR", str(SAMPLE_COURSE))
    from workshop.course import model as course

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
