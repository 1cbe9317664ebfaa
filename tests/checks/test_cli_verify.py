"""`workshop verify` on the command line: JSON shape, exit codes, the table, state, and `next` requiring a pass."""

from __future__ import annotations

import json
import shutil

import pytest

JSON_KEYS = {"id", "title", "service", "family", "result", "observed", "expected", "fix", "seconds"}


@pytest.fixture
def learner(states, tmp_path):
    """learner(n): a workspace (progress file + both services) holding checkpoint n, current step n."""
    from workshop.course import model as course
    from workshop.course import workspace

    def make(after_step: int):
        root = tmp_path / f"learner-{after_step}"
        shutil.copytree(states(after_step), root)
        loaded = course.load()
        state = workspace.create(root, loaded.course_version, loaded.steps[0].id)
        state.current = loaded.step(max(after_step, 0)).id
        workspace.save_state(root, state)
        return root

    return make


def test_json_of_a_passing_step_and_the_state_it_records(learner, cli):
    from workshop.course import workspace

    root = learner(2)
    result = cli("verify", "--step", "2", "--json", "--workspace", str(root))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"step", "passed", "checks"} and data["step"] == 2 and data["passed"] is True
    assert [c["id"] for c in data["checks"]] == ["http-function-declared"]
    assert all(set(c) == JSON_KEYS for c in data["checks"])
    progress = workspace.load_state(root).steps["rename-http-function"]
    assert progress.state == "verified" and progress.verified_at and progress.last_verify["passed"] is True


def test_a_failing_step_exits_1_and_shows_the_fix(learner, cli):
    root = learner(1)
    result = cli("verify", "--step", "2", "--workspace", str(root))
    assert result.exit_code == 1, result.output
    assert "fail" in result.stdout and "PutRideRecordHttp" in result.stdout and "1 of 1 checks do not pass" in result.stdout


def test_next_requires_a_pass_unless_forced(learner, cli):
    from workshop.course import workspace

    root = learner(2)
    refused = cli("next", "--workspace", str(root))
    assert refused.exit_code == 1 and "workshop verify" in refused.output
    assert cli("verify", "--workspace", str(root)).exit_code == 0
    moved = cli("next", "--workspace", str(root))
    assert moved.exit_code == 0, moved.output
    assert workspace.load_state(root).current == "deploy-http-function"
    forced = cli("next", "--force", "--workspace", str(root))
    assert forced.exit_code == 0 and workspace.load_state(root).steps["deploy-http-function"].state == "skipped"


def test_step_and_all_are_exclusive(learner, cli):
    result = cli("verify", "--step", "2", "--all", "--workspace", str(learner(2)))
    assert result.exit_code == 2, result.output


def test_a_failing_rerun_takes_verified_back(learner, cli):
    from workshop.course import workspace

    root = learner(2)
    assert cli("verify", "--workspace", str(root)).exit_code == 0
    (root / "wild-rydes-ride-record" / "serverless.yml").write_text("service: broken\n")
    assert cli("verify", "--workspace", str(root)).exit_code == 1
    assert workspace.load_state(root).steps["rename-http-function"].state == "not yet"
