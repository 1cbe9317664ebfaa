"""After a deploy: osls's summary and the next command; short service names; no argument lists the choices in one line."""

from __future__ import annotations

import pytest

from tests.cli.conftest import WIDTHS
from tests.cli.test_screens import assert_fits, run, words_whole

OSLS_LOG = """$ osls deploy --stage dev
Deploying wild-rydes-ride-record to stage dev (us-east-1)
  UPDATE_COMPLETE - AWS::CloudFormation::Stack - wild-rydes-ride-record-dev

✔ Service deployed to stack wild-rydes-ride-record-dev (3s)

endpoint: POST - https://o5gzwehavg.execute-api.us-east-1.amazonaws.com/dev/record
functions:
  PutRideRecordHttp: wild-rydes-ride-record-dev-PutRideRecordHttp (942 B)

Stack Outputs:
  ServiceEndpoint: https://o5gzwehavg.execute-api.us-east-1.amazonaws.com/dev

"""


def test_the_osls_summary_is_what_follows_service_deployed(tmp_path):
    from workshop.deploy import summary

    log = tmp_path / "deploy.log"
    log.write_text(OSLS_LOG)
    lines = summary.osls_summary(log)
    assert lines[0].startswith("✔ Service deployed") and lines[-1].endswith("/dev")
    assert "  PutRideRecordHttp: wild-rydes-ride-record-dev-PutRideRecordHttp (942 B)" in lines
    assert summary.osls_summary(tmp_path / "missing.log") == []


def test_after_one_of_two_deploys_the_next_command_is_the_other_deploy():
    from workshop.course import model as course
    from workshop.deploy import summary

    loaded = course.load()
    start = loaded.step(0)
    assert list(start.deploys) == ["wild-rydes-ride-record", "wild-rydes"]
    assert summary.next_command(start, "wild-rydes-ride-record") == "workshop deploy wild-rydes"
    assert summary.next_command(start, "wild-rydes") == "workshop verify"
    assert summary.next_command(start, None) == "workshop verify"  # deploy all
    assert summary.next_command(loaded.step(3), "wild-rydes-ride-record") == "workshop verify"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_summary_screen_keeps_urls_whole(width, monkeypatch):
    import io

    from rich.console import Console

    from workshop.cli import render, tables

    con = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)
    monkeypatch.setattr(render, "out_console", lambda: con)
    tables.deploy_summary({"wild-rydes-ride-record": OSLS_LOG.split("\n\n", 1)[1].splitlines()}, "workshop deploy wild-rydes")
    out = con.file.getvalue()
    words_whole(out, ["https://o5gzwehavg.execute-api.us-east-1.amazonaws.com/dev/record", "wild-rydes-ride-record-dev-PutRideRecordHttp"])
    assert "    PutRideRecordHttp:" in out  # osls's indentation kept under the service name
    assert out.rstrip().endswith("Next: `workshop deploy wild-rydes`, then `workshop verify`.")
    assert_fits(out, width)


@pytest.mark.parametrize("command", ["deploy", "test"])
def test_no_service_lists_the_choices_in_one_line(command, tmp_path):
    result = run(command, "--workspace", str(tmp_path))
    assert result.exit_code == 2
    assert "╭" not in result.output and "Missing argument" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "`ride-record` (wild-rydes-ride-record)" in lines[0] and "`wild-rydes`" in lines[0], result.output


def test_short_service_names_are_accepted():
    from workshop.deploy import rollout

    assert rollout.check_service("ride-record") == "wild-rydes-ride-record"
    assert rollout.check_service("wild-rydes-ride-record") == "wild-rydes-ride-record"
    assert rollout.check_service("wild-rydes") == "wild-rydes"
    from workshop.errors import BadInput

    with pytest.raises(BadInput, match="`ride-record`"):
        rollout.check_service("record")


def test_workshop_test_takes_the_short_name(learner):
    root = learner(1, current=2)
    result = run("test", "ride-record", "--workspace", str(root))
    assert result.exit_code == 0, result.output
    assert "passed" in result.output


def test_notes_of_an_emulator_started_before_this_command_are_not_its_output(tmp_path, monkeypatch):
    """In one process (a test run, an embedding tool) an emulator started earlier left notes nobody showed: not this command's."""
    from workshop.emulator import launcher

    monkeypatch.setattr(launcher, "_unshown", ["Removed the stale pid file of an emulator (pid 1) that is no longer running."])
    result = run("deploy", "--workspace", str(tmp_path))
    assert result.exit_code == 2 and "stale pid" not in result.output, result.output
    assert launcher.take_notes() == []


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_kill_or_a_closed_terminal_stops_a_command_as_ctrl_c_does(signame):
    """The `finally` of a check that changed the account for a moment (SNS's invoke permission) runs on SIGTERM and
    SIGHUP too; the command exits 130 and the process's handlers are as they were afterwards."""
    import os
    import signal
    import time

    import typer
    from typer.testing import CliRunner

    from workshop.cli.application import WorkshopGroup

    cleaned, signum = [], getattr(signal, signame)
    tiny = typer.Typer(cls=WorkshopGroup)

    @tiny.command()
    def wait() -> None:
        try:
            os.kill(os.getpid(), signum)
            time.sleep(5)
        finally:
            cleaned.append(signame)

    @tiny.command()
    def other() -> None:
        pass

    before = signal.getsignal(signum)
    result = CliRunner().invoke(tiny, ["wait"])
    assert result.exit_code == 130 and cleaned == [signame], result.output
    assert "Interrupted" in result.output
    assert signal.getsignal(signum) == before
