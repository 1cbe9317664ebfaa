"""Issue 13, learner data: whatever the learner's git attributes and config, whatever the state of the repository,
the runner never loses a byte, an exec bit or a symlink, never touches refs it did not make, and never dead-ends."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from git_helpers import files_of, git, services

from workshop.checkpoints import operations

CRLF = b"def handler(event, context):\r\n    return 1\r\n"


def _round_trip(root: Path, loaded) -> None:
    """reset (the files replaced), then restore the backup it made: the files must be as they were."""
    before = files_of(root)
    outcome = operations.reset_to_step(root, loaded, loaded.steps[-1])
    assert outcome.backup is not None
    operations.restore(root, outcome.backup.name, services())
    after = files_of(root)
    assert after == before, sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


def _learner_files(root: Path) -> None:
    (root / "svc-a" / "crlf.py").write_bytes(CRLF)
    (root / "svc-a" / "mixed.txt").write_bytes(b"one\r\ntwo\nthree\r\n")
    (root / "svc-a" / "link").symlink_to("crlf.py")
    (root / "svc-a" / "run.sh").write_bytes(b"#!/bin/sh\r\necho $Id$\r\n")
    (root / "svc-a" / "run.sh").chmod(0o755)


def test_global_attributes_text_auto_keep_crlf_bytes(ws, loaded):
    attributes = Path(os.environ["HOME"]) / ".config" / "git" / "attributes"
    attributes.parent.mkdir(parents=True, exist_ok=True)
    attributes.write_text("* text=auto\n")
    _learner_files(ws)
    _round_trip(ws, loaded)


def test_workspace_gitattributes_keep_crlf_bytes(ws, loaded):
    (ws / ".gitattributes").write_text("*.py text eol=lf\n*.txt text eol=crlf\n*.sh ident\n")
    _learner_files(ws)
    _round_trip(ws, loaded)


def test_repository_config_keeps_symlinks_exec_bits_and_crlf(ws, loaded):
    for key, value in (("core.symlinks", "false"), ("core.autocrlf", "true"), ("core.filemode", "false"), ("core.eol", "crlf")):
        git(ws, "config", key, value)
    _learner_files(ws)
    _round_trip(ws, loaded)
    assert (ws / "svc-a" / "link").is_symlink()


def test_global_config_autocrlf_and_attributes_file(ws, loaded, tmp_path, monkeypatch):
    attributes = tmp_path / "my-attributes"
    attributes.write_text("* text eol=crlf\n")
    config = tmp_path / "gitconfig"
    config.write_text(f"[core]\n\tautocrlf = true\n\tattributesFile = {attributes}\n\tsymlinks = false\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    _learner_files(ws)
    _round_trip(ws, loaded)


def test_git_variables_in_the_learners_environment_do_not_redirect_the_runner(ws, loaded, tmp_path, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    for name, value in (("GIT_DIR", other / ".git"), ("GIT_WORK_TREE", other), ("GIT_INDEX_FILE", other / "idx"),
                        ("GIT_OBJECT_DIRECTORY", other / ".git" / "objects"), ("GIT_CONFIG_PARAMETERS", "'core.symlinks'='false'")):
        monkeypatch.setenv(name, str(value))
    _learner_files(ws)
    _round_trip(ws, loaded)
    assert not (other / "idx").exists() and not list((other / ".git" / "refs" / "heads").iterdir())


def test_files_outside_the_service_folders_are_left_alone(ws, loaded):
    """Issue 16: reset, solve and restore replace the service folders; a learner's notes, their .gitignore and what they
    staged outside those folders stay exactly as they were, content and git status alike."""
    (ws / "NOTES.md").write_text("what I learned at step 1\n")  # untracked
    (ws / "journal").mkdir()
    (ws / "journal" / "day1.txt").write_text("staged\n")
    git(ws, "add", "journal/day1.txt")
    with (ws / ".gitignore").open("a") as handle:  # tracked, changed, not staged
        handle.write("*.log\n")
    (ws / "svc-a" / "scratch.py").write_text("mine\n")  # inside a service folder: reset replaces (and saves) it
    status = git(ws, "status", "--porcelain", "--", "NOTES.md", "journal", ".gitignore")
    outside = {p: v for p, v in files_of(ws).items() if not p.startswith(("svc-a/", "svc-b/"))}

    def left_alone(when: str) -> None:
        assert {p: v for p, v in files_of(ws).items() if not p.startswith(("svc-a/", "svc-b/"))} == outside, when
        assert git(ws, "status", "--porcelain", "--", "NOTES.md", "journal", ".gitignore") == status, when

    reset = operations.reset_to_step(ws, loaded, loaded.step(1))
    left_alone("reset")
    assert not (ws / "svc-a" / "scratch.py").exists() and reset.backup is not None
    (ws / "NOTES.md").write_text("what I learned at step 2\n")  # changed after the backup was taken
    outside["NOTES.md"] = (b"what I learned at step 2\n", False)
    status = git(ws, "status", "--porcelain", "--", "NOTES.md", "journal", ".gitignore")
    operations.solve_step(ws, loaded, loaded.step(1))
    left_alone("solve")
    operations.restore(ws, reset.backup.name, services())
    left_alone("restore")  # the backup's older NOTES.md does not come back over the newer one
    assert (ws / "svc-a" / "scratch.py").read_text() == "mine\n"


def _notes_and_status(ws: Path) -> tuple[dict, str]:
    outside = {p: v for p, v in files_of(ws).items() if not p.startswith(("svc-a/", "svc-b/"))}
    return outside, git(ws, "status", "--porcelain", "--ignored", "--", ":(exclude)svc-a", ":(exclude)svc-b")


def _learner_root(ws: Path) -> None:
    (ws / "notes.md").write_text("a\n")  # untracked
    (ws / "s.md").write_text("v1\n")
    git(ws, "add", "s.md")
    (ws / "s.md").write_text("v2\n")  # staged v1, v2 on disk
    with (ws / ".gitignore").open("a") as handle:
        handle.write("*.log\n")
    (ws / "debug.log").write_text("ignored\n")
    (ws / "svc-a" / "mine.py").write_text("mine\n")  # something for the reset to replace


@pytest.mark.parametrize("point", ["reset:applying", "reset:switched", "reset:installed"])
def test_a_killed_reset_finished_by_the_next_command_leaves_the_rest_alone(ws, loaded, point):
    """Recovery replaces the service folders only, and puts back the index outside them as the learner had it."""
    from workshop.checkpoints import journal

    _learner_root(ws)
    before = _notes_and_status(ws)
    pid = os.fork()
    if pid == 0:
        os.environ[journal.KILL_ENV] = point
        try:
            operations.reset_to_step(ws, loaded, loaded.step(1))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert journal.pending(ws) is not None
    (ws / "notes.md").write_text("written after the crash\n")  # the learner goes on before the next command
    (ws / "new.md").write_text("new\n")
    after_crash = _notes_and_status(ws)
    assert after_crash != before
    notes = operations.recover(ws)
    assert notes and "now finished" in notes[0], notes
    assert _notes_and_status(ws) == after_crash
    assert not (ws / "svc-a" / "mine.py").exists()


def test_a_forged_journal_cannot_move_files_outside_the_services(ws, loaded):
    """.workshop/journal.json is untrusted: a target naming another tree, and no services, still moves only the services."""
    import json

    from workshop.checkpoints import journal

    _learner_root(ws)
    before = _notes_and_status(ws)
    start = git(ws, "rev-parse", "refs/workshop/start^{tree}").strip()
    journal.path(ws).write_text(json.dumps({"op": "reset", "phase": "applying", "pid": 0, "started": "x", "data": {
        "target": start, "current": start, "backup": "none", "what": "workshop reset --step 0"}}))
    notes = operations.recover(ws)
    assert "now finished" in notes[0], notes  # the journal was read and acted on
    assert _notes_and_status(ws) == before


def test_restore_names_what_an_older_backup_holds_outside_the_services(ws, loaded):
    """A backup made when reset still replaced everything may hold notes that are gone: restore names them with the
    command that brings them back, and writes nothing outside the services itself."""
    (ws / "notes.md").write_text("my notes\n")
    tree = git(ws, "write-tree").strip()  # a backup as the old runner made it: the whole workspace
    with_notes = git(ws, "update-index", "--add", "notes.md") or git(ws, "write-tree").strip()
    assert with_notes != tree
    commit = git(ws, "commit-tree", with_notes, "-m", "workshop backup: reset-to-step-01\n\nReason: reset-to-step-01\nFiles: 9\n").strip()
    git(ws, "update-ref", "refs/workshop/backups/20260101T000000.000000Z-reset-to-step-01", commit)
    git(ws, "rm", "-q", "--cached", "notes.md")
    (ws / "notes.md").unlink()
    outcome = operations.restore(ws, "20260101T000000.000000Z-reset-to-step-01", services())
    assert outcome.outside == ["notes.md"] and outcome.backup_commit == commit
    assert not (ws / "notes.md").exists()
    git(ws, "restore", f"--source={commit}", "--", "notes.md")  # the command the CLI prints
    assert (ws / "notes.md").read_text() == "my notes\n"


def test_what_git_cannot_stage_outside_the_services_does_not_block(ws, loaded):
    """An empty git repository (no commit) at the root makes `git add .` fail; reset and diff never read it."""
    scratch = ws / "scratch"
    scratch.mkdir()
    git(scratch, "init", "-q")
    (scratch / "idea.txt").write_text("x\n")
    (ws / "svc-a" / "mine.py").write_text("mine\n")
    outcome = operations.reset_to_step(ws, loaded, loaded.step(1))
    assert outcome.backup is not None and (scratch / "idea.txt").read_text() == "x\n"
    assert operations.diff(ws, loaded, loaded.step(1), against="start").text == ""


@pytest.mark.parametrize("flag", ["--assume-unchanged", "--skip-worktree"])
def test_a_flagged_file_in_a_service_folder_is_saved_as_it_is_on_disk(ws, loaded, flag):
    """git add passes over assume-unchanged and skip-worktree entries: the backup must still hold the learner's bytes."""
    path = ws / "svc-b" / "app.py"
    git(ws, "add", "-A")
    git(ws, "update-index", flag, "svc-b/app.py")
    path.write_text("# MY WORK\n")
    outcome = operations.reset_to_step(ws, loaded, loaded.step(1))
    assert outcome.backup is not None
    assert git(ws, "show", f"{outcome.backup.commit}:svc-b/app.py") == "# MY WORK\n"
    operations.restore(ws, outcome.backup.name, services())
    assert path.read_text() == "# MY WORK\n"
