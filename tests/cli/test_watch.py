"""`workshop watch`: real saves in a temporary workspace re-run the checks; keys move on, hint, quit; Ctrl-C leaves cleanly."""

from __future__ import annotations

import queue
import subprocess
import threading
import time

import pytest

from tests.cli.conftest import WIDTHS, console, text_of
from tests.conftest import REPO

pytestmark = pytest.mark.timeout(400)  # generous: a busy machine runs pytest slowly; the waits end as soon as the screen shows


def wait_for(con, text: str, timeout: float = 120.0, after: int = 0) -> int:
    """Wait until `text` appears in the console's output after position `after`; returns where it ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = text_of(con)
        at = out.find(text, after)
        if at >= 0:
            return at + len(text)
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared; the screen:\n{text_of(con)[after:]}")


def start(root, width=80, events=None):
    from workshop.cli.watch import Loop
    from workshop.course import model as course
    from workshop.course import progress

    con = console(width)
    events = events or queue.Queue()
    loop = Loop(progress.open_session(root, course.load()), con, events, debounce_ms=100)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    return loop, con, events, thread


def apply_solution(root, number: int) -> None:
    patch = next((REPO / "solutions").glob(f"{number:02d}-*.patch"))
    subprocess.run(["git", "apply", "--whitespace=nowarn", str(patch)], cwd=root, check=True, capture_output=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_save_reruns_the_checks_then_n_moves_on_and_names_the_deploy(learner, width):
    from workshop.course import workspace

    root = learner(1, current=2)  # at the start of step 2: the function is not renamed yet
    loop, con, events, thread = start(root, width)
    at = wait_for(con, "1 of 1 checks fail")
    assert "http-function-declared" in text_of(con) and "wild-rydes-ride-record tests: 2 passed" in text_of(con)
    time.sleep(0.5)  # let the OS watch settle
    apply_solution(root, 2)  # a real save of serverless.yml
    at = wait_for(con, "step verified: press n for the next step.", after=at)
    assert workspace.load_state(root).steps["rename-http-function"].state == "verified"
    events.put(("key", "n"))
    at = wait_for(con, "watching step 3", after=at)
    at = wait_for(con, "files are right: run `workshop deploy wild-rydes-ride-record` (press d)", after=at)
    events.put(("key", "q"))
    thread.join(120)
    assert not thread.is_alive() and loop.stop.is_set()
    assert text_of(con).rstrip().endswith("`workshop watch` starts again where you are.")
    state = workspace.load_state(root)
    assert state.current == "deploy-http-function"
    # nothing was written to the account: no emulator was even started, and no deploy log exists
    assert not (root / ".workshop" / "emulator").exists()
    assert not any((root / ".workshop" / "logs").glob("*")) if (root / ".workshop" / "logs").exists() else True
    for line in text_of(con).splitlines():
        assert len(line) <= width or " " not in line.strip(), f"line wider than {width}: {line!r}"


def test_a_broken_handler_fails_the_service_tests_and_a_fix_passes_them(learner):
    root = learner(0, current=1)  # step 1 (code): split the handler
    loop, con, events, thread = start(root)
    at = wait_for(con, "2 of 3 checks fail")
    time.sleep(0.5)
    apply_solution(root, 1)
    at = wait_for(con, "step verified: press n", after=at)
    handler = root / "wild-rydes-ride-record" / "handlers" / "put_ride_record.py"
    handler.write_text(handler.read_text() + "\nthis is not python\n")
    at = wait_for(con, "wild-rydes-ride-record tests fail", after=at)
    assert "tests: " in text_of(con)[at - 2000:]
    events.put(("key", "h"))
    wait_for(con, "hint 1 of", after=at)
    events.put(("key", "q"))
    thread.join(120)
    assert not thread.is_alive()


def test_ctrl_c_leaves_cleanly(learner):
    class Interrupting(queue.Queue):
        def get(self, *args, **kwargs):
            raise KeyboardInterrupt

    root = learner(1, current=2)
    loop, con, _, thread = start(root, events=Interrupting())
    thread.join(120)
    assert not thread.is_alive() and loop.stop.is_set()
    assert "Stopped watching" in text_of(con) and "Traceback" not in text_of(con)


def test_a_save_outside_the_step_services_or_in_a_cache_is_ignored(tmp_path):
    from workshop.instructor.watch import relevant

    services = ("wild-rydes", "wild-rydes-ride-record")
    assert relevant(tmp_path / "wild-rydes" / "serverless.yml", tmp_path, services) == "wild-rydes"
    assert relevant(tmp_path / "wild-rydes-ride-record" / "handlers" / "x.py", tmp_path, services) == "wild-rydes-ride-record"
    for ignored in ("notes.md", ".workshop/state.json", "wild-rydes/.serverless/x.json", "wild-rydes/__pycache__/a.pyc",
                    "wild-rydes/node_modules/a.js", "wild-rydes/handlers/.x.py.swp"):
        assert relevant(tmp_path / ignored, tmp_path, services) is None, ignored


def test_deploy_steps_check_the_files_they_deploy_and_name_the_deploy(course_states):
    """At the start of every deploy step the earlier static checks of its services pass: watch says what to deploy."""
    from workshop.checks import registry
    from workshop.course import model as course
    from workshop.instructor import watch

    loaded = course.load()
    deploy_only = [s for s in loaded.steps if s.deploys and s.number > 0
                   and not any(registry.get(c).family == "static" for c in s.checks)]
    assert [s.number for s in deploy_only] == [3, 6, 10, 12]
    for step in deploy_only:
        ids = watch.static_checks(loaded, step)
        assert ids, f"step {step.number} re-runs no file check"
        from workshop.checks import runner
        from workshop.checks.model import Context
        from workshop.deploy.targets import Target

        ctx = Context(course_states(step.number - 1), Target(), course_root=REPO)
        runs = runner.run_checks(ctx, ids)
        assert all(r.result.passed for r in runs), (step.number, [(r.check.id, r.result.observed) for r in runs if not r.result.passed])


def test_the_cli_command_starts_and_quits_on_q(learner, cli):
    root = learner(1, current=2)
    result = cli("watch", "--workspace", str(root), input="q")
    assert result.exit_code == 0, result.output
    assert "watching step 2" in result.stdout and "Stopped watching" in result.stdout


def test_d_deploys_only_when_pressed_then_v_runs_the_live_checks(learner, monkeypatch):
    from workshop.checks import runner
    from workshop.checks.runner import Report
    from workshop.deploy import rollout

    deployed, verified = [], []

    class FakeContext:
        runs: list = []

        @classmethod
        def open(cls, root, target, **kwargs):
            return cls()

    monkeypatch.setattr(rollout, "Context", FakeContext)
    monkeypatch.setattr(rollout, "deploy_one", lambda ctx, service, **kw: deployed.append(service))
    monkeypatch.setattr(rollout, "deploy_all", lambda *a, **kw: deployed.append("all"))
    monkeypatch.setattr(runner, "run_step", lambda session, step, **kw: verified.append(step.id) or Report(step, []))
    monkeypatch.setattr("workshop.cli.common.Spinner", lambda rctx: __import__("contextlib").nullcontext())

    root = learner(2, current=3)  # step 3 deploys ride-record; its files are right
    loop, con, events, thread = start(root)
    at = wait_for(con, "files are right: run `workshop deploy wild-rydes-ride-record` (press d)")
    time.sleep(0.5)
    (root / "wild-rydes-ride-record" / "serverless.yml").write_text((root / "wild-rydes-ride-record" / "serverless.yml").read_text() + "\n")
    at = wait_for(con, "watching step 3", after=at)
    wait_for(con, "(press d)", after=at)
    assert deployed == [] and verified == []  # saves never deploy nor run the live checks
    events.put(("key", "d"))
    at = wait_for(con, "files are right: press v to run the live checks", after=at)
    assert deployed == ["wild-rydes-ride-record"] and verified == []
    events.put(("key", "v"))
    wait_for(con, "live checks:", after=at)
    assert verified == ["deploy-http-function"]
    events.put(("key", "q"))
    thread.join(120)
    assert not thread.is_alive()
