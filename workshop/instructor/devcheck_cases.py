"""The case corpus of `workshop dev check`: for each code or config step, MISTAKES that must fail with a fix naming them
and CORRECT ALTERNATIVES that must pass, kept as data in `steps/cases/NN-<step-id>.toml`.

Each case is a small edit applied on top of the step's solution (the state after the step): one or more search/replace
pairs on the services' files. A static case runs the step's static checks on the edited files; a `live = true` case
is deployed on the embedded emulator by `devcheck_live` and runs the step's checks there. Returns data only.
"""

from __future__ import annotations

import shutil
import tempfile
import tomllib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workshop.course.model import Course, Step
from workshop.errors import CourseError

KINDS = ("mistake", "alternative")
CASE_KEYS = {"name", "file", "search", "replace", "edit", "fails", "fix_says", "observed_says", "live", "checks"}
EDIT_KEYS = {"file", "search", "replace"}
MIN_MISTAKES, MIN_ALTERNATIVES = 4, 3
PATCH_KINDS = {"code", "config"}


@dataclass(frozen=True)
class Edit:
    file: str
    search: str
    replace: str


@dataclass(frozen=True)
class Case:
    """One mistake or alternative of a step."""

    step: Step
    kind: str  # mistake / alternative
    name: str
    edits: tuple[Edit, ...]
    fails: tuple[str, ...] = ()  # a mistake: one of these checks must fail (default: any of the step's)
    fix_says: str = ""  # a mistake: text its failing check's fix must contain
    observed_says: str = ""  # a mistake: text its failing check's observed must contain
    live: bool = False
    checks: tuple[str, ...] = ()  # the checks to run (default: the step's static checks; live: all of the step's)

    @property
    def label(self) -> str:
        return f"step {self.step.number} ({self.step.id}) {self.kind}: {self.name}"


@dataclass
class Outcome:
    case: Case
    ok: bool
    detail: str = ""
    results: dict[str, Any] = field(default_factory=dict)


def cases_folder(course: Course) -> Path:
    return course.root / "steps" / "cases"


def load(course: Course) -> list[Case]:
    """Every case of the course, in step order; a malformed file is a CourseError naming it."""
    folder = cases_folder(course)
    by_slug = {step.slug: step for step in course.steps}
    found: list[Case] = []
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        step = by_slug.get(path.stem)
        if step is None:
            raise CourseError(f"steps/cases/{path.name} is not named after a step (NN-<id>.toml).")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise CourseError(f"steps/cases/{path.name} is not valid TOML: {exc}") from None
        unknown = set(data) - set(KINDS)
        if unknown:
            raise CourseError(f"steps/cases/{path.name}: unknown table(s) {', '.join(sorted(unknown))} (use [[mistake]] and [[alternative]]).")
        for kind in KINDS:
            for number, raw in enumerate(data.get(kind, []), 1):
                found.append(_case(step, kind, raw, f"steps/cases/{path.name} [[{kind}]] #{number}"))
    return found


def _case(step: Step, kind: str, raw: dict, where: str) -> Case:
    unknown = set(raw) - CASE_KEYS
    if unknown:
        raise CourseError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}.")
    if not isinstance(raw.get("name"), str) or not raw["name"].strip():
        raise CourseError(f"{where}: every case needs a `name`.")
    edits = [raw] if "file" in raw else list(raw.get("edit", []))
    if not edits:
        raise CourseError(f"{where} ({raw['name']}): no edit (give `file`, `search`, `replace`, or [[...edit]] tables).")
    parsed = []
    for edit in edits:
        if not all(isinstance(edit.get(k), str) for k in EDIT_KEYS) or not edit["search"]:
            raise CourseError(f"{where} ({raw['name']}): each edit needs `file`, a non-empty `search` and `replace`.")
        parsed.append(Edit(edit["file"], edit["search"], edit["replace"]))
    fails = raw.get("fails", ())
    fails = (fails,) if isinstance(fails, str) else tuple(fails)
    unknown_checks = [c for c in (*fails, *raw.get("checks", ())) if c not in step.checks]
    if unknown_checks:
        raise CourseError(f"{where} ({raw['name']}): {', '.join(unknown_checks)} is not a check of step {step.number}.")
    if kind == "mistake" and not (raw.get("fix_says") or raw.get("observed_says")):
        raise CourseError(f"{where} ({raw['name']}): a mistake says what its fix names (`fix_says` or `observed_says`).")
    return Case(step, kind, raw["name"].strip(), tuple(parsed), fails, raw.get("fix_says", ""), raw.get("observed_says", ""),
                bool(raw.get("live", False)), tuple(raw.get("checks", ())))


def apply(case: Case, tree: Path, into: Path) -> Path:
    """A copy of `tree` (the state after the case's step) with the case's edits applied; each `search` must be found."""
    shutil.copytree(tree, into, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".serverless"))
    for edit in case.edits:
        path = into / edit.file
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CourseError(f"{case.label}: {edit.file} does not exist after step {case.step.number}.") from None
        if edit.search not in text:
            raise CourseError(f"{case.label}: the search text is not in {edit.file} after step {case.step.number}.",
                              detail=edit.search)
        path.write_text(text.replace(edit.search, edit.replace, 1), encoding="utf-8")
    return into


def static_checks(step: Step) -> list[str]:
    from workshop.checks import registry

    return [c for c in step.checks if c in registry.CHECKS and registry.get(c).family == "static"]


def judge(case: Case, results: dict[str, Any]) -> Outcome:
    """Whether the checks' results (id -> Result) hold the case's promise."""
    if case.kind == "alternative":
        wrong = [f"{cid}: {r.result}: {r.observed} | fix: {r.fix}" for cid, r in results.items() if not r.passed]
        return Outcome(case, not wrong, "a correct alternative failed: " + "\n".join(wrong) if wrong else "", results)
    candidates = {cid: r for cid, r in results.items() if not case.fails or cid in case.fails}
    failing = {cid: r for cid, r in candidates.items() if r.result == "fail"}
    if not failing:
        shown = ", ".join(f"{cid}: {r.result}" for cid, r in candidates.items())
        return Outcome(case, False, f"the mistake was not caught ({shown})", results)
    for r in failing.values():
        if case.fix_says and case.fix_says.lower() not in r.fix.lower():
            continue
        if case.observed_says and case.observed_says.lower() not in r.observed.lower():
            continue
        return Outcome(case, True, "", results)
    said = "\n".join(f"{cid}: observed {r.observed!r}; fix {r.fix!r}" for cid, r in failing.items())
    wanted = " and ".join(f"{k} {v!r}" for k, v in (("a fix naming", case.fix_says), ("an observation naming", case.observed_says)) if v)
    return Outcome(case, False, f"caught, but without {wanted}:\n{said}", results)


def run_static(case: Case, tree: Path, course_root: Path) -> Outcome:
    """Apply the case on a copy of `tree` and run its checks without any AWS (static checks only)."""
    from workshop.checks import runner
    from workshop.checks.model import Context
    from workshop.deploy.targets import Target

    with tempfile.TemporaryDirectory(prefix="workshop-case-") as tmp:
        try:
            root = apply(case, tree, Path(tmp) / "ws")
        except CourseError as exc:
            return Outcome(case, False, f"{exc.message}\n{exc.detail or ''}".strip())
        ids = list(case.checks or (case.fails if case.kind == "mistake" and case.fails else static_checks(case.step)))
        runs = runner.run_checks(Context(root, Target(), course_root=course_root), ids)
        return judge(case, {r.check.id: r.result for r in runs})


def run_static_cases(course: Course, tree_after: Callable[[int], Path], cases: Iterable[Case] | None = None,
                     workers: int = 2) -> list[Outcome]:
    """Run every static case; `tree_after(n)` gives a folder holding the services as they are after step n."""
    chosen = [c for c in (load(course) if cases is None else cases) if not c.live]
    trees = {n: tree_after(n) for n in sorted({c.step.number for c in chosen})}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda c: run_static(c, trees[c.step.number], course.root), chosen))


def coverage(course: Course, cases: list[Case]) -> list[str]:
    """Each code or config step with fewer than MIN_MISTAKES mistakes or MIN_ALTERNATIVES alternatives."""
    problems = []
    for step in course.steps:
        if not PATCH_KINDS & set(step.kinds):
            continue
        mistakes = sum(1 for c in cases if c.step is step and c.kind == "mistake")
        alternatives = sum(1 for c in cases if c.step is step and c.kind == "alternative")
        if mistakes < MIN_MISTAKES or alternatives < MIN_ALTERNATIVES:
            problems.append(f"step {step.number} ({step.id}): {mistakes} mistakes, {alternatives} alternatives "
                            f"(at least {MIN_MISTAKES} and {MIN_ALTERNATIVES}) in steps/cases/{step.slug}.toml")
    return problems


def counts(course: Course, cases: list[Case]) -> dict[str, tuple[int, int]]:
    """step slug -> (mistakes, alternatives)."""
    return {step.slug: (sum(1 for c in cases if c.step is step and c.kind == "mistake"),
                        sum(1 for c in cases if c.step is step and c.kind == "alternative"))
            for step in course.steps if any(c.step is step for c in cases)}
