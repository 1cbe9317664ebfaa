"""Issue 13 items 2-4: `workshop init` touches only the refs the runner made, never a learner's repository or
`info/exclude` lines, and rebuilds a lost `.git` under the learner's files without losing one."""

from __future__ import annotations

import shutil

import pytest
from git_helpers import files_of, git, services

from workshop.checkpoints import backups, operations
from workshop.checkpoints import build as checkpoints
from workshop.checkpoints.repo import Repo
from workshop.errors import WorkshopError


def branches(root) -> dict[str, str]:
    out = git(root, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads/")
    return dict(line.split() for line in out.splitlines())


def test_init_keeps_a_learners_checkpoint_branch_and_never_fails_on_it(ws, loaded, cli):
    git(ws, "branch", "checkpoint/mine")
    result = cli("init", str(ws))
    assert result.exit_code == 0, result.output
    assert "checkpoint/mine" in branches(ws)
    assert "Kept your branch checkpoint/mine" in result.output


def test_init_keeps_commits_on_a_checkpoint_branch_and_the_branch_head_is_on(ws, loaded):
    slug = loaded.steps[-1].slug
    git(ws, "switch", "-q", f"checkpoint/{slug}")
    (ws / "svc-a" / "mine.txt").write_text("mine\n")
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "my work on the branch")
    mine = git(ws, "rev-parse", "HEAD").strip()
    git(ws, "branch", "checkpoint/zz-old")
    git(ws, "switch", "-q", "checkpoint/zz-old")
    result = checkpoints.init_repo(ws, loaded)
    assert branches(ws)[f"checkpoint/{slug}"] == mine  # not moved back: the learner's commit stays
    assert "checkpoint/zz-old" in branches(ws)  # HEAD is on it
    assert f"refs/heads/checkpoint/{slug}" in result.kept
    assert git(ws, "rev-parse", f"refs/workshop/checkpoints/{slug}").strip() != mine  # the runner's copy is its own


def test_init_removes_only_stale_branches_the_runner_wrote(ws, loaded):
    start = git(ws, "rev-parse", "refs/workshop/start").strip()
    git(ws, "update-ref", "-m", "workshop init: checkpoints", "refs/heads/checkpoint/99-renamed", start)
    git(ws, "update-ref", "refs/workshop/checkpoints/99-renamed", start)
    result = checkpoints.init_repo(ws, loaded)
    assert "checkpoint/99-renamed" not in branches(ws)
    assert "refs/heads/checkpoint/99-renamed" in result.updated
    assert git(ws, "for-each-ref", "refs/workshop/checkpoints/99-renamed") == ""


def test_init_refuses_a_git_repository_that_is_not_a_workspace(tmp_path, loaded, cli):
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "notes.txt").write_text("my project\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "mine")
    exclude = root / ".git" / "info" / "exclude"
    exclude.write_text("# mine\nsecret.txt\n")
    before = files_of(root)
    result = cli("init", str(root))
    assert result.exit_code != 0
    assert "already a git repository" in result.output and "Created" not in result.output
    assert exclude.read_text() == "# mine\nsecret.txt\n"
    assert files_of(root) == before and not (root / ".workshop").exists()
    assert list(branches(root)) == ["main"]


def test_init_in_an_empty_repository_keeps_its_exclude_lines(tmp_path, loaded, cli):
    root = tmp_path / "empty"
    root.mkdir()
    git(root, "init", "-q", "-b", "master")
    exclude = root / ".git" / "info" / "exclude"
    exclude.write_text("secret.txt")  # no newline at the end
    result = cli("init", str(root))
    assert result.exit_code == 0, result.output
    assert "Created the workshop workspace" in result.output
    lines = exclude.read_text().splitlines()
    assert lines[0] == "secret.txt" and ".workshop/" in lines
    assert (root / "svc-a").is_dir()


def test_init_again_keeps_lines_the_learner_added_to_exclude(ws, loaded):
    exclude = ws / ".git" / "info" / "exclude"
    exclude.write_text(exclude.read_text() + "my-scratch/\n")
    checkpoints.init_repo(ws, loaded)
    assert "my-scratch/" in exclude.read_text().splitlines()


def test_a_deleted_git_folder_is_rebuilt_under_the_learners_files(ws, loaded, cli):
    (ws / "svc-a" / "mine.txt").write_text("my work\n")
    record = ws / "svc-a" / "handlers" / "record.py"
    record.write_text("# edited\n" + record.read_text())
    shutil.rmtree(ws / ".git")
    before = files_of(ws)
    refused = cli("-w", str(ws), "reset", "--step", "1")
    assert refused.exit_code != 0 and f"workshop init {ws}" in refused.output
    result = cli("init", str(ws))
    assert result.exit_code == 0, result.output
    assert "your files are kept" in result.output
    assert files_of(ws) == before
    status = git(ws, "status", "--porcelain")
    assert "svc-a/mine.txt" in status and "svc-a/handlers/record.py" in status
    repo = Repo(ws)
    saved = backups.list_all(repo)
    assert saved and saved[-1].reason == "rebuilt-repository"
    outcome = operations.reset_to_step(ws, loaded, loaded.step(1))
    operations.restore(ws, outcome.backup.name, services())
    assert files_of(ws) == before


def test_init_refusal_is_a_workshop_error_not_a_crash(tmp_path, loaded):
    root = tmp_path / "p"
    root.mkdir()
    git(root, "init", "-q", "-b", "trunk")
    (root / "a").write_text("a")
    git(root, "add", "a")
    git(root, "commit", "-q", "-m", "a")
    with pytest.raises(WorkshopError, match="trunk"):
        checkpoints.create_workspace(root, loaded)
