"""Fault injection: SIGKILL during reset, solve and restore; the next command leaves the workspace unchanged or fully at the
target, and any backup it made is complete.

Three ways to die: a forked runner killed after a random delay (alone, leaving its git child orphaned, or with its whole
process group, like a power cut), a kill at each named journal point ($WORKSHOP_TEST_KILL_AT), and the real CLI in a
subprocess killed after a random delay. $WORKSHOP_FAULT_KILLS sets the number of random in-process kills (default 120).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from git_helpers import copy_workspace, files_of, git, make_workspace, services

from workshop.checkpoints import backups, journal, operations
from workshop.checkpoints.repo import Repo
from workshop.course import model as course
from workshop.course import workspace

KILLS = int(os.environ.get("WORKSHOP_FAULT_KILLS", "120"))
CLI_KILLS = int(os.environ.get("WORKSHOP_FAULT_CLI_KILLS", "8"))
POINTS = ("begun", "applying", "switched", "installed")
TOTAL = {"random": 0, "named": 0, "cli": 0, "finished": 0, "unchanged": 0}


def learner_edits(root: Path) -> None:
    record = root / "svc-a" / "handlers" / "record.py"
    record.write_text("# the learner's note\n" + record.read_text())
    (root / "svc-b" / "app.py").chmod(0o755)
    (root / "ideas" / "deep").mkdir(parents=True)
    (root / "ideas" / "deep" / "plan.bin").write_bytes(bytes(range(256)) * 4)
    (root / "svc-b" / "tests" / "test_app.py").unlink()


def run_op(root: Path, loaded, op: str, restore_name: str):
    if op == "reset":
        return operations.reset_to_step(root, loaded, loaded.step(2))
    if op == "solve":
        return operations.solve_step(root, loaded, loaded.step(1))
    return operations.restore(root, restore_name, services())


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory):
    """A template workspace with the learner's edits, and for each operation what an uninterrupted run gives."""
    old = os.environ.get("WORKSHOP_COURSE_DIR")
    os.environ["WORKSHOP_COURSE_DIR"] = str(Path(__file__).parents[1] / "sample_course")
    course._load.cache_clear()
    loaded = course.load()
    base = tmp_path_factory.mktemp("faults")
    template = make_workspace(base / "template", loaded)
    (template / "svc-a" / "old.txt").write_text("older work\n")
    restore_name = operations.reset_to_step(template, loaded, loaded.step(1)).backup.name
    learner_edits(template)
    expected = {}
    for op in ("reset", "solve", "restore"):
        ws = copy_workspace(template, base / f"expected-{op}")
        outcome = run_op(ws, loaded, op, restore_name)
        tree = Repo(ws).revs(f"{outcome.backup.commit}^{{tree}}")[0]
        expected[op] = (files_of(ws), tree)
    yield template, loaded, restore_name, expected, files_of(template)
    course._load.cache_clear()
    if old is None:
        os.environ.pop("WORKSHOP_COURSE_DIR", None)
    else:
        os.environ["WORKSHOP_COURSE_DIR"] = old


def forked_kill(ws: Path, loaded, op: str, restore_name: str, *, delay: float | None, point: str | None, group: bool) -> None:
    """Run `op` in a forked child that dies by SIGKILL (after `delay`, or at the journal `point`)."""
    pid = os.fork()
    if pid == 0:  # the child: a runner about to be killed
        try:
            os.setpgid(0, 0)
            if point:
                os.environ[journal.KILL_ENV] = point
            if delay is not None:
                target = (lambda: os.killpg(0, signal.SIGKILL)) if group else (lambda: os.kill(os.getpid(), signal.SIGKILL))
                threading.Timer(delay, target).start()
            run_op(ws, loaded, op, restore_name)
            if delay is not None:
                time.sleep(5)  # finished before the timer: let it fire anyway, the outcome must hold either way
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def check_after_next_command(ws: Path, op: str, before, expected) -> str:
    """Run the next command's recovery, then the invariant: unchanged or at the target, backups complete."""
    operations.recover(ws)
    after = files_of(ws)
    target_files, backup_tree = expected[op]
    repo = Repo(ws)
    trees = {repo.revs(f"{b.commit}^{{tree}}")[0] for b in backups.list_all(repo)}
    assert journal.pending(ws) is None and not (ws / ".git" / "index.lock").exists()
    git(ws, "status", "--porcelain")  # the index is readable by the learner's git
    if after == target_files:
        assert backup_tree in trees, f"{op}: at the target but no complete backup of the files before"
        if op == "reset":
            assert workspace.load_state(ws).current == "third"
        return "finished"
    assert after == before, f"{op}: neither unchanged nor at the target: {sorted(set(after) ^ set(before))}"
    return "unchanged"


def test_random_sigkill_in_process(scenarios, tmp_path):
    template, loaded, restore_name, expected, before = scenarios
    rng = random.Random(20240601)
    for number in range(KILLS):
        op = ("reset", "solve", "restore")[number % 3]
        ws = copy_workspace(template, tmp_path / f"k{number}")
        forked_kill(ws, loaded, op, restore_name, delay=rng.uniform(0.0, 0.16), point=None, group=rng.random() < 0.5)
        TOTAL["random"] += 1
        TOTAL[check_after_next_command(ws, op, before, expected)] += 1
    print(f"\nrandom in-process kills: {TOTAL['random']}; finished by the next command {TOTAL['finished']}, unchanged {TOTAL['unchanged']}")
    assert TOTAL["finished"] and TOTAL["unchanged"], "the delays should hit both before and after the switch"


@pytest.mark.parametrize("op", ["reset", "solve", "restore"])
@pytest.mark.parametrize("point", POINTS)
def test_kill_at_each_journal_point(scenarios, tmp_path, op, point):
    template, loaded, restore_name, expected, before = scenarios
    ws = copy_workspace(template, tmp_path / "ws")
    forked_kill(ws, loaded, op, restore_name, delay=None, point=f"{op}:{point}", group=False)
    assert journal.pending(ws) is not None, "the kill point was not reached"
    notes = operations.recover(ws)
    assert notes and ("finished" in notes[0] or "before it changed any file" in notes[0])
    TOTAL["named"] += 1
    expected_state = "unchanged" if point == "begun" else "finished"
    assert check_after_next_command(ws, op, before, expected) == expected_state


def test_sigkill_the_real_cli(scenarios, tmp_path):
    template, loaded, restore_name, expected, before = scenarios
    rng = random.Random(7)
    env = {**os.environ, "WORKSHOP_COURSE_DIR": str(loaded.root), "NO_COLOR": "1"}
    commands = {"reset": ["reset", "--step", "2"], "solve": ["solve", "--step", "1"], "restore": ["restore", restore_name]}
    landed = 0
    for number in range(CLI_KILLS):
        op = ("reset", "solve", "restore")[number % 3]
        ws = copy_workspace(template, tmp_path / f"cli{number}")
        proc = subprocess.Popen([sys.executable, "-m", "workshop", "-w", str(ws), *commands[op]], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        started = journal.path(ws)  # written when the operation begins: wait for it, then kill somewhere inside
        deadline = time.monotonic() + 60
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.03))
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        landed += journal.pending(ws) is not None  # the operation was cut short: the next command has to finish it
        nxt = subprocess.run([sys.executable, "-m", "workshop", "-w", str(ws), "backups", "--json"], env=env, capture_output=True, text=True)
        assert nxt.returncode == 0, nxt.stderr
        TOTAL["cli"] += 1
        check_after_next_command(ws, op, before, expected)
    assert landed * 2 >= CLI_KILLS, f"only {landed} of {CLI_KILLS} kills landed inside an operation"
    print(f"\nCLI kills: {TOTAL['cli']} ({landed} inside an operation); total kills so far: {TOTAL['random'] + TOTAL['named'] + TOTAL['cli']}")
