"""What the runner reads and writes in-process instead of running git: trees from an index, commits, refs.

Each must give exactly what git gives (compared with git itself), or step aside (None) and let git answer. A reset in
the steady state runs two git subprocesses (stage the files, switch them): the figure bench/bench_reset.py depends on.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from git_helpers import git, make_workspace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workshop.checkpoints import operations, refs
from workshop.checkpoints import repo as gitrepo
from workshop.checkpoints.repo import GitFailed, Repo
from workshop.course import model as course

# Names chosen for git's tree order (a folder sorts as if its name ended in "/"), unicode and spaces.
NAMES = ["a", "a.b", "a-b", "a_b", "a0", "A", "b", "é", "sp ace", "x.py", "a=b", "ß"]


@pytest.fixture
def repo(tmp_path) -> Repo:
    root = tmp_path / "r"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return Repo(root)


def _write(root: Path, parts: list[str], data: bytes, kind: str) -> None:
    path = root.joinpath(*parts)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            return
        path.unlink(missing_ok=True)
        if kind == "link":
            path.symlink_to(data.hex() or "target")
        else:
            path.write_bytes(data)
            path.chmod(0o755 if kind == "exec" else 0o644)
    except (FileExistsError, NotADirectoryError):
        pass  # a file already stands where a folder is wanted (or the reverse): skip this one


files = st.lists(
    st.tuples(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3), st.binary(max_size=40),
              st.sampled_from(["file", "file", "exec", "link"])),
    min_size=0, max_size=15,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files)
def test_index_tree_equals_git_write_tree(repo, picked):
    for parts, data, kind in picked:
        _write(repo.root, parts, data, kind)
    with repo.temp_index() as index:
        repo.run("add", "-A", "-f", "--", ".", index=index)
        mine, staged = repo.write_index_tree(index), index.exists()
        expected = repo.run("write-tree", index=index).strip()
        assert mine == (expected if staged else None)  # no index file at all (nothing ever staged): git answers
    git(repo.root, "fsck", "--strict", "--no-dangling")  # the objects written in-process are well-formed


def test_index_tree_steps_aside_for_what_git_must_handle(repo):
    (repo.root / "f").write_text("x\n")
    git(repo.root, "add", "-N", "f")  # intent-to-add: git's write-tree leaves it out
    assert repo.write_index_tree(repo.git_dir / "index") is None
    assert repo.write_index_tree(repo.git_dir / "no-such-index") is None


def test_backup_commit_is_a_read_only_object_git_reads(repo):
    tree = repo.run("write-tree").strip()
    commit = repo.write_commit(tree, "message\n")
    assert git(repo.root, "cat-file", "-t", commit).strip() == "commit"
    assert git(repo.root, "rev-parse", f"{commit}^{{tree}}").strip() == tree
    path = repo.git_dir / "objects" / commit[:2] / commit[2:]
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    blob = repo.store(b"blob", b"x\n").hex()
    assert repo.store(b"blob", b"x\n").hex() == blob  # already there: written once
    assert git(repo.root, "cat-file", "-p", blob) == "x\n"


@pytest.fixture
def ws(tmp_path, sample_course):
    loaded = course.load()
    return make_workspace(tmp_path / "ws", loaded), loaded


def test_revs_in_process_agree_with_rev_parse_loose_packed_and_gc(ws):
    root, loaded = ws
    repo = Repo(root)
    names = ["HEAD", "HEAD^{tree}", "refs/heads/main", refs.start_ref(loaded, loaded.steps[-1]), "refs/workshop/start^{tree}"]
    for stage in ("loose", "packed-refs", "gc"):
        if stage == "packed-refs":
            git(root, "pack-refs", "--all")
        if stage == "gc":
            git(root, "gc", "-q")
        expected = git(root, "rev-parse", *names).split()
        assert repo.revs(*names) == expected, stage
        head = expected[0]
        assert repo.revs(head, f"{head}^{{tree}}") == git(root, "rev-parse", head, f"{head}^{{tree}}").split()
    with pytest.raises(GitFailed):
        repo.revs("HEAD", "refs/heads/no-such-branch")
    assert repo.revs("HEAD^0", "HEAD") == git(root, "rev-parse", "HEAD^0", "HEAD").split()  # git answers the first


def test_reset_runs_two_git_subprocesses(ws, monkeypatch):
    root, loaded = ws
    operations.reset_to_step(root, loaded, loaded.steps[-1])
    (root / "svc-a" / "note.txt").write_text("the learner's note\n")  # a change to back up
    calls = []
    real = gitrepo.Repo.call
    monkeypatch.setattr(gitrepo.Repo, "call", lambda self, *args, **kw: calls.append(args[0]) or real(self, *args, **kw))
    outcome = operations.reset_to_step(root, loaded, loaded.steps[0])
    assert outcome.backup is not None
    assert calls == ["add", "read-tree"], calls
    assert (root / "svc-a" / "note.txt").exists() is False
    assert git(root, "cat-file", "-p", f"{outcome.backup.commit}:svc-a/note.txt") == "the learner's note\n"
    assert os.path.exists(root / ".git" / outcome.backup.ref)


def test_sha256_repository_leaves_objects_to_git(tmp_path):
    root = tmp_path / "r256"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "--object-format=sha256"], cwd=root, check=True)
    repo = Repo(root)
    (root / "f").write_text("x\n")
    with repo.temp_index() as index:
        repo.run("add", "-A", "-f", "--", ".", index=index)
        assert repo.write_index_tree(index) is None
        tree = repo.snapshot(index)
    commit = repo.write_commit(tree, "message\n")
    assert len(commit) == 64 and git(root, "rev-parse", f"{commit}^{{tree}}").strip() == tree
    assert repo.revs(f"{commit}^{{tree}}") == [tree]  # git answers: not a 40-hex id
