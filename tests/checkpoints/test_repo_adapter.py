"""The git adapter (workshop/checkpoints/repo.py): what it does in-process through GitPython (trees from an index,
commits, refs) must give exactly what git gives (compared with git itself), or step aside and let git answer. A reset in
the steady state runs two git processes (stage the files, switch them), no other: the figure bench/bench_reset.py
depends on. No other module reaches git.
"""

from __future__ import annotations

import os
import re
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
from workshop.errors import WorkshopError

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


def _tree_of(repo: Repo, picked) -> str:
    for parts, data, kind in picked:
        _write(repo.root, parts, data, kind)
    with repo.temp_index(seed=False) as index:
        return repo.snapshot(index)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files, files, st.sets(st.sampled_from(NAMES), max_size=4))
def test_graft_in_process_equals_git(repo, first, second, names):
    """A reset keeps what is outside the service folders: the tree GitPython writes is the one git's mktree writes."""
    import shutil

    base = _tree_of(repo, first)
    for child in repo.root.iterdir():
        if child.name != ".git":
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    source = _tree_of(repo, second)
    mine = repo.graft(base, source, names)
    by_git = repo.run("mktree", "-z", stdin=b"".join(
        line + b"\0" for line in repo.run("ls-tree", "-z", base, binary=True).split(b"\0") if line and
        line.split(b"\t", 1)[1].decode() not in names) + b"".join(
        line + b"\0" for line in repo.run("ls-tree", "-z", source, binary=True).split(b"\0") if line and
        line.split(b"\t", 1)[1].decode() in names)).strip()
    assert mine == by_git
    listed = {line.split("\t", 1)[1] for line in git(repo.root, "ls-tree", mine).splitlines()}
    assert {n for n in listed if n in names} == {n for n in (git(repo.root, "ls-tree", "--name-only", source).split("\n")) if n in names}
    git(repo.root, "fsck", "--strict", "--no-dangling")


def test_graft_steps_aside_to_git_for_packed_objects(repo):
    (repo.root / "keep").write_text("mine\n")
    (repo.root / "svc").mkdir()
    (repo.root / "svc" / "f").write_text("old\n")
    base = _tree_of(repo, [])
    git(repo.root, "commit", "-q", "-m", "x", "--allow-empty")
    (repo.root / "svc" / "f").write_text("new\n")
    source = _tree_of(repo, [])
    in_process = repo.graft(base, source, ["svc"])
    git(repo.root, "update-ref", "refs/keep/a", git(repo.root, "commit-tree", base, "-m", "a").strip())
    git(repo.root, "update-ref", "refs/keep/b", git(repo.root, "commit-tree", source, "-m", "b").strip())
    git(repo.root, "gc", "-q", "--prune=now")
    assert not any((repo.git_dir / "objects" / base[:2]).glob("*"))  # packed: the loose reader cannot see it
    assert repo.graft(base, source, ["svc"]) == in_process
    assert git(repo.root, "show", f"{in_process}:keep") == "mine\n" and git(repo.root, "show", f"{in_process}:svc/f") == "new\n"


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
    second = repo.write_commit(tree, "second\n", [commit])
    assert git(repo.root, "rev-parse", f"{second}^").strip() == commit
    repo.create_ref("refs/workshop/backups/x", second, "test")
    assert git(repo.root, "rev-parse", "refs/workshop/backups/x").strip() == second
    with pytest.raises(GitFailed):
        repo.create_ref("refs/workshop/backups/x", commit, "test")  # a backup ref is never overwritten
    git(repo.root, "fsck", "--strict", "--no-dangling")


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
    calls, spawned = [], []
    real = gitrepo.Repo.call
    monkeypatch.setattr(gitrepo.Repo, "call", lambda self, *args, **kw: calls.append(args[0]) or real(self, *args, **kw))
    real_popen = subprocess.Popen.__init__
    monkeypatch.setattr(subprocess.Popen, "__init__", lambda self, cmd, *a, **k: spawned.append(cmd) or real_popen(self, cmd, *a, **k))
    outcome = operations.reset_to_step(root, loaded, loaded.steps[0])
    assert outcome.backup is not None
    assert calls == ["add", "read-tree"], calls
    assert len(spawned) == 2, spawned  # GitPython's object database asks no `git cat-file` or `hash-object` on the way
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
    repo.create_ref("refs/workshop/backups/y", commit, "test")
    assert git(root, "rev-parse", "refs/workshop/backups/y").strip() == commit
    assert len(commit) == 64 and git(root, "rev-parse", f"{commit}^{{tree}}").strip() == tree
    assert repo.revs(f"{commit}^{{tree}}") == [tree]  # git answers: not a 40-hex id


def test_export_is_byte_for_byte_and_reads_the_private_refs(ws, tmp_path):
    root, loaded = ws
    step = loaded.steps[-1]
    git(root, "switch", "-q", f"checkpoint/{step.slug}")
    (root / "svc-a" / "learner.txt").write_text("a learner's commit on a checkpoint branch\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "mine")
    git(root, "switch", "-q", "main")
    out = refs.export_checkpoint(root, step, tmp_path / "out")
    assert not (out / "svc-a" / "learner.txt").exists()  # replay never deploys what a learner committed on a branch
    expected = git(root, "ls-tree", "-r", f"{refs.PRIVATE_PREFIX}{step.slug}").splitlines()
    for line in expected:
        meta, path = line.split("\t", 1)
        blob = subprocess.run(["git", "cat-file", "blob", meta.split()[2]], cwd=root, capture_output=True, check=True).stdout
        assert (out / path).read_bytes() == blob
        assert bool((out / path).stat().st_mode & stat.S_IXUSR) == meta.startswith("100755")


def test_export_of_a_missing_checkpoint_is_one_clear_line(ws, tmp_path):
    root, loaded = ws
    git(root, "update-ref", "-d", f"{refs.PRIVATE_PREFIX}{loaded.steps[-1].slug}")
    with pytest.raises(WorkshopError) as caught:
        refs.export_checkpoint(root, loaded.steps[-1], tmp_path / "out")
    assert "workshop init" in caught.value.message and not isinstance(caught.value, GitFailed)


WORKSHOP = Path(__file__).resolve().parents[2] / "workshop"


def test_only_the_adapter_reaches_git():
    """No module but checkpoints/repo.py imports GitPython or starts git itself."""
    offenders = []
    for path in WORKSHOP.rglob("*.py"):
        if path == WORKSHOP / "checkpoints" / "repo.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"^\s*(import git\b|from git(db)?\b)", text, re.MULTILINE) or re.search(r"\[\s*[\"']git[\"']\s*,", text):
            offenders.append(str(path.relative_to(WORKSHOP)))
    assert offenders == []


def test_replay_deploys_the_private_checkpoint_not_the_learners_branch(ws):
    """Issue 12 item 7: a learner's commit on `checkpoint/*` never changes what replay deploys."""
    from workshop.deploy import replay

    root, loaded = ws
    step = next(s for s in loaded.steps if s.deploys)
    git(root, "switch", "-q", f"checkpoint/{step.slug}")
    (root / step.deploys[0]).mkdir(exist_ok=True)
    (root / step.deploys[0] / "learner.txt").write_text("committed on the branch\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "mine")
    git(root, "switch", "-q", "main")
    seen = []
    replay.replay_until([step], root, "dev", lambda service, folder, why: seen.append((folder / "learner.txt").exists()), lambda: True)
    assert seen and not any(seen)
