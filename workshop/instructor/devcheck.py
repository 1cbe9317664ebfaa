"""`workshop dev check`: the course authors' proof that the course is consistent (CI runs it).

Every patch applies in order on the start; each checkpoint's changed services pass their own unit tests; the start FAILS
step 1's test of handler_http and the checkpoint after step 1 passes it; nothing stray is shipped. Returns data only.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from workshop.checkpoints.build import build, patch_path
from workshop.checkpoints.repo import Repo
from workshop.course.model import Course
from workshop.errors import CourseError
from workshop.instructor import template_lint

FIRST_TEST = Path("steps") / "tests" / "test_handler_http.py"
FIRST_TEST_STEP = 1
TEST_TIMEOUT = 300
PATCH_KINDS = {"code", "config"}
STRAY = re.compile(r"(^|/)(__pycache__|\.pytest_cache|\.serverless|node_modules|\.DS_Store|\.idea|\.vscode)(/|$)|\.(pyc|orig|rej|swp)$|~$")


@dataclass(frozen=True)
class Item:
    """One check of the course and its outcome."""

    name: str
    ok: bool
    detail: str = ""


def check_course(course: Course, *, run_tests: bool = True) -> list[Item]:
    """Run every author's check in a throwaway repository; never touches a workspace."""
    items = _stray_sources(course)
    with tempfile.TemporaryDirectory(prefix="workshop-dev-check-") as scratch:
        repo = Repo(Path(scratch) / "repo")
        repo.root.mkdir()
        repo.run("init", "-q")
        try:
            start, commits = build(repo, course)
        except CourseError as exc:
            return [*items, Item("every patch applies in order", False, f"{exc.message}\n{exc.detail or ''}".strip())]
        patches = sum(1 for step in course.steps if patch_path(course, step).is_file())
        items.append(Item(f"all {patches} patches apply in order on the start", True))
        states = [("start", start)] + [(step.slug, commit) for step, commit in commits]
        items += _stray_in_trees(repo, course, states)
        if run_tests:
            items += _unit_tests(repo, states, Path(scratch))
            items += _first_step_test(repo, course, start, commits, Path(scratch))
            items += [Item(*found) for found in template_lint.check(repo, course, states, Path(scratch))]
    return items


def _stray_sources(course: Course) -> list[Item]:
    """Patches named after real steps, one for each step that changes code or config, nothing else in solutions/."""
    slugs = {step.slug: step for step in course.steps}
    problems = []
    folder = course.root / "solutions"
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.suffix == ".patch" and path.stem not in slugs:
            problems.append(f"solutions/{path.name} is not named after a step (NN-<id>.patch)")
        elif path.suffix not in (".patch", ".md"):
            problems.append(f"solutions/{path.name} is neither a patch nor a README")
    for step in course.steps:
        has_patch = patch_path(course, step).is_file()
        wants_patch = bool(PATCH_KINDS & set(step.kinds))
        if has_patch != wants_patch:
            problems.append(f"step {step.slug} ({', '.join(step.kinds)}) {'has a patch but changes no file' if has_patch else 'changes files but has no patch'}")
    return [Item("solutions/ holds one patch per code or config step and nothing stray", not problems, "\n".join(problems))]


def _stray_in_trees(repo: Repo, course: Course, states: list[tuple[str, str]]) -> list[Item]:
    problems, seen = [], set()
    allowed_top = set(course.services) | {".gitignore"}
    for name, commit in states:
        if commit in seen:
            continue
        seen.add(commit)
        for path in repo.lines("ls-tree", "-r", "-z", "--name-only", commit):
            if STRAY.search(path) or path.split("/", 1)[0] not in allowed_top:
                problems.append(f"{name}: {path}")
    return [Item("no stray files in any checkpoint (only the service folders, no caches or merge leftovers)", not problems, "\n".join(problems))]


def _export(repo: Repo, commit: str, folder: Path) -> Path:
    """Write the files of `commit` into `folder` (a private index; no workspace involved)."""
    index = folder.with_name(folder.name + ".index")
    repo.run("read-tree", commit, index=index)
    repo.run("checkout-index", "-a", "-f", f"--prefix={folder}/", index=index)
    index.unlink(missing_ok=True)
    return folder


def _pytest(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    full_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    try:
        done = subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=TEST_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {TEST_TIMEOUT} s"
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
    return done.returncode, tail


def _unit_tests(repo: Repo, states: list[tuple[str, str]], scratch: Path) -> list[Item]:
    """Each service's own tests at the start, then again at every checkpoint that changes that service."""
    items, previous = [], None
    for name, commit in states:
        if commit == previous:
            continue
        changed = {p.split("/", 1)[0] for p in repo.lines("diff-tree", "-r", "-z", "--name-only", previous, commit)} if previous else None
        previous = commit
        folder = _export(repo, commit, scratch / f"tree-{name}")
        for service in sorted(p.name for p in folder.iterdir() if p.is_dir()):
            if changed is not None and service not in changed:
                continue
            code, tail = _pytest([], folder / service)
            items.append(Item(f"{name}: the unit tests of {service} pass", code == 0, tail))
    return items


def _first_step_test(repo: Repo, course: Course, start: str, commits, scratch: Path) -> list[Item]:
    """The start must fail step 1's test (the learner has work to do) and the state after step 1 must pass it."""
    test = course.root / FIRST_TEST
    if len(course.steps) <= FIRST_TEST_STEP:
        return []
    step, after = commits[FIRST_TEST_STEP]
    if not test.is_file():
        return [Item(f"{FIRST_TEST} exists (step {step.slug}'s test)", False, f"{test} is missing")]
    service = step.services[0]
    items = []
    for label, commit, want_pass in (("start", start, False), (step.slug, after, True)):
        folder = scratch / f"tree-{label}"
        if not folder.is_dir():
            _export(repo, commit, folder)
        code, tail = _pytest([str(test)], course.root, {"WORKSHOP_SERVICE_DIR": str(folder / service)})
        ok = code == 0 if want_pass else code == 1
        verb = "passes" if want_pass else "fails"
        items.append(Item(f"{label}: {FIRST_TEST.name} {verb} on {service}", ok, tail))
    return items
