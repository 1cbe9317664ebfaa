"""A verified mark belongs to the files (and deploys) it was earned on: a reset takes back the marks of the step and
every later one, `next` verifies again a step whose files changed since, and a deploy names the deploy still missing."""

from __future__ import annotations

import json

import pytest

from workshop.course import model, progress, workspace
from workshop.deploy import rollout, targets

RR, WR = "wild-rydes-ride-record", "wild-rydes"


@pytest.fixture
def ws(tmp_path, cli, monkeypatch):
    root = tmp_path / "ws"
    assert cli("init", str(root)).exit_code == 0
    monkeypatch.chdir(root)
    return root


def _states(cli) -> list[str]:
    return [s["state"] for s in json.loads(cli("status", "--json").stdout)["steps"]]


def _verified_everywhere(root) -> None:
    """Every step marked as a passing verify leaves it, the last one current: the module finished."""
    session = progress.open_session(root, model.load())
    for step in session.course.steps:
        progress.mark_verified(session, step, workspace.now())
    session.state.current = session.course.steps[-1].id
    session.save()


def test_reset_takes_back_the_marks_of_the_step_and_every_later_one(ws, cli):
    _verified_everywhere(ws)
    step = model.load().by_id("add-sns-handler")
    result = cli("reset", "--step", step.id)
    assert result.exit_code == 0, result.output
    states = _states(cli)
    assert states[: step.number] == ["verified"] * step.number
    assert set(states[step.number:]) == {"not yet"}, states
    assert cli("next").exit_code == 1  # the reset step is not verified any more


def test_reset_to_a_step_whose_files_are_already_there_takes_back_the_marks_too(ws, cli):
    _verified_everywhere(ws)
    first = model.load().steps[0]  # init leaves the files at the start: nothing to change
    result = cli("reset", "--step", str(first.number))
    assert result.exit_code == 0 and "nothing was changed" in result.output, result.output
    assert set(_states(cli)) == {"not yet"}
    assert json.loads(cli("status", "--json").stdout)["current"] == first.id  # the marker moved from the last step


def _at_verified_step_2(ws, cli):
    step = model.load().by_id("rename-http-function")
    assert cli("reset", "--step", step.id).exit_code == 0
    assert cli("solve").exit_code == 0
    result = cli("verify")
    assert result.exit_code == 0, result.output
    return step, ws / RR / "serverless.yml"


def test_next_verifies_again_a_step_whose_files_changed_and_stays_when_it_fails(ws, cli):
    step, yml = _at_verified_step_2(ws, cli)
    yml.write_text(yml.read_text().replace("PutRideRecordHttp:", "PutRideRecord:", 1))  # undo the step's work
    result = cli("next")
    assert result.exit_code == 1, result.output
    assert "changed since it was verified" in result.output and "workshop verify" in result.output
    data = json.loads(cli("status", "--json").stdout)
    assert data["current"] == step.id and data["steps"][step.number]["state"] == "not yet"


def test_back_goto_then_edits_verify_again_and_a_correct_edit_moves_on(ws, cli):
    step, yml = _at_verified_step_2(ws, cli)
    assert cli("back").exit_code == 0 and cli("goto", step.id).exit_code == 0
    yml.write_text(yml.read_text() + "\n# a note of mine\n")  # still correct
    result = cli("next")
    assert result.exit_code == 0, result.output
    assert "changed since it was verified: running its checks again" in result.output and "checks pass on your files as they are now" in result.output
    assert json.loads(cli("status", "--json").stdout)["current"] != step.id


def test_next_without_changes_moves_on_without_verifying_again(ws, cli, monkeypatch):
    step, _ = _at_verified_step_2(ws, cli)
    from workshop.checks import runner

    monkeypatch.setattr(runner, "run_step", lambda *a, **k: pytest.fail("verified again although nothing changed"))
    assert cli("goto", step.id).exit_code == 0
    assert cli("next").exit_code == 0


def test_a_mark_without_a_fingerprint_counts_as_changed(ws):
    session = progress.open_session(ws, model.load())
    step = session.course.steps[1]
    session.state.step(step.id).state = "verified"  # written by an older runner
    assert progress.changed_since_verified(session, step)
    progress.mark_verified(session, step, workspace.now())
    assert not progress.changed_since_verified(session, step)
    (ws / RR / "__pycache__").mkdir(exist_ok=True)
    (ws / RR / "__pycache__" / "x.pyc").write_bytes(b"build output")  # not the learner's work
    assert not progress.changed_since_verified(session, step)


@pytest.fixture
def no_deploys(monkeypatch):
    """`workshop deploy` without osls or the emulator: every deploy succeeds at once."""
    deployed = []
    monkeypatch.setattr(targets, "endpoint_for", lambda root, target: "http://127.0.0.1:9")
    monkeypatch.setattr(rollout, "deploy_one", lambda ctx, service, recreate=False: deployed.append(service))
    return deployed


def test_a_deploy_names_the_deploy_the_step_still_needs(ws, cli, no_deploys):
    first = model.load().steps[0]
    assert first.deploys == (RR, WR)
    result = cli("deploy", RR)
    assert result.exit_code == 0, result.output
    assert f"Next: `workshop deploy {WR}`, then `workshop verify`." in result.output
    result = cli("deploy", WR)
    assert "Next: `workshop verify`." in result.output and "workshop deploy" not in result.output.split("Next:")[1]
    (ws / RR / "serverless.yml").write_text((ws / RR / "serverless.yml").read_text() + "\n# changed\n")
    result = cli("deploy", WR)  # the ride-record files changed since their deploy
    assert f"Next: `workshop deploy {RR}`, then `workshop verify`." in result.output
    assert no_deploys == [RR, WR, WR]


def test_a_reset_killed_half_way_takes_back_the_marks_when_the_next_command_finishes_it(sample_course, tmp_path, cli):
    import os

    from workshop.checkpoints import journal, operations

    root = tmp_path / "sample"
    assert cli("init", str(root)).exit_code == 0
    loaded = model.load()
    session = progress.open_session(root, loaded)
    for step in loaded.steps:
        progress.mark_verified(session, step, workspace.now())
    session.save()
    (root / "svc-a" / "mine.txt").write_text("a file of mine: the reset has something to replace")
    pid = os.fork()
    if pid == 0:  # the reset dies right after switching the files, before its progress is written
        os.environ[journal.KILL_ENV] = "reset:switched"
        try:
            operations.reset_to_step(root, loaded, loaded.steps[1])
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert journal.pending(root) is not None
    assert cli("-w", str(root), "backups").exit_code == 0  # the next command finishes the reset
    states = {k: v.state for k, v in workspace.load_state(root).steps.items()}
    assert states == {loaded.steps[0].id: "verified", loaded.steps[1].id: "not yet", loaded.steps[2].id: "not yet"}
