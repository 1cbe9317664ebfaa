"""Issue 13 items 5 and 6: recovery never dead-ends, and a file git cannot replace is named with the way out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from git_helpers import files_of, git, make_workspace

from workshop.checkpoints import journal, operations
from workshop.course import model as course
from workshop.errors import WorkshopError


@pytest.fixture
def loaded(sample_course):
    return course.load()


@pytest.fixture
def ws(tmp_path, loaded):
    root = make_workspace(tmp_path / "ws", loaded)
    (root / "svc-a" / "mine.txt").write_text("the learner's work\n")
    return root


def killed_at(root: Path, loaded, op: str, point: str, step: int = 2) -> None:
    """Run `op` in a forked child that dies by SIGKILL at the journal point."""
    pid = os.fork()
    if pid == 0:
        try:
            os.environ[journal.KILL_ENV] = f"{op}:{point}"
            if op == "solve":
                operations.solve_step(root, loaded, loaded.step(1))
            else:
                operations.reset_to_step(root, loaded, loaded.step(step))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert journal.pending(root) is not None, "the kill point was not reached"


def write_journal(root: Path, **raw) -> None:
    journal.path(root).write_text(json.dumps(raw))


def test_a_journal_naming_an_unrelated_live_process_does_not_block(ws, loaded):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_journal(ws, op="reset", phase="saving", pid=other.pid, started="x", data={})
        assert operations.recover(ws)  # cleaned up, not "another workshop command is running"
        write_journal(ws, op="reset", phase="saving", pid=other.pid, started="x", data={}, pid_start="1")
        assert operations.recover(ws)
        assert operations.reset_to_step(ws, loaded, loaded.step(1)).backup is not None
    finally:
        other.kill()
        other.wait()


def test_a_live_workshop_command_still_blocks(ws):
    write_journal(ws, op="reset", phase="saving", pid=os.getpid(), started="x", data={})
    entry = journal.pending(ws)
    entry.pid = os.getpid()
    assert not journal.running_elsewhere(entry)  # our own pid: never "elsewhere"
    fake = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "workshop", "reset"])
    try:
        write_journal(ws, op="reset", phase="saving", pid=fake.pid, started="x", data={}, pid_start=journal.process_start(fake.pid))
        with pytest.raises(WorkshopError, match="is running"):
            operations.recover(ws)
    finally:
        fake.kill()
        fake.wait()


def test_a_journal_missing_keys_is_cleared_with_a_message(ws):
    before = files_of(ws)
    write_journal(ws, op="reset", phase="applying", pid=0, started="x", data={"what": "workshop reset --step 2"})
    notes = operations.recover(ws)
    assert "incomplete" in notes[0] and journal.pending(ws) is None
    assert files_of(ws) == before
    journal.path(ws).write_text("{not json")
    assert "could not be read" in operations.recover(ws)[0] and journal.pending(ws) is None


def test_pruned_objects_after_a_kill_go_back_to_the_files_before(ws, loaded):
    (ws / "svc-a" / "handlers" / "record.py").write_text("# mine\n" + (ws / "svc-a" / "handlers" / "record.py").read_text())
    before = files_of(ws)
    killed_at(ws, loaded, "solve", "switched")
    git(ws, "gc", "-q", "--prune=now")
    notes = operations.recover(ws)
    assert "pruned" in notes[0], notes
    assert journal.pending(ws) is None
    assert files_of(ws) == before
    assert operations.solve_step(ws, loaded, loaded.step(1)).changed  # and the command works again


def test_status_after_a_kill_says_it_and_verify_recovers_before_reading(ws, loaded, monkeypatch, cli):
    killed_at(ws, loaded, "reset", "switched")
    result = cli("-w", str(ws), "status")
    assert result.exit_code == 0, result.output
    assert "interrupted" in result.output
    assert journal.pending(ws) is None
    killed_at(ws, loaded, "reset", "switched", step=0)
    from workshop.cli import common

    seen = []
    real = common.finish_interrupted
    monkeypatch.setattr(common, "finish_interrupted", lambda root, **kw: seen.append(journal.pending(root)) or real(root, **kw))
    cli("-w", str(ws), "verify")
    assert seen and seen[0] is not None and journal.pending(ws) is None  # recovered before verify read a file


def _freeze(path: Path) -> bool:
    """Make `path` impossible to replace: immutable as root, a read-only folder otherwise."""
    if os.geteuid() == 0:
        return subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
    path.parent.chmod(0o555)
    return True


def _thaw(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    else:
        path.parent.chmod(0o755)


def test_a_file_that_cannot_be_replaced_is_named_with_the_backup_and_the_way_out(ws, loaded):
    changed = sorted(operations.reset_to_step(ws, loaded, loaded.steps[-1]).changed)
    (ws / "svc-a" / "mine.txt").write_text("more work\n")
    changed = [path for path in changed if (ws / path).is_file()]
    stuck = ws / changed[-1]
    if not _freeze(stuck):
        pytest.skip("cannot make a file immutable here")
    try:
        with pytest.raises(WorkshopError) as caught:
            operations.reset_to_step(ws, loaded, loaded.step(0))
        message = caught.value.message
        assert changed[-1] in message and "backup" in message and "workshop reset --step 0" in message
        assert "unable to unlink" not in message
        backup = message.split("safe in backup ")[1].split(".")[0] + "." + message.split("safe in backup ")[1].split(".")[1]
        assert backup.endswith("reset-to-step-00")
    finally:
        _thaw(stuck)
    notes = operations.recover(ws)  # made writable: the next command finishes the reset
    assert "now finished" in notes[0]
    assert not (ws / "svc-a" / "mine.txt").exists()
