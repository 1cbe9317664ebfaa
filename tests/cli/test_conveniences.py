"""Messages from the walk and the conveniences: restore --last and prefixes, pruning, ride spreads, logs after a rename."""

from __future__ import annotations

import datetime as _dt

import pytest

from tests.cli.conftest import WIDTHS
from tests.cli.test_screens import assert_fits, run


@pytest.fixture
def initialised(tmp_path):
    root = tmp_path / "ws"
    assert run("init", str(root)).exit_code == 0
    return root


def _reset(root, step: str):
    result = run("reset", "--step", step, "--workspace", str(root))
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("width", WIDTHS)
def test_restore_without_a_name_lists_the_newest_in_one_line(initialised, width):
    (initialised / "wild-rydes" / "mine.txt").write_text("work")
    _reset(initialised, "2")
    result = run("restore", "--workspace", str(initialised), width=width)
    assert result.exit_code == 2
    assert "╭" not in result.output and "Missing argument" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1 and "reset-to-step-02" in result.output


def test_restore_last_and_a_prefix_bring_files_back_and_say_the_step_stayed(initialised):
    (initialised / "wild-rydes" / "mine.txt").write_text("work")
    _reset(initialised, "2")
    assert not (initialised / "wild-rydes" / "mine.txt").exists()
    result = run("restore", "--last", "--workspace", str(initialised))
    assert result.exit_code == 0, result.output
    assert (initialised / "wild-rydes" / "mine.txt").read_text() == "work"
    assert "The current step stayed at step 2" in result.stdout and "`workshop goto N`" in result.stdout
    from workshop.checkpoints import backups
    from workshop.checkpoints.repo import open_repo

    newest = backups.list_all(open_repo(initialised))[-1].name  # made by that restore: the files it replaced
    again = run("restore", newest[:22], "--workspace", str(initialised))
    assert again.exit_code == 0, again.output
    assert not (initialised / "wild-rydes" / "mine.txt").exists() and f"Restored {newest}" in again.stdout


def _backup(created: str, name: str):
    from workshop.checkpoints.backups import Backup

    return Backup(name=name, created=created, reason="r", files=1, commit="0" * 40)


def test_pruning_keeps_the_newest_fifty_and_everything_under_thirty_days():
    from workshop.checkpoints import pruning

    now = _dt.datetime(2026, 6, 1, tzinfo=_dt.UTC)
    old = [_backup((now - _dt.timedelta(days=100 - i)).isoformat(), f"{i:03d}") for i in range(60)]  # 100..41 days old
    assert [b.name for b in pruning.to_prune(old, now=now)] == [f"{i:03d}" for i in range(10)]
    young = [_backup((now - _dt.timedelta(days=29)).isoformat(), f"{i:03d}") for i in range(60)]
    assert pruning.to_prune(young, now=now) == []
    assert pruning.to_prune([_backup("garbage", "x")] + young, now=now) == []


def test_backups_prune_deletes_old_refs(initialised):
    from workshop.checkpoints import backups, pruning
    from workshop.checkpoints.repo import open_repo

    for step in ("2", "3", "4"):
        (initialised / "wild-rydes" / "mine.txt").write_text(step)
        _reset(initialised, step)
    repo = open_repo(initialised)
    assert len(backups.list_all(repo)) == 3
    later = _dt.datetime.now(_dt.UTC) + _dt.timedelta(days=31)
    assert len(pruning.prune(repo, keep=1, now=later)) == 2
    assert len(backups.list_all(repo)) == 1
    result = run("backups", "--prune", "--workspace", str(initialised))
    assert result.exit_code == 0 and "Deleted 0 old backups" in result.output


def test_ride_spreads_are_min_median_max():
    from workshop.instructor import rides

    outcomes = [{"http_ms": 30, "record_ms": 50}, {"http_ms": 10, "record_ms": 70}, {"http_ms": 20, "record_ms": 60},
                {"http_ms": 999, "problem": object()}]
    spreads = {s.label: (s.low, s.median, s.high) for s in rides.spreads(outcomes)}
    assert spreads == {"answered": (10, 20, 30), "in DynamoDB": (50, 60, 70)}


def test_how_a_rides_path_is_known_is_said():
    from workshop.instructor import rides

    assert rides.how_known("PutRideRecordHttp's log names the RideId").startswith("known for sure")
    assert "inferred from timing" in rides.how_known("PutRideRecordSns ran while it was recorded")


def test_logs_of_a_renamed_function_name_the_new_one(course_states, tmp_path):
    import shutil

    from workshop.deploy.targets import Target
    from workshop.instructor import rides

    root = tmp_path / "ws"
    shutil.copytree(course_states(2), root)
    said = rides.gone_function(root, Target(), "PutRideRecord")
    assert said and "PutRideRecordHttp" in said and "`workshop logs PutRideRecordHttp`" in said
    assert rides.gone_function(root, Target(), "PutRideRecordHttp") is None
    before = tmp_path / "before"
    shutil.copytree(course_states(1), before)
    assert rides.gone_function(before, Target(), "PutRideRecord") is None


def test_a_missing_topic_variable_is_said_plainly(course_states, tmp_path):
    import shutil

    from tests.checks.conftest import run_check

    root = tmp_path / "ws"
    shutil.copytree(course_states(10), root)  # before step 11: RequestRide has no RIDES_SNS_TOPIC_ARN yet
    shutil.copy(course_states(11) / "wild-rydes" / "handlers" / "request_ride.py", root / "wild-rydes" / "handlers" / "request_ride.py")
    result = run_check(root, "request-ride-publishes")
    assert result.result == "fail" and "no RIDES_SNS_TOPIC_ARN in its `environment:`" in result.observed, result.observed
    assert "None" not in result.observed


@pytest.mark.parametrize("width", WIDTHS)
def test_restore_message_fits(initialised, width):
    (initialised / "wild-rydes" / "mine.txt").write_text("work")
    _reset(initialised, "2")
    result = run("restore", "--last", "--workspace", str(initialised), width=width)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert any("The current step stayed" in line for line in lines)
    assert_fits("\n".join(line for line in lines if "backup" not in line), width)
