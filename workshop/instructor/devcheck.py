"""`workshop dev check`: the course authors' proof that the course is consistent (CI runs it).

Every check named in course.toml exists; every patch applies in order on the start; each checkpoint's changed services
pass their own unit tests and every handler its serverless.yml names exists (each checkpoint deploys); the start FAILS
step 1's test of handler_http and the checkpoint after step 1 passes it; nothing stray is shipped; every case of the
corpus (steps/cases/) holds; and, unless skipped, on the embedded emulator every step's checks fail at its start and pass
after its solution and deploys, and the live cases hold. `run` orchestrates it all and returns data only.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
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


def run(course: Course, *, run_tests: bool = True, live: bool = True, on_item: Callable[[Item], None] = lambda _i: None,
        on_phase: Callable[[str], None] = lambda _p: None) -> list[Item]:
    """Every author's check, in order; `on_item` sees each result as it comes, `on_phase` names a long phase starting.
    The live walk runs only when everything before it passed."""
    from workshop.checks import registry
    from workshop.course import model

    items: list[Item] = []

    def add(item: Item) -> None:
        items.append(item)
        on_item(item)

    try:
        model.load(course.root, known_checks=registry.ids())
        add(Item("every check named in course.toml exists", True))
    except CourseError as exc:
        add(Item("every check named in course.toml exists", False, exc.detail or exc.message))
    for item in check_course(course, run_tests=run_tests, on_phase=on_phase):
        add(item)
    if live and all(item.ok for item in items):
        from workshop.instructor import devcheck_live

        on_phase("walking every step on the embedded emulator")
        devcheck_live.check_steps(course, lambda name, ok, detail: add(Item(name, ok, detail)))
    return items


def check_course(course: Course, *, run_tests: bool = True, on_phase: Callable[[str], None] = lambda _p: None) -> list[Item]:
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
        items += _handlers_exist(repo, states, Path(scratch))
        if run_tests:
            on_phase("running every checkpoint's unit tests")
            items += _unit_tests(repo, states, Path(scratch))
            items += _first_step_test(repo, course, start, commits, Path(scratch))
            items += [Item(*found) for found in template_lint.check(repo, course, states, Path(scratch))]
            on_phase("running the case corpus (steps/cases)")
            items += _cases(course, repo, start, commits, Path(scratch))
    return items


def _tree(repo: Repo, commit: str, folder: Path) -> Path:
    return folder if folder.is_dir() else _export(repo, commit, folder)


def _handlers_exist(repo: Repo, states: list[tuple[str, str]], scratch: Path) -> list[Item]:
    """Every function of every checkpoint's serverless.yml names a handler its code defines (so each checkpoint deploys)."""
    from workshop.checks.code import missing_handlers

    problems = []
    for name, commit in states:
        folder = _tree(repo, commit, scratch / f"tree-{name}")
        for service in sorted(p.name for p in folder.iterdir() if (p / "serverless.yml").is_file()):
            problems += [f"{name}: {problem}" for problem in missing_handlers(folder / service, service)]
    return [Item("every checkpoint's serverless.yml names handlers its code defines", not problems, "\n".join(problems))]


def _cases(course: Course, repo: Repo, start: str, commits, scratch: Path) -> list[Item]:
    """The static cases of steps/cases/: one item per step (its mistakes fail with their fix, its alternatives pass)."""
    from workshop.instructor import devcheck_cases

    try:
        cases = devcheck_cases.load(course)
    except CourseError as exc:
        return [Item("steps/cases/ reads", False, f"{exc.message}\n{exc.detail or ''}".strip())]
    by_number = {step.number: (step, commit) for step, commit in commits}

    def tree_after(number: int) -> Path:
        step, commit = by_number[number]
        return _tree(repo, commit, scratch / f"tree-{step.slug}")

    gaps = devcheck_cases.coverage(course, cases)
    items = [Item(f"steps/cases/ holds at least {devcheck_cases.MIN_MISTAKES} mistakes and {devcheck_cases.MIN_ALTERNATIVES} "
                  "alternatives per code or config step", not gaps, "\n".join(gaps))]
    outcomes = devcheck_cases.run_static_cases(course, tree_after, cases)
    for step in course.steps:
        mine = [o for o in outcomes if o.case.step is step]
        if not mine:
            continue
        mistakes = sum(1 for o in mine if o.case.kind == "mistake")
        wrong = [f"{o.case.kind}: {o.case.name}: {o.detail}" for o in mine if not o.ok]
        items.append(Item(f"step {step.number} ({step.id}): {mistakes} mistakes fail naming their fix, "
                          f"{len(mine) - mistakes} correct alternatives pass", not wrong, "\n".join(wrong)))
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
    """Write the files of `commit` into `folder`, byte for byte (no workspace involved)."""
    return repo.export_tree(commit, folder)


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
