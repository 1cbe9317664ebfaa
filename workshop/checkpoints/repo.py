"""The git adapter: the one module that reaches git, through GitPython. Nothing here prints.

Two ways in, both GitPython's:
- in-process, through `git.Repo` with the pure-Python object database (GitDB): resolving refs, reading the index,
  writing the trees of an index, commits and refs. Each steps aside to a git command when GitPython cannot answer
  exactly as git would (SHA-256 repositories, unmerged or flagged index entries, index formats it does not read);
- git commands, through `repo.git`'s runner with argument lists (never a shell).

The runner's git commands never depend on the learner's git configuration: they run without the user's global and
system config (`GIT_CONFIG_GLOBAL`, `GIT_CONFIG_NOSYSTEM`), with the settings they rely on given on the command line
(no CRLF conversion, real symlinks, exec bits, no attributes file), and with the git directory named explicitly.
The commands that move bytes between the learner's files and the object store (staging the working tree, switching
it) run with a private git directory (`.git/workshop/bytes/`, sharing the real object store) whose `info/attributes`
unsets every conversion, so a `.gitattributes` in the workspace cannot change a byte either (git 2.39 has no
`--attr-source`; `info/attributes` is the one source that outranks a workspace's `.gitattributes`). The runner
commits under its own identity (environment variables), so it never needs or changes the learner's git config.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Sequence

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
# Where the runner keeps its temporary index files and its private git directory (inside .git, never in the learner's files).
TEMP_DIR = "workshop"
BYTES_DIR = "bytes"
LOCK_WAIT_SECONDS = 3.0
INDEX_LOCK = "index.lock"
# Settings every runner git command relies on, whatever the learner's repository config says.
SETTINGS = (
    "core.quotePath=false",
    "core.autocrlf=false",
    "core.safecrlf=false",
    "core.eol=lf",
    "core.symlinks=true",
    "core.filemode=true",
    "core.attributesFile=/dev/null",
    "core.fsmonitor=false",
    "core.untrackedCache=false",
    "core.splitIndex=false",
    "core.sparseCheckout=false",
    "core.hooksPath=/dev/null",
    "index.sparse=false",
    "gc.auto=0",
    "advice.detachedHead=false",
)
# The private git directory's attributes: no conversion of any kind in either direction, for every path.
NO_CONVERSION = "* -text -eol -crlf -filter -ident -working-tree-encoding -export-ignore -export-subst\n"
# Environment variables that would point git somewhere else than the workspace or bring in other config. GitPython
# starts git with a copy of the process environment, so each one present is given a neutral value instead.
REPO_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR", "GIT_INDEX_FILE")
NEUTRAL = {
    "GIT_ALTERNATE_OBJECT_DIRECTORIES": "", "GIT_NAMESPACE": "", "GIT_CONFIG_PARAMETERS": "", "GIT_CONFIG_COUNT": "0",
    "GIT_CEILING_DIRECTORIES": "", "GIT_EXTERNAL_DIFF": "", "GIT_DIFF_OPTS": "", "GIT_PAGER": "cat", "GIT_EDITOR": ":",
}


class GitFailed(WorkshopError):
    """A git command failed in a way the learner can act on."""


class MissingRevision(GitFailed):
    """A ref or object the runner needs is not in the repository."""


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


def _clean_environ(git_dir: Path) -> dict[str, str]:
    """What the runner's git calls set over the process environment: no user or system config, nothing redirected."""
    env = {name: value for name, value in NEUTRAL.items() if name in os.environ}
    if "GIT_COMMON_DIR" in os.environ:
        env["GIT_COMMON_DIR"] = str(git_dir)
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0",
                "GIT_OBJECT_DIRECTORY": str(git_dir / "objects"), "GIT_INDEX_FILE": str(git_dir / "index")})
    return env


class Repo:
    """The git repository at a workspace root."""

    def __init__(self, root: Path):
        require_git()
        import git  # GitPython: imported only once git is known to exist

        self._gitpython = git
        self.root = Path(root)
        self.git_dir = self.root / ".git"
        self._git = git.Git(str(self.root))
        self._repo = None
        self._loose = None
        self._sha1: bool | None = None

    # -- GitPython in-process ------------------------------------------------------------------------------------
    @property
    def repo(self):
        """GitPython's `git.Repo` over the workspace's repository (its object database read and written in-process)."""
        if self._repo is None:
            # GitPython's Repo follows these variables of the learner's environment: not for the workspace's repository.
            saved = {name: os.environ.pop(name) for name in REPO_VARIABLES if name in os.environ}
            try:
                self._repo = self._gitpython.Repo(str(self.root))
            finally:
                os.environ.update(saved)
            self._repo.git.update_environment(**_clean_environ(self.git_dir), GIT_DIR=str(self.git_dir), GIT_WORK_TREE=str(self.root))
        return self._repo

    @property
    def loose(self):
        """gitdb's reader of loose objects, in-process (GitPython's own object database asks `git cat-file`, a process)."""
        if self._loose is None:
            from gitdb.db.loose import LooseObjectDB

            self._loose = LooseObjectDB(str(self.git_dir / "objects"))
        return self._loose

    def sha1_objects(self) -> bool:
        """False when the repository names objects another way (SHA-256): GitPython cannot; only git commands then."""
        if self._sha1 is None:
            try:
                reader = self.repo.config_reader("repository")
                self._sha1 = str(reader.get_value("extensions", "objectformat", "sha1")).lower() == "sha1"
            except Exception:  # an unreadable config: let git commands do everything
                self._sha1 = False
        return self._sha1

    # -- git commands --------------------------------------------------------------------------------------------
    def call(
        self,
        *args: str,
        index: Path | None = None,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
        binary: bool = False,
        exact_bytes: bool = False,
    ) -> tuple[int, str | bytes, str]:
        """Run `git ARGS` in the workspace: (status, stdout, stderr).

        `index` points GIT_INDEX_FILE at a private index; `exact_bytes` runs with the private git directory whose
        attributes unset every conversion (for commands that move bytes between the files and the object store)."""
        full_env = _clean_environ(self.git_dir)
        full_env["GIT_WORK_TREE"] = str(self.root)
        full_env["GIT_DIR"] = str(self._bytes_dir() if exact_bytes else self.git_dir)
        full_env.update(env or {})
        if index is not None:
            full_env["GIT_INDEX_FILE"] = str(index)
        settings = [part for setting in SETTINGS for part in ("-c", setting)]
        stream = None
        try:
            if stdin is not None:
                stream = tempfile.TemporaryFile()
                stream.write(stdin)
                stream.seek(0)
            status, out, err = self._git.execute(
                ["git", *settings, *args],
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

    def _bytes_dir(self) -> Path:
        """The private git directory for byte-exact commands: shares the object store, never the learner's attributes."""
        folder = self.git_dir / TEMP_DIR / BYTES_DIR
        attributes = folder / "info" / "attributes"
        try:
            if attributes.read_text(encoding="utf-8") == NO_CONVERSION:
                return folder
        except OSError:
            pass
        (folder / "refs").mkdir(parents=True, exist_ok=True)
        (folder / "info").mkdir(exist_ok=True)
        fmt = "" if self.sha1_objects() else "[core]\n\trepositoryformatversion = 1\n[extensions]\n\tobjectformat = sha256\n"
        workspace.write_atomic(folder / "config", fmt or "[core]\n\trepositoryformatversion = 0\n", durable=False)
        workspace.write_atomic(folder / "HEAD", "ref: refs/heads/main\n", durable=False)
        workspace.write_atomic(attributes, NO_CONVERSION, durable=False)
        return folder

    # -- refs and objects ----------------------------------------------------------------------------------------
    def rev(self, ref: str) -> str | None:
        """The object id `ref` names, or None."""
        try:
            return self.revs(ref)[0]
        except GitFailed:
            return None

    def revs(self, *refs: str) -> list[str]:
        """Several object ids (each must exist): resolved in-process by GitPython, else in one git call."""
        found = [self._resolve(ref) for ref in refs] if self.sha1_objects() else [None]
        if all(found):
            return found
        if len(refs) == 1:
            return self.run("rev-parse", "--verify", "--end-of-options", refs[0]).split()
        return self.run("rev-parse", *refs).split()

    def _resolve(self, name: str) -> str | None:
        """HEAD, a full ref name or an object id, each optionally `^{tree}` of a loose commit; None when git should
        answer (any other form, packed objects)."""
        git = self._gitpython
        base, tree = (name[:-7], True) if name.endswith("^{tree}") else (name, False)
        try:
            if len(base) == 40 and all(c in "0123456789abcdef" for c in base):
                sha = base
            elif base == "HEAD" or base.startswith("refs/"):
                sha = git.SymbolicReference.dereference_recursive(self.repo, base)
            else:
                return None
            if not tree:
                return sha
            raw = self.loose.stream(bytes.fromhex(sha))
            if raw.type != b"commit":
                return None
            commit = git.Commit(self.repo, bytes.fromhex(sha))
            commit._deserialize(io.BytesIO(raw.read()))
            return commit.tree.hexsha
        except Exception:  # missing, packed, or unreadable: git decides
            return None

    def graft(self, base: str, source: str, names: Iterable[str]) -> str:
        """The tree `base` with its top-level entries `names` taken from the tree `source` (absent there: absent here).

        A reset or restore replaces the service folders and leaves every other file of the workspace as it is.
        In-process with GitPython's tree reader and writer; git (`ls-tree`, `mktree`) when GitPython cannot: packed or
        SHA-256 objects, names that are not UTF-8."""
        wanted = set(names)
        try:
            return self._graft_in_process(base, source, wanted)
        except Exception:  # noqa: BLE001 - git answers whatever GitPython could not read or write exactly
            pass

        def entries(tree: str) -> list[bytes]:
            out = self.run("ls-tree", "-z", tree, binary=True)
            return [line for line in out.split(b"\0") if line]

        def name_of(line: bytes) -> str:
            return line.split(b"\t", 1)[1].decode("utf-8", "surrogateescape")

        kept = [line for line in entries(base) if name_of(line) not in wanted]
        taken = [line for line in entries(source) if name_of(line) in wanted]
        return self.run("mktree", "-z", stdin=b"".join(line + b"\0" for line in kept + taken)).strip()

    def _graft_in_process(self, base: str, source: str, wanted: set[str]) -> str:
        if not self.sha1_objects():
            raise ValueError("SHA-256 objects")
        from git.objects.fun import tree_entries_from_data, tree_to_stream
        from git.objects.tree import TreeModifier
        from gitdb.base import IStream

        def read(tree: str) -> list:
            raw = self.loose.stream(bytes.fromhex(tree))
            if raw.type != b"tree":
                raise ValueError(f"{tree} is not a tree")
            return tree_entries_from_data(raw.read())

        entries = [e for e in read(base) if e[2] not in wanted] + [e for e in read(source) if e[2] in wanted]
        TreeModifier(entries).set_done()  # git's order (a folder sorts as its name and a slash); sorts `entries` in place
        stream = io.BytesIO()
        tree_to_stream(entries, stream.write)
        data = stream.getvalue()
        return self.loose.store(IStream(b"tree", len(data), io.BytesIO(data))).binsha.hex()

    def ref_ids(self, *prefixes: str) -> dict[str, str]:
        """Ref name -> object id for every ref under `prefixes` (loose and packed)."""
        out = self.run("for-each-ref", "--format=%(refname) %(objectname)", *prefixes)
        return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)

    def written_only_by(self, ref: str, message: str) -> bool:
        """True when every entry of `ref`'s reflog (GitPython reads it) starts with `message`: only that writer ever
        moved it. Without a reflog: when its commit is the runner's."""
        try:
            entries = self._gitpython.RefLog.from_file(str(self.git_dir / "logs" / ref))
        except FileNotFoundError:
            entries = []
        except Exception:
            return False
        if entries:
            return all(entry.message.startswith(message) for entry in entries)
        status, out, _ = self.call("log", "-1", "--format=%ae", ref)
        return status == 0 and out.strip() == RUNNER_EMAIL

    def commit_tree(self, tree: str, message: str, parents: Sequence[str] = (), date: str | None = None) -> str:
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.run(*args, env=runner_env(date), stdin=message.encode("utf-8")).strip()

    def write_commit(self, tree: str, message: str, parents: Sequence[str] = ()) -> str:
        """A commit by the runner, now: written in-process by GitPython (git commit-tree for SHA-256 repositories)."""
        if not self.sha1_objects():
            return self.commit_tree(tree, message, parents, date=f"{int(time.time())} +0000")
        git = self._gitpython
        from gitdb.base import IStream

        repo = self.repo
        stamp = int(time.time())
        actor = git.Actor(RUNNER_NAME, RUNNER_EMAIL)
        commit = git.Commit(
            repo, git.Commit.NULL_BIN_SHA, git.Tree(repo, bytes.fromhex(tree)),
            actor, stamp, 0, actor, stamp, 0, message,
            [git.Commit(repo, bytes.fromhex(p)) for p in parents], "UTF-8",
        )
        stream = io.BytesIO()
        commit._serialize(stream)
        data = stream.getvalue()
        return self.loose.store(IStream(git.Commit.type, len(data), io.BytesIO(data))).binsha.hex()

    def create_ref(self, ref: str, sha: str, message: str) -> None:
        """Create a new ref (an existing one is an error): GitPython's locked write, or git for SHA-256."""
        if not self.sha1_objects():
            self.update_refs([(ref, sha, "")], message)
            return
        git = self._gitpython
        if (self.git_dir / ref).exists() or ref in self._packed_ref_names():
            raise GitFailed(f"{ref} exists already")
        # An object given (not a name) is written as it is: no lookup through `git cat-file`.
        git.Reference(self.repo, ref, check_path=False).set_reference(git.Commit(self.repo, bytes.fromhex(sha)))

    def _packed_ref_names(self) -> set[str]:
        git = self._gitpython
        try:
            return {name for _, name in git.SymbolicReference._iter_packed_refs(self.repo)}
        except Exception:
            return set()

    def update_refs(self, updates: Sequence[tuple[str, str, str | None]], message: str) -> None:
        """Update several refs in one transaction: (ref, new, expected old; "" = must not exist, None = any)."""
        zero = "0" * (40 if self.sha1_objects() else 64)
        lines = []
        for ref, new, old in updates:
            lines.append(f"update {ref} {new}" + ("" if old is None else f" {old or zero}"))
        if not lines:
            return
        payload = ("\n".join(lines) + "\n").encode("utf-8")
        self.run("update-ref", "-m", message, "--stdin", stdin=payload, env=runner_env())

    def delete_refs(self, deletes: Sequence[tuple[str, str]], message: str) -> None:
        """Delete refs in one transaction, each only if it still holds the id given."""
        if deletes:
            payload = "".join(f"delete {ref} {old}\n" for ref, old in deletes).encode("utf-8")
            self.run("update-ref", "-m", message, "--stdin", stdin=payload, env=runner_env())

    # -- state of the repository ---------------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.git_dir / "HEAD").is_file()

    def head_branch(self) -> str | None:
        """The branch HEAD is on (`main`), or None when HEAD is detached."""
        try:
            head = self.repo.head
            return head.reference.path[len("refs/heads/"):] if not head.is_detached else None
        except Exception:
            out = self.call("symbolic-ref", "-q", "HEAD")[1].strip()
            return out[len("refs/heads/"):] if out.startswith("refs/heads/") else None

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

    # -- indexes -------------------------------------------------------------------------------------------------
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

    def index_entries(self, index: Path) -> dict[str, tuple[int, str]] | None:
        """The stage-0 entries of an index file (path -> (mode, id)), read by GitPython; None when it cannot read it."""
        if not self.sha1_objects() or not index.is_file():
            return None
        try:
            entries = self._gitpython.IndexFile(self.repo, str(index)).entries
        except Exception:  # an index format GitPython does not read (v4, split): git answers instead
            return None
        return {path: (entry.mode, entry.hexsha) for (path, stage), entry in entries.items() if stage == 0}

    def write_index_tree(self, index: Path) -> str | None:
        """`git write-tree` in-process (None when git must do it: unmerged or flagged entries, other index formats)."""
        if not self.sha1_objects() or not index.is_file():
            return None
        git = self._gitpython
        try:
            found = git.IndexFile(self.repo, str(index))
            entries = found.entries.values()
            if not entries or any(e.stage or e.extended_flags or e.mode == 0o40000 for e in entries):
                return None  # unmerged, intent-to-add / skip-worktree, or sparse folders: only git writes these right
            return found.write_tree().hexsha
        except Exception:
            return None

    def tree_of_index(self, index: Path) -> str:
        return self.write_index_tree(index) or self.run("write-tree", index=index).strip()

    def snapshot(self, index: Path, folders: Sequence[str] | None = None) -> str:
        """Stage the working tree (tracked, modified, untracked; never the ignored folders) into `index`, byte for byte
        whatever the learner's attributes and config; its tree id. With `folders`, only those top-level folders are
        staged: every other entry stays as `index` holds it (a learner's notes, staged or not, are not read)."""
        specs = exclude_pathspecs()
        if folders is not None:
            present = [name for name in folders if os.path.lexists(self.root / name)]
            gone = [name for name in folders if name not in present]
            if gone:  # a folder the learner deleted: its removal is staged (git add refuses a pathspec matching nothing)
                self.run("rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", *gone, index=index)
            specs = [f":(literal,top){name}" for name in present] + specs[1:] if present else []
        if specs:
            for flag, paths in self._passed_over(index, folders).items():  # else `git add` saves the index's copy
                self.run("update-index", flag, "--", *paths, index=index)  # one flag per call: git applies the last one given
            self.run("add", "-A", "-f", "--", *specs, index=index, exact_bytes=True)
        return self.tree_of_index(index)

    def _passed_over(self, index: Path, folders: Sequence[str] | None) -> dict[str, list[str]]:
        """Entries `git add` would not read from the working tree, in `folders`: the flag that clears each kind."""
        if not self.sha1_objects() or not index.is_file():
            return {}
        try:
            entries = self._gitpython.IndexFile(self.repo, str(index)).entries
        except Exception:  # an index format GitPython does not read: git goes by its flags
            return {}
        from git.index.typ import CE_VALID

        found: dict[str, list[str]] = {}
        for (path, _), entry in entries.items():
            if folders is None or path.split("/", 1)[0] in folders:
                if entry.flags & CE_VALID:
                    found.setdefault("--no-assume-unchanged", []).append(path)
                if entry.skip_worktree:
                    found.setdefault("--no-skip-worktree", []).append(path)
        return found

    def tree_of(self, path: Path, folders: Sequence[str] | None = None) -> str:
        """The tree of the working tree right now (a throwaway index; with `folders`, only those as they are now)."""
        with self.temp_index() as index:
            return self.snapshot(index, folders)

    def switch(self, index: Path, current: str, target: str) -> None:
        """Make the working tree (which equals `current`, as staged in `index`) equal `target`, byte for byte."""
        if current != target:
            self.run("read-tree", "-u", "-m", current, target, index=index, exact_bytes=True)

    def check_out(self, index: Path, tree: str) -> None:
        """Write `tree`'s files into the working tree (which holds none of them yet), staged in `index`."""
        self.run("read-tree", "--reset", "-u", tree, index=index, exact_bytes=True)

    def lock_index(self) -> Path:
        """Take `.git/index.lock` (GitPython's exclusive lock file), so no other git changes the index meanwhile.
        Raises FileExistsError when another process holds it."""
        from git.util import LockFile

        lock = LockFile(str(self.git_dir / "index"))
        try:
            lock._obtain_lock_or_raise()
        except OSError:
            raise FileExistsError(str(self.git_dir / INDEX_LOCK)) from None
        lock._owns_lock = False  # the lock outlives this object: install_index releases it
        return self.git_dir / INDEX_LOCK

    def install_index(self, new_index: Path | None) -> None:
        """Replace the real index by `new_index` through the lock we hold (git's protocol: the lock file renamed over
        the index, so the index keeps the mtime git gave it); None only releases the lock."""
        lock = self.git_dir / INDEX_LOCK
        if new_index is not None and new_index.exists():
            os.replace(new_index, lock)
            os.replace(lock, self.git_dir / "index")
        else:
            lock.unlink(missing_ok=True)

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
            if leftover.name == BYTES_DIR:
                continue
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
            removed.append(leftover)
        return removed

    def has_objects(self, *shas: str) -> bool:
        """True when every object given, and every object it reaches, is in the store (`git rev-list --objects`)."""
        status, _, _ = self.call("rev-list", "--objects", "--quiet", *shas)
        return status == 0

    # -- exports -------------------------------------------------------------------------------------------------
    def export_tree(self, rev: str, destination: Path) -> Path:
        """Write the files of a commit or tree into `destination` (never the learner's working tree), byte for byte."""
        tree = self.rev(rev if rev.endswith("}") else f"{rev}^{{tree}}")
        if tree is None:
            raise MissingRevision(f"{rev} is missing")
        import tarfile

        archive = self.run("archive", "--format=tar", tree, binary=True, exact_bytes=True)
        destination.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(destination, filter="data")
        return destination


def open_repo(root: Path) -> Repo:
    """The workspace's repository; a workspace without one names `workshop init`."""
    repo = Repo(root)
    if not repo.exists():
        raise NotAWorkspace(
            f"{root} has no git repository (its .git folder is missing). Run `workshop init {root}` to rebuild it: "
            "your files are kept as they are, on top of the rebuilt checkpoints."
        )
    return repo
