"""The workspace repository: checkpoints, reset, solve, diff, backups, refusals, record, dev check (sample course)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from git_helpers import files_of, git, make_workspace, services

from workshop.checkpoints import backups, operations
from workshop.checkpoints import build as checkpoints
from workshop.checkpoints import repo as gitrepo
from workshop.course import model as course
from workshop.course import workspace
from workshop.errors import BadInput, NotAWorkspace, WorkshopError


def tree_files(root: Path, ref: str) -> set[str]:
    return set(git(root, "ls-tree", "-r", "--name-only", ref).split())


def test_init_builds_main_and_one_branch_per_step(ws, loaded):
    assert git(ws, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert git(ws, "config", "core.autocrlf").strip() == "false"
    assert git(ws, "status", "--porcelain") == ""
    branches = git(ws, "branch", "--format=%(refname:short)").split()
    assert branches == ["checkpoint/00-first", "checkpoint/01-second", "checkpoint/02-third", "main"]
    # A step without a patch (0, deploy) is the start itself; the others add their change.
    assert git(ws, "rev-parse", "checkpoint/00-first").strip() == git(ws, "rev-parse", "main").strip()
    assert "svc-b/dlq.md" in tree_files(ws, "checkpoint/02-third")
    assert "svc-b/dlq.md" not in tree_files(ws, "checkpoint/01-second")
    assert git(ws, "log", "-1", "--format=%an <%ae>", "main").strip() == f"{gitrepo.RUNNER_NAME} <{gitrepo.RUNNER_EMAIL}>"
    assert (ws / ".gitignore").read_text().splitlines()[1:] == list(workspace.IGNORED)
    # The learner's diff against a checkpoint works with plain git.
    assert "RECORDS" in git(ws, "diff", "main", "checkpoint/01-second")


def test_init_is_idempotent_and_same_ids(ws, loaded, tmp_path):
    first = git(ws, "for-each-ref", "--format=%(refname) %(objectname)")
    (ws / "svc-a" / "mine.txt").write_text("learner work")
    again = checkpoints.init_repo(ws, loaded)
    assert again.updated == [] and not again.populated and not again.created_repo
    assert git(ws, "for-each-ref", "--format=%(refname) %(objectname)") == first
    assert (ws / "svc-a" / "mine.txt").read_text() == "learner work"
    other = make_workspace(tmp_path / "other", loaded)
    assert git(other, "rev-parse", "checkpoint/02-third") == git(ws, "rev-parse", "checkpoint/02-third")


def test_init_refuses_to_overwrite_existing_files(tmp_path, loaded):
    root = tmp_path / "busy"
    (root / "svc-b").mkdir(parents=True)
    (root / "svc-b" / "app.py").write_text("precious")
    with pytest.raises(WorkshopError, match="would overwrite"):
        make_workspace(root, loaded)
    assert (root / "svc-b" / "app.py").read_text() == "precious"


def test_reset_saves_everything_then_puts_the_step_start(ws, loaded):
    (ws / "svc-a" / "handlers" / "record.py").write_text("# my edit\n")
    (ws / "notes" / "deep").mkdir(parents=True)
    (ws / "notes" / "deep" / "idea.txt").write_text("untracked idea")
    (ws / "svc-b" / "app.py").unlink()
    (ws / "node_modules" / "x").mkdir(parents=True)
    (ws / "node_modules" / "x" / "big.js").write_text("ignored")
    before = files_of(ws)
    outcome = operations.reset_to_step(ws, loaded, loaded.step(2))
    kept = {"notes/deep/idea.txt": (b"untracked idea", False)}  # outside the service folders: the learner's, left alone
    assert files_of(ws) == files_of_ref(ws, "checkpoint/01-second") | kept
    assert workspace.load_state(ws).current == "third"
    in_services = {p for p in before if p.startswith(("svc-a/", "svc-b/"))}
    assert outcome.backup is not None and outcome.backup.files == len(in_services)
    saved = tree_files(ws, backups.PREFIX + outcome.backup.name)  # the services' files; outside them, what git tracks
    assert saved == in_services | {".gitignore"} and not any(p.startswith(("node_modules", "notes")) for p in saved)
    assert (ws / "node_modules" / "x" / "big.js").read_text() == "ignored"  # ignored folders are never touched
    operations.restore(ws, outcome.backup.name, services())
    assert files_of(ws) == before


def files_of_ref(root: Path, ref: str) -> dict[str, tuple[bytes, bool]]:
    out = {}
    for line in git(root, "ls-tree", "-r", ref).splitlines():
        meta, path = line.split("\t", 1)
        mode, _, sha = meta.split()
        import subprocess

        content = subprocess.run(["git", "cat-file", "blob", sha], cwd=root, capture_output=True, check=True).stdout
        out[path] = (content, mode == "100755")
    return out


def test_reset_without_changes_makes_no_backup_but_moves_the_marker(ws, loaded):
    outcome = operations.reset_to_step(ws, loaded, loaded.step(1))
    assert outcome.backup is None and outcome.changed == []
    assert workspace.load_state(ws).current == "second"


def test_solve_merges_with_the_learners_work(ws, loaded):
    path = ws / "svc-a" / "handlers" / "record.py"
    path.write_text("# learner comment\n" + path.read_text())
    outcome = operations.solve_step(ws, loaded, loaded.step(1))
    text = path.read_text()
    assert text.startswith("# learner comment\n") and "def record(ride)" in text
    assert outcome.conflicts == [] and outcome.backup is not None
    assert "svc-b/app.py" in outcome.changed


def test_solve_conflict_leaves_markers_and_reset_still_works(ws, loaded):
    path = ws / "svc-b" / "app.py"
    path.write_text('def handler(event, context):\n    return {"statusCode": 500}\n')
    outcome = operations.solve_step(ws, loaded, loaded.step(1))
    assert outcome.conflicts == ["svc-b/app.py"]
    text = path.read_text()
    assert "<<<<<<< your files" in text and ">>>>>>> solution of step 1" in text
    assert git(ws, "ls-files", "-u") == ""  # markers only: no unmerged index entries for the learner to untangle
    again = operations.reset_to_step(ws, loaded, loaded.step(1))
    assert "<<<<<<<" not in path.read_text()
    assert "<<<<<<<" in git(ws, "show", f"{backups.PREFIX}{again.backup.name}:svc-b/app.py")


def test_solve_on_a_step_without_patch_changes_nothing(ws, loaded):
    before = files_of(ws)
    outcome = operations.solve_step(ws, loaded, loaded.step(0))
    assert outcome.commands == ["workshop deploy svc-a"] and outcome.backup is None
    assert files_of(ws) == before
    assert backups.list_all(gitrepo.Repo(ws)) == []


def test_solve_twice_is_a_no_op(ws, loaded):
    operations.solve_step(ws, loaded, loaded.step(1))
    second = operations.solve_step(ws, loaded, loaded.step(1))
    assert second.backup is None and second.changed == []


def test_diff_against_solution_and_start(ws, loaded):
    result = operations.diff(ws, loaded, loaded.step(1))
    assert "+def record(ride):" in result.text and result.left == "your files"
    assert operations.diff(ws, loaded, loaded.step(1), against="start").text == ""
    (ws / "svc-a" / "new.txt").write_text("hi\n")
    (ws / "NOTES.md").write_text("mine\n")  # outside the service folders: not part of the course, not in its diff
    stat = operations.diff(ws, loaded, loaded.step(1), against="start", stat=True).text
    assert "svc-a/new.txt" in stat and "NOTES.md" not in stat
    assert "NOTES.md" not in operations.diff(ws, loaded, loaded.step(1)).text
    assert "NOTES.md" in operations.diff(ws, loaded, loaded.step(1), paths=("NOTES.md",)).text  # unless asked for
    only = operations.diff(ws, loaded, loaded.step(1), paths=("svc-b",)).text
    assert "svc-b/app.py" in only and "record.py" not in only


def test_staged_index_is_kept_in_the_backup(ws, loaded):
    path = ws / "svc-b" / "app.py"
    path.write_text("staged version\n")
    git(ws, "add", "svc-b/app.py")
    path.write_text("working version\n")
    outcome = operations.reset_to_step(ws, loaded, loaded.step(2))
    operations.restore(ws, outcome.backup.name, services())
    assert path.read_text() == "working version\n"
    assert git(ws, "show", ":svc-b/app.py") == "staged version\n"


def test_refusals_name_the_way_out(ws, loaded, tmp_path):
    with pytest.raises(NotAWorkspace, match="workshop init"):
        operations.reset_to_step(tmp_path, loaded, loaded.step(1))
    with pytest.raises(BadInput, match="0 to 2"):
        loaded.step(7)
    (ws / ".git" / "index.lock").write_text("")
    with pytest.raises(WorkshopError, match="delete .*index.lock"):
        operations.reset_to_step(ws, loaded, loaded.step(2))
    (ws / ".git" / "index.lock").unlink()
    git(ws, "checkout", "-q", "--detach")
    with pytest.raises(WorkshopError, match="git switch main"):
        operations.solve_step(ws, loaded, loaded.step(1))
    git(ws, "checkout", "-q", "main")
    (ws / ".git" / "MERGE_HEAD").write_text(git(ws, "rev-parse", "HEAD"))
    with pytest.raises(WorkshopError, match="merge --abort"):
        operations.reset_to_step(ws, loaded, loaded.step(2))
    (ws / ".git" / "MERGE_HEAD").unlink()


def test_unmerged_index_from_the_learner_is_refused(ws, loaded):
    git(ws, "checkout", "-q", "-b", "side")
    (ws / "svc-b" / "app.py").write_text("side\n")
    git(ws, "commit", "-qam", "side")
    git(ws, "checkout", "-q", "main")
    (ws / "svc-b" / "app.py").write_text("main\n")
    git(ws, "commit", "-qam", "main")
    git(ws, "merge", "-q", "side", check=False)
    (ws / ".git" / "MERGE_HEAD").unlink()  # only the unmerged entries are left
    before = files_of(ws)
    with pytest.raises(WorkshopError, match="unmerged"):
        operations.reset_to_step(ws, loaded, loaded.step(2))
    assert files_of(ws) == before and not (ws / ".git" / "index.lock").exists()


def test_git_missing_is_reported_before_gitpython(ws, monkeypatch):
    monkeypatch.setattr(gitrepo.shutil, "which", lambda name: None)
    with pytest.raises(WorkshopError, match="git is not installed"):
        gitrepo.Repo(ws)


def test_record_regenerates_a_patch(tmp_path, monkeypatch, sample_course):
    copy = tmp_path / "course"
    shutil.copytree(sample_course, copy)
    monkeypatch.setenv("WORKSHOP_COURSE_DIR", str(copy))
    course._load.cache_clear()
    loaded = course.load()
    ws = make_workspace(tmp_path / "ws", loaded)
    operations.reset_to_step(ws, loaded, loaded.step(2))  # the state after step 1
    path = ws / "svc-b" / "app.py"
    path.write_text(path.read_text().replace('"ok"', '"recorded"'))
    result = checkpoints.record_step(ws, loaded, loaded.step(1))
    assert result.later_problem is None and set(result.files) == {"svc-a/handlers/record.py", "svc-b/app.py"}
    assert '+    return {"statusCode": 201, "body": "recorded"}' in result.patch.read_text()
    assert '"recorded"' in git(ws, "show", "checkpoint/01-second:svc-b/app.py")
    with pytest.raises(WorkshopError, match="nothing to record"):
        operations.reset_to_step(ws, loaded, loaded.step(1))
        checkpoints.record_step(ws, loaded, loaded.step(1))


def test_dev_check_on_the_sample_course(loaded):
    from workshop.instructor import devcheck

    report = {item.name: item for item in devcheck.check_course(loaded)}
    failing = {name: item.detail for name, item in report.items() if not item.ok}
    # The sample course has no steps/tests/test_handler_http.py and no case corpus; everything else must pass.
    assert list(failing) == ["steps/tests/test_handler_http.py exists (step 01-second's test)",
                             "steps/cases/ holds at least 4 mistakes and 3 alternatives per code or config step"], failing
    assert "every checkpoint's serverless.yml names handlers its code defines" in report
    assert "start: the unit tests of svc-a pass" in report
    assert "02-third: the unit tests of svc-b pass" in report


def test_dev_check_catches_a_patch_that_does_not_apply(tmp_path, monkeypatch, sample_course):
    from workshop.instructor import devcheck

    copy = tmp_path / "course"
    shutil.copytree(sample_course, copy)
    (copy / "solutions" / "02-third.patch").write_text((copy / "solutions" / "02-third.patch").read_text().replace("handler: app.handler", "handler: gone"))
    (copy / "solutions" / "99-nothing.patch").write_text("")
    monkeypatch.setenv("WORKSHOP_COURSE_DIR", str(copy))
    course._load.cache_clear()
    report = devcheck.check_course(course.load(), run_tests=False)
    assert [item.ok for item in report] == [False, False]
    assert "99-nothing.patch" in report[0].detail and "02-third.patch does not apply" in report[1].detail

