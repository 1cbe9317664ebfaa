"""The workspace's git repository at the lowest level: one way to run git, the runner's identity, temporary indexes, locks.

Git runs through GitPython's command runner with argument lists (never a shell). Nothing here prints. The runner
commits under its own identity (environment variables), so it never needs or changes the learner's git config.
A few things are done in-process exactly as git does them, because each git subprocess costs ~5-10 ms: resolving refs,
writing loose objects, the tree of an index. Each steps aside to git for anything unusual (packed objects, unmerged
entries, other index formats).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from workshop.checkpoints import gitfiles
from workshop.checkpoints.gitfiles import changed_paths, read_index  # noqa: F401 - callers import them from here
from workshop.course import workspace
from workshop.errors import NotAWorkspace, WorkshopError

GIT_MISSING = (
    "git is not installed (or not on PATH); the workspace's checkpoints and backups need it. "
    "Install git (https://git-scm.com/downloads), then run the command again."
)
RUNNER_NAME = "Workshop runner"
RUNNER_EMAIL = "runner@workshop.invalid"
# Commits the runner builds from the course (start, checkpoints) carry a fixed date, so rebuilding gives the same ids.
FIXED_DATE = "946684800 +0000"
# Where the runner keeps its temporary index files (inside .git, never in the learner's files).
TEMP_DIR = "workshop"
LOCK_WAIT_SECONDS = 3.0


class GitFailed(WorkshopError):
    """A git command failed in a way the learner can act on."""


def require_git() -> None:
    """Fail with a clear message when git is missing, before GitPython is imported."""
    if shutil.which("git") is None:
        raise WorkshopError(GIT_MISSING)


def runner_env(date: str | None = None) -> dict[str, str]:
    """Identity (and optionally a fixed date) for commits the runner makes."""
    env = {
        "GIT_AUTHOR_NAME": RUNNER_NAME,
        "GIT_AUTHOR_EMAIL": RUNNER_EMAIL,
        "GIT_COMMITTER_NAME": RUNNER_NAME,
        "GIT_COMMITTER_EMAIL": RUNNER_EMAIL,
        "GIT_TERMINAL_PROMPT": "0",
    }
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    return env


def exclude_pathspecs() -> list[str]:
    """Pathspecs that leave out workspace.IGNORED whatever the learner's .gitignore says."""
    specs = ["."]
    for pattern in workspace.IGNORED:
        if pattern.endswith("/"):
            specs.append(f":(exclude,glob)**/{pattern}**")
        else:
            specs.append(f":(exclude,glob)**/{pattern}")
    return specs


class Repo:
    """The git repository at a workspace root."""

    def __init__(self, root: Path):
        require_git()
        import git  # GitPython: imported only once git is known to exist

        self.root = Path(root)
        self.git_dir = self.root / ".git"
        self._git = git.Git(str(self.root))
        self._sha1: bool | None = None

    # -- running git ---------------------------------------------------------------------------------------------
    def call(
        self,
        *args: str,
        index: Path | None = None,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
        binary: bool = False,
    ) -> tuple[int, str | bytes, str]:
        """Run `git ARGS` in the workspace: (status, stdout, stderr). `index` points GIT_INDEX_FILE at a private index."""
        full_env = dict(env or {})
        if index is not None:
            full_env["GIT_INDEX_FILE"] = str(index)
        stream = None
        try:
            if stdin is not None:
                stream = tempfile.TemporaryFile()
                stream.write(stdin)
                stream.seek(0)
            status, out, err = self._git.execute(
                ["git", "-c", "core.quotePath=false", *args],
                istream=stream,
                env=full_env,
                with_extended_output=True,
                with_exceptions=False,
                stdout_as_string=not binary,
                strip_newline_in_stdout=False,
            )
        finally:
            if stream is not None:
                stream.close()
        return status, out, err or ""

    def run(self, *args: str, ok_codes: Sequence[int] = (0,), **kw) -> str | bytes:
        """Run `git ARGS`; its stdout. A status outside `ok_codes` is a GitFailed naming git's message."""
        status, out, err = self.call(*args, **kw)
        if status not in ok_codes:
            message = err.strip().splitlines()
            command = next((a for a in args if not a.startswith("-") and "/" not in a), args[0])
            raise GitFailed(f"git {command} failed: {message[-1] if message else f'exit {status}'}", detail=err or None)
        return out

    def lines(self, *args: str, **kw) -> list[str]:
        """Output split on NUL (for -z commands) or newlines."""
        out = self.run(*args, **kw)
        sep = "\0" if "-z" in args else "\n"
        return [line for line in out.split(sep) if line]

    def rev(self, ref: str) -> str | None:
        """The object id `ref` names, or None."""
        try:
            return self.run("rev-parse", "-q", "--verify", ref).strip() or None
        except GitFailed:
            return None

    def revs(self, *refs: str) -> list[str]:
        """Several object ids (each must exist): read in-process when they can be, else in one git call."""
        found = [self._resolve(ref) for ref in refs]
        return found if all(found) else self.run("rev-parse", *refs).split()

    def _resolve(self, name: str) -> str | None:
        return gitfiles.resolve(self.git_dir, name)

    def packed_refs(self) -> dict[str, str]:
        return gitfiles.packed_refs(self.git_dir)

    def commit_tree(self, tree: str, message: str, parents: Sequence[str] = (), date: str | None = None) -> str:
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.run(*args, env=runner_env(date), stdin=message.encode("utf-8")).strip()

    def write_commit(self, tree: str, message: str, parents: Sequence[str] = ()) -> str:
        """Like commit-tree (runner identity, now), written in-process: no subprocess."""
        stamp = f"{int(time.time())} +0000"
        lines = [f"tree {tree}", *(f"parent {p}" for p in parents)]
        lines += [f"author {RUNNER_NAME} <{RUNNER_EMAIL}> {stamp}", f"committer {RUNNER_NAME} <{RUNNER_EMAIL}> {stamp}", "", message]
        return self.store(b"commit", "\n".join(lines).encode("utf-8")).hex()

    def store(self, kind: bytes, data: bytes) -> bytes:
        """Write one loose object (in-process for SHA-1 repositories); its binary id."""
        if not self.sha1_objects():
            return bytes.fromhex(self.run("hash-object", "-t", kind.decode(), "-w", "--stdin", stdin=data).strip())
        return gitfiles.store(self.git_dir, kind, data)

    def sha1_objects(self) -> bool:
        """False when the repository names objects another way (SHA-256): then only git writes or parses them."""
        if self._sha1 is None:
            self._sha1 = gitfiles.sha1_objects(self.git_dir)
        return self._sha1

    def update_refs(self, updates: Sequence[tuple[str, str, str | None]], message: str) -> None:
        """Update several refs in one transaction: (ref, new, expected old; "" = must not exist, None = any)."""
        lines = []
        for ref, new, old in updates:
            lines.append(f"update {ref} {new}" + ("" if old is None else f" {old or '0' * 40}"))
        payload = ("\n".join(lines) + "\n").encode("utf-8")
        self.run("update-ref", "-m", message, "--stdin", stdin=payload, env=runner_env())

    # -- state of the repository ---------------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.git_dir / "HEAD").is_file()

    def head_branch(self) -> str | None:
        """The branch HEAD is on (`main`), or None when HEAD is detached."""
        text = (self.git_dir / "HEAD").read_text(encoding="utf-8").strip()
        return text[len("ref: refs/heads/"):] if text.startswith("ref: refs/heads/") else None

    def operation_in_progress(self) -> str | None:
        """The name of a merge/rebase/cherry-pick/revert git has in progress, or None."""
        for marker, name in (
            ("MERGE_HEAD", "merge"),
            ("rebase-merge", "rebase"),
            ("rebase-apply", "rebase or am"),
            ("CHERRY_PICK_HEAD", "cherry-pick"),
            ("REVERT_HEAD", "revert"),
        ):
            if (self.git_dir / marker).exists():
                return name
        return None

    def unmerged_paths(self, index: Path | None = None) -> list[str]:
        out = self.lines("ls-files", "-u", "-z", index=index)
        return sorted({line.split("\t", 1)[1] for line in out if "\t" in line})

    # -- temporary indexes ---------------------------------------------------------------------------------------
    def temp_dir(self) -> Path:
        folder = self.git_dir / TEMP_DIR
        folder.mkdir(exist_ok=True)
        return folder

    @contextmanager
    def temp_index(self, seed: bool = True) -> Iterator[Path]:
        """A private index file (a copy of the real one for its stat cache when `seed`), removed afterwards."""
        fd, name = tempfile.mkstemp(prefix="index-", dir=self.temp_dir())
        os.close(fd)
        path = Path(name)
        real = self.git_dir / "index"
        try:
            if seed and real.is_file():
                # copy2 keeps the index's mtime: git trusts an entry's stat data only when the file is older than the
                # index, so a fresh mtime on the copy would hide an edit made in the same instant as the last index write.
                shutil.copy2(real, path)
            else:
                path.unlink()
            yield path
        finally:
            path.unlink(missing_ok=True)
            Path(f"{path}.lock").unlink(missing_ok=True)

    def snapshot(self, index: Path) -> str:
        """Stage the whole working tree (tracked, modified, untracked; never the ignored folders) into `index`; its tree id."""
        self.run("add", "-A", "-f", "--", *exclude_pathspecs(), index=index)
        return self.write_index_tree(index) or self.run("write-tree", index=index).strip()

    def write_index_tree(self, index: Path) -> str | None:
        """`git write-tree` in-process (None when git must do it: unmerged or flagged entries, other index formats)."""
        return gitfiles.index_tree(self.git_dir, index) if self.sha1_objects() else None

    def tree_of(self, path: Path) -> str:
        """The tree of the working tree right now (a throwaway index)."""
        with self.temp_index() as index:
            return self.snapshot(index)

    def switch(self, index: Path, current: str, target: str) -> None:
        """Make the working tree (which equals `current`, as staged in `index`) equal `target`."""
        if current != target:
            self.run("read-tree", "-u", "-m", current, target, index=index)

    def wait_for_temp_locks(self) -> list[Path]:
        """Let an orphaned git child of a killed runner finish, then remove what it left; the files removed."""
        folder = self.git_dir / TEMP_DIR
        if not folder.is_dir():
            return []
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while any(folder.glob("*.lock")) and time.monotonic() < deadline:
            time.sleep(0.05)
        removed = []
        for leftover in folder.iterdir():
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
            removed.append(leftover)
        return removed


def open_repo(root: Path) -> Repo:
    """The workspace's repository; a workspace without one names `workshop init`."""
    repo = Repo(root)
    if not repo.exists():
        raise NotAWorkspace(f"{root} has no git repository yet. Run `workshop init {root}` to build it (your files are kept).")
    return repo
