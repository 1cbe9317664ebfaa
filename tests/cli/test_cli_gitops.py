"""The git commands through the CLI (CliRunner, fixed width, no colour): init, reset, backups, restore, diff, solve, dev."""

from __future__ import annotations

import json
import shutil

import pytest
from git_helpers import files_of, git


@pytest.fixture
def ws(tmp_path, sample_course, cli):
    root = tmp_path / "ws"
    result = cli("init", str(root))
    assert result.exit_code == 0, result.output
    return root


def ok(result):
    assert result.exit_code == 0, result.output
    return result.output


def test_init_says_what_it_built_and_is_safe_to_rerun(tmp_path, sample_course, cli):
    root = tmp_path / "fresh"
    first = ok(cli("init", str(root)))
    assert "a git repository with both services on `main` and 3 checkpoint branches" in first
    (root / "svc-a" / "mine.txt").write_text("learner work")
    again = ok(cli("init", str(root)))
    assert "already a workshop workspace; nothing was changed" in again
    assert (root / "svc-a" / "mine.txt").read_text() == "learner work"


def test_reset_prints_the_backup_and_the_restore_command(ws, cli):
    (ws / "svc-b" / "app.py").write_text("mine\n")
    out = ok(cli("-w", str(ws), "reset", "--step", "2"))
    assert "start of step 2" in out and "svc-b/app.py" in out
    listed = json.loads(ok(cli("-w", str(ws), "backups", "--json")))["backups"]
    assert [set(b) for b in listed] == [{"name", "created", "reason", "files"}]
    name = listed[0]["name"]
    assert f"`workshop restore {name}`" in out.replace("\n", "")
    assert json.loads(ok(cli("-w", str(ws), "status", "--json")))["current"] == "third"
    restored = ok(cli("-w", str(ws), "restore", name))
    assert "before-restore" in restored and (ws / "svc-b" / "app.py").read_text() == "mine\n"
    names = [b["name"] for b in json.loads(ok(cli("-w", str(ws), "backups", "--json")))["backups"]]
    assert names == sorted(names) and len(names) == 2  # newest last


def test_backups_table_never_truncates_names(ws, cli):
    (ws / "svc-a" / "x.txt").write_text("x")
    ok(cli("-w", str(ws), "reset", "--step", "1"))
    name = json.loads(ok(cli("-w", str(ws), "backups", "--json")))["backups"][0]["name"]
    assert name in ok(cli("-w", str(ws), "backups"))


def test_reset_json(ws, cli):
    (ws / "svc-a" / "x.txt").write_text("x")
    data = json.loads(ok(cli("-w", str(ws), "reset", "--step", "0", "--json")))
    assert data["step"] == "first" and data["changed"] == ["svc-a/x.txt"] and data["restore"].startswith("workshop restore ")


def test_out_of_range_and_unknown_backup_are_usage_errors(ws, cli):
    result = cli("-w", str(ws), "reset", "--step", "9")
    assert result.exit_code == 2 and "0 to 2" in result.output, result.output
    result = cli("-w", str(ws), "reset", "--step", "-1")
    assert result.exit_code == 2 and "0 to 2" in result.output, result.output
    result = cli("-w", str(ws), "restore", "nope")
    assert result.exit_code == 2 and "workshop backups" in result.output, result.output


def test_not_a_workspace(tmp_path, sample_course, cli):
    result = cli("-w", str(tmp_path), "reset", "--step", "1")
    assert result.exit_code == 1 and "workshop init" in result.output, result.output


def test_detached_head_is_refused(ws, cli):
    git(ws, "checkout", "-q", "--detach")
    result = cli("-w", str(ws), "solve", "--step", "1")
    assert result.exit_code == 1 and "git switch main" in result.output, result.output


def test_solve_and_diff(ws, cli):
    out = ok(cli("-w", str(ws), "diff", "--step", "1"))
    assert "+def record(ride):" in out and "--- your files" in out
    assert "svc-b/app.py" in ok(cli("-w", str(ws), "diff", "--step", "1", "--stat"))
    only = ok(cli("-w", str(ws), "diff", "--step", "1", str(ws / "svc-b")))
    assert "svc-b/app.py" in only and "record.py" not in only
    out = ok(cli("-w", str(ws), "solve", "--step", "1"))
    assert "Applied the solution of step 1" in out and "workshop restore" in out
    assert "No differences" in ok(cli("-w", str(ws), "diff", "--step", "1"))
    assert "record.py" in ok(cli("-w", str(ws), "diff", "--step", "1", "--against", "start"))


def test_solve_conflict_lists_files(ws, cli):
    (ws / "svc-b" / "app.py").write_text('def handler(event, context):\n    return {"statusCode": 500}\n')
    out = ok(cli("-w", str(ws), "solve", "--step", "1"))
    assert "conflicts in 1 file" in out and "svc-b/app.py" in out
    assert "<<<<<<<" in (ws / "svc-b" / "app.py").read_text()
    ok(cli("-w", str(ws), "reset", "--step", "1"))
    assert "<<<<<<<" not in (ws / "svc-b" / "app.py").read_text()


def test_solve_without_patch_names_the_deploy(ws, cli):
    before = files_of(ws)
    out = ok(cli("-w", str(ws), "solve", "--step", "0"))
    assert "`workshop deploy svc-a`" in out and files_of(ws) == before


def test_interrupted_operation_is_finished_by_the_next_command(ws, cli):
    from workshop.checkpoints import journal, operations
    from workshop.course import model as course

    loaded = course.load()
    (ws / "svc-a" / "mine.txt").write_text("keep me")
    import os

    pid = os.fork()
    if pid == 0:
        os.environ[journal.KILL_ENV] = "reset:switched"
        try:
            operations.reset_to_step(ws, loaded, loaded.step(2))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    result = cli("-w", str(ws), "backups")
    assert result.exit_code == 0, result.output
    assert "was interrupted; it is now finished" in result.output and "workshop restore" in result.output
    assert not (ws / "svc-a" / "mine.txt").exists()


def test_dev_record_and_check(tmp_path, sample_course, cli, monkeypatch):
    from workshop.course import model as course

    copy = tmp_path / "course"
    shutil.copytree(sample_course, copy)
    monkeypatch.setenv("WORKSHOP_COURSE_DIR", str(copy))
    course._load.cache_clear()
    root = tmp_path / "ws"
    ok(cli("init", str(root)))
    ok(cli("-w", str(root), "reset", "--step", "2"))
    (root / "svc-b" / "app.py").write_text('def handler(event, context):\n    return {"statusCode": 201, "body": "new"}\n')
    out = ok(cli("-w", str(root), "dev", "record", "1"))
    assert "01-second.patch" in out and "Checkpoint branches rebuilt" in out
    check = cli("dev", "check", "--skip-tests", "--skip-live")
    assert "all 2 patches apply in order" in check.output
    # The sample course names checks the real registry does not have: reported, not hidden.
    assert check.exit_code == 1 and "FAIL every check named in course.toml exists" in check.output, check.output
    assert "unknown check 'check-one'" in check.output


def test_restore_of_a_backup_holding_notes_names_the_command_that_brings_them_back(ws, cli):
    (ws / "my notes.md").write_text("mine\n")
    git(ws, "add", "my notes.md")
    commit = git(ws, "commit-tree", git(ws, "write-tree").strip(), "-m", "workshop backup: old\n\nReason: old\nFiles: 9\n").strip()
    git(ws, "update-ref", "refs/workshop/backups/20260101T000000.000000Z-old", commit)
    git(ws, "rm", "-q", "--cached", "my notes.md")
    (ws / "my notes.md").unlink()
    out = ok(cli("-w", str(ws), "restore", "--last"))
    assert f"git restore --source={commit} -- 'my notes.md'" in " ".join(out.split()), out
    assert not (ws / "my notes.md").exists()


def test_odd_restore_and_diff_input_gets_one_line(ws, cli):
    result = cli("-w", str(ws), "restore", "--last")
    assert result.exit_code == 2 and "no backups yet" in result.output and "none yet" not in result.output, result.output
    result = cli("-w", str(ws), "diff", "../../etc/passwd")
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and "outside the workspace" in lines[0], result.output
    (ws / "svc-a" / "x.txt").write_text("x")
    assert "(1 file changed)" in ok(cli("-w", str(ws), "reset", "--step", "1"))
