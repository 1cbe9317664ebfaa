"""Property: whatever the learner did to their files, and whatever their git configuration, reset, solve and restore
never lose a byte.

For random edits (modified, added, deleted, untracked, binary, CRLF, executable-bit changes, symlinks, nested folders,
unicode names) under random git attributes (a workspace `.gitattributes`, the global attributes file) and config (the
repository's and the global one: autocrlf, eol, symlinks, filemode), run one operation, then restore the backup it
made: the files must be byte-identical to before (content, exec bit, symlinks).
Each case works on a fresh copy of one template workspace, so the whole file stays fast. The number of cases comes
from the Hypothesis profile (tests/conftest.py): 5/3 of its count, so 500 under `default`, 5000 under `thorough`.
"""

from __future__ import annotations

import itertools
import os
import stat
from pathlib import Path

import pytest
from git_helpers import copy_workspace, files_of, make_workspace, services
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workshop.checkpoints import operations
from workshop.course import model as course

CASES = settings.default.max_examples * 5 // 3  # the loaded profile's count, scaled: 500 under `default`

IGNORED_NAMES = {".git", ".workshop", ".serverless", "__pycache__", "node_modules", ".pytest_cache", ".", ".."}
RUN = {"cases": 0, "ops": {}}

names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="/\\"),
    min_size=1, max_size=10,
).filter(lambda n: n not in IGNORED_NAMES and not n.endswith(".pyc") and len(n.encode()) < 60)
contents = st.one_of(
    st.binary(max_size=300),  # binary, NUL bytes included
    st.text(max_size=300).map(lambda t: t.encode("utf-8")),
    st.lists(st.sampled_from(["def handler(event, context):\n", "    return 1\n", "x = 2\n", "\r\n", ""]), max_size=8).map(
        lambda parts: "".join(parts).encode()
    ),
)
# What a learner's git may say about their files: each would change bytes if the runner's git obeyed it.
ATTRIBUTES = ["", "* text=auto\n", "*.py text eol=lf\n", "* text eol=crlf\n", "* ident\n", "* -text\n",
              "* working-tree-encoding=UTF-16LE\n", "* filter=lfs\n", "*.txt text\n* eol=lf\n"]
CONFIG = [("core", "autocrlf", "true"), ("core", "autocrlf", "input"), ("core", "eol", "crlf"), ("core", "symlinks", "false"),
          ("core", "filemode", "false"), ("core", "safecrlf", "true"), ("core", "ignorecase", "true"),
          ("filter \"lfs\"", "clean", "tr a-z A-Z"), ("filter \"lfs\"", "smudge", "tr A-Z a-z")]
git_setup = st.fixed_dictionaries({
    "gitattributes": st.sampled_from(ATTRIBUTES),
    "global_attributes": st.sampled_from(ATTRIBUTES),
    "repo_config": st.lists(st.sampled_from(CONFIG), max_size=3),
    "global_config": st.lists(st.sampled_from(CONFIG), max_size=3),
})

edit = st.one_of(
    st.tuples(st.just("modify"), st.integers(0, 50), contents),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("chmod"), st.integers(0, 50)),
    st.tuples(st.just("add"), st.lists(names, min_size=1, max_size=3), contents, st.booleans()),
    st.tuples(st.just("add-in-service"), st.sampled_from(["svc-a", "svc-a/handlers", "svc-b", "svc-b/tests"]), names, contents),
    st.tuples(st.just("symlink"), st.sampled_from(["svc-a", "svc-b", "."]), names, st.sampled_from(["app.py", "../svc-a", "gone", "x y"])),
    st.tuples(st.just("modify"), st.integers(0, 50), st.just(b"line one\r\nline two\r\n\r\nend")),
)
operation = st.one_of(
    st.tuples(st.just("reset"), st.integers(0, 2)),
    st.tuples(st.just("solve"), st.integers(0, 2)),
    st.tuples(st.just("restore"), st.just(0)),
)


def apply_edits(root: Path, edits) -> None:
    for item in edits:
        existing = sorted(files_of(root))
        kind = item[0]
        if kind in ("modify", "delete", "chmod"):
            if not existing:
                continue
            path = root / existing[item[1] % len(existing)]
            if path.is_symlink():
                path.unlink()
                continue
            if kind == "modify":
                path.write_bytes(item[2])
            elif kind == "delete":
                path.unlink()
            else:
                path.chmod(path.stat().st_mode ^ stat.S_IXUSR)
            continue
        if kind == "symlink":
            path = root / item[1] / item[2]
            if path.exists() or path.is_symlink() or any(p.is_symlink() or p.is_file() for p in path.parents if root in p.parents):
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(item[3])
            continue
        if kind == "add":
            path = root.joinpath(*item[1])
            content, executable = item[2], item[3]
        else:
            path = root / item[1] / item[2]
            content, executable = item[3], False
        if any(p.is_symlink() or (p.exists() and not p.is_dir()) for p in path.parents if root in p.parents) \
                or path.is_dir() or path.is_symlink():
            continue  # a file where a folder should be: not a state a learner's editor can make
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        if executable:
            path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One workspace built once (with one backup in it, for `restore` cases); each case copies it."""
    sample = Path(__file__).parents[1] / "sample_course"
    old = os.environ.get("WORKSHOP_COURSE_DIR")
    os.environ["WORKSHOP_COURSE_DIR"] = str(sample)
    course._load.cache_clear()
    loaded = course.load()
    root = make_workspace(tmp_path_factory.mktemp("template") / "ws", loaded)
    (root / "svc-a" / "old-idea.txt").write_text("an earlier idea\n")
    first = operations.reset_to_step(root, loaded, loaded.step(1))
    operations.reset_to_step(root, loaded, loaded.step(0))
    yield root, loaded, first.backup.name
    course._load.cache_clear()
    if old is None:
        os.environ.pop("WORKSHOP_COURSE_DIR", None)
    else:
        os.environ["WORKSHOP_COURSE_DIR"] = old


def _config_text(entries) -> str:
    return "".join(f"[{section}]\n\t{key} = {value}\n" for section, key, value in entries)


def apply_git_setup(ws: Path, home: Path, setup) -> None:
    """The learner's attributes and config for one case (the global files live in this case's own folder)."""
    if setup["gitattributes"]:
        (ws / ".gitattributes").write_text(setup["gitattributes"])
    attributes = home / ".config" / "git" / "attributes"
    attributes.parent.mkdir(parents=True, exist_ok=True)
    attributes.write_text(setup["global_attributes"])
    (home / "gitconfig").write_text(_config_text(setup["global_config"]))
    with (ws / ".git" / "config").open("a") as config:
        config.write(_config_text(setup["repo_config"]))


def test_reset_solve_restore_never_lose_a_byte(template, tmp_path, monkeypatch):
    root, loaded, old_backup = template
    counter = itertools.count()

    @settings(max_examples=CASES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(edits=st.lists(edit, min_size=1, max_size=8), op=operation, setup=git_setup)
    def case(edits, op, setup):
        number = next(counter)
        ws = copy_workspace(root, tmp_path / f"case-{number}")
        home = tmp_path / f"home-{number}"
        monkeypatch.setenv("HOME", str(home))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
        apply_git_setup(ws, home, setup)
        apply_edits(ws, edits)
        before = files_of(ws)
        kind, number = op
        if kind == "reset":
            outcome = operations.reset_to_step(ws, loaded, loaded.steps[number])
        elif kind == "solve":
            outcome = operations.solve_step(ws, loaded, loaded.steps[number])
        else:
            outcome = operations.restore(ws, old_backup, services())
        RUN["cases"] += 1
        RUN["ops"][kind] = RUN["ops"].get(kind, 0) + 1
        if outcome.backup is None:
            assert files_of(ws) == before, "an operation without a backup changed files"
        else:
            operations.restore(ws, outcome.backup.name, services())
            after = files_of(ws)
            assert after.keys() == before.keys(), f"{kind}: files differ: {set(after) ^ set(before)}"
            assert after == before, f"{kind}: content or exec bit differs"

    case()
    print(f"\nproperty cases run: {RUN['cases']} ({RUN['ops']})")
    assert RUN["cases"] >= settings.default.max_examples
