"""The course: steps/course.toml plus one markdown file per step, validated on load.

Errors name the file and the line (or key) so a course author can fix them.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path

from workshop.errors import BadInput, CourseError

FORMAT_VERSION = 1
KINDS = ("code", "config", "deploy", "behaviour", "reliability")
WHEN = ("before", "after")
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class _Record:
    """A small read-only record. Not a dataclass: these are built on every command's start, where each dataclass
    definition costs ~3 ms (see bench/bench_startup.py)."""

    __slots__: tuple[str, ...] = ()

    def __init__(self, **values) -> None:
        for name in self.__slots__:
            object.__setattr__(self, name, values[name])

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __hash__(self) -> int:
        return hash((type(self).__name__, getattr(self, "id", None)))

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__ if n not in ("steps", "questions", "welcome", "final"))
        return f"{type(self).__name__}({shown})"


class Step(_Record):
    """One step of the module: id, number, title, services, kinds, hints, checks, deploys (tuples) and its markdown path."""

    __slots__ = ("id", "number", "title", "services", "kinds", "hints", "checks", "deploys", "path")
    id: str
    number: int
    title: str
    services: tuple[str, ...]
    kinds: tuple[str, ...]
    hints: tuple[str, ...]
    checks: tuple[str, ...]
    deploys: tuple[str, ...]
    path: Path

    @property
    def slug(self) -> str:
        """`NN-id`, as in the markdown file, the solution patch and the checkpoint branch."""
        return f"{self.number:02d}-{self.id}"

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")


class Question(_Record):
    """One of the module's questions (cost, order, retries), asked `when` ("before" or "after") the step with id `step`."""

    __slots__ = ("id", "title", "path", "step", "when")
    id: str
    title: str
    path: Path
    step: str | None  # the id of the step where the question is asked; None: only in `workshop questions`
    when: str  # "before" (think about it before the step's work) or "after" (once the step passes)

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")


class Course(_Record):
    """The whole course as loaded from a course folder (steps/, checkpoints/, solutions/)."""

    __slots__ = ("root", "title", "course_version", "welcome", "final", "services", "steps", "questions")
    root: Path
    title: str
    course_version: str
    welcome: str
    final: str
    services: dict[str, str]  # folder name -> title
    steps: tuple[Step, ...]
    questions: tuple[Question, ...]

    def step(self, ref: str | int) -> Step:
        """A step by number or id; an unknown one is a BadInput naming the valid range."""
        text = str(ref).strip()
        for step in self.steps:
            if text == step.id or (text.isdigit() and int(text) == step.number):
                return step
        last = self.steps[-1].number
        raise BadInput(f"There is no step {text!r}: use a number from 0 to {last} or a step id (see `workshop status`).")

    def by_id(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def index(self, step: Step) -> int:
        return self.steps.index(step)

    def questions_at(self, step: Step) -> tuple[Question, ...]:
        """The questions asked at this step, in course order."""
        return tuple(q for q in self.questions if q.step == step.id)

    def question(self, qid: str) -> Question:
        for question in self.questions:
            if question.id == qid:
                return question
        known = ", ".join(q.id for q in self.questions)
        raise BadInput(f"There is no question {qid!r}: choose one of {known} (see `workshop questions`).")


def course_root() -> Path:
    """The folder holding steps/ (a source checkout, an installed wheel, or $WORKSHOP_COURSE_DIR)."""
    if env := os.environ.get("WORKSHOP_COURSE_DIR"):
        return Path(env)
    package = Path(__file__).resolve().parents[1]  # workshop/
    for candidate in (package.parent, package / "_course"):
        if (candidate / "steps" / "course.toml").is_file():
            return candidate
    raise CourseError(f"The course files are missing (looked in {package.parent} and {package / '_course'}); reinstall with `make setup`.")


def load(root: Path | None = None, known_checks: frozenset[str] | None = None) -> Course:
    """Load and validate the course; every problem is reported at once, with file and line."""
    return _load(root or course_root(), known_checks)


@lru_cache(maxsize=8)
def _load(root: Path, known_checks: frozenset[str] | None) -> Course:
    key = _cache_key(root)
    if known_checks is None and key is not None and (cached := _read_cache(key)) is not None:
        return cached
    import tomllib

    path = root / "steps" / "course.toml"
    try:
        raw = path.read_text(encoding="utf-8")
        data = tomllib.loads(raw)
    except FileNotFoundError:
        raise CourseError(f"{path}: the course file is missing.") from None
    except tomllib.TOMLDecodeError as exc:
        raise CourseError(f"{path}: {exc}") from None
    problems = _Problems(path, raw)
    course = _build(root, data, problems, known_checks)
    if problems.items:
        raise CourseError(f"The course in {root} is invalid ({len(problems.items)} problems).", detail="\n".join(problems.items))
    if key is not None:
        _write_cache(key, course)
    return course


# --- a validated course, cached as JSON: every command loads the course, and TOML parsing is the slow part ---


def _cache_key(root: Path) -> str | None:
    """Changes whenever course.toml, or the list of files in steps/ or steps/questions/, changes."""
    import hashlib

    from workshop import __version__

    try:
        parts = [str(root.resolve()), __version__, str(FORMAT_VERSION)]
        for item in (root / "steps" / "course.toml", root / "steps", root / "steps" / "questions"):
            info = item.stat()
            parts.append(f"{info.st_mtime_ns}:{info.st_size}")
    except OSError:
        return None
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def _cache_file(key: str) -> Path:
    from workshop.errors import workshop_home

    return workshop_home() / "cache" / f"course-{key}.json"


def _read_cache(key: str) -> Course | None:
    try:
        data = json.loads(_cache_file(key).read_text(encoding="utf-8"))
        root = Path(data["root"])
        steps = tuple(Step(**{**s, "path": root / s["path"], **{k: tuple(s[k]) for k in _TUPLES}}) for s in data["steps"])
        questions = tuple(Question(**{**q, "path": root / q["path"]}) for q in data["questions"])
        return Course(**{**data, "root": root, "steps": steps, "questions": questions})
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no cache, or one from another layout: parse the TOML


_TUPLES = ("services", "kinds", "hints", "checks", "deploys")


def _write_cache(key: str, course: Course) -> None:
    from workshop.course.workspace import write_atomic

    def rel(path: Path) -> str:
        return str(path.relative_to(course.root))

    data = {name: getattr(course, name) for name in Course.__slots__ if name not in ("steps", "questions")}
    data["root"] = str(course.root)
    data["steps"] = [{**{n: getattr(s, n) for n in Step.__slots__}, "path": rel(s.path)} for s in course.steps]
    data["questions"] = [{**{n: getattr(q, n) for n in Question.__slots__}, "path": rel(q.path)} for q in course.questions]
    try:
        write_atomic(_cache_file(key), json.dumps(data))
    except OSError:
        pass  # a read-only home: every command parses the TOML, which is correct, only slower


class _Problems:
    """Collects validation errors with the line of the table they belong to."""

    def __init__(self, path: Path, raw: str):
        self.path, self.lines, self.items = path, raw.splitlines(), []

    def line_of(self, table: str, index: int, key: str | None = None) -> int:
        """1-based line of the index-th `[[table]]` header (or of `key` inside it)."""
        seen = -1
        for number, line in enumerate(self.lines, 1):
            if line.strip() == f"[[{table}]]":
                seen += 1
                if seen == index:
                    if key is None:
                        return number
                    for offset, inner in enumerate(self.lines[number:], number + 1):
                        if inner.strip().startswith("[["):
                            break
                        if re.match(rf"\s*{re.escape(key)}\s*=", inner):
                            return offset
                    return number
        return 1

    def add(self, message: str, table: str | None = None, index: int = 0, key: str | None = None) -> None:
        line = self.line_of(table, index, key) if table else 1
        self.items.append(f"{self.path}:{line}: {message}")


def _build(root: Path, data: dict, problems: _Problems, known_checks: frozenset[str] | None) -> Course:
    if data.get("format_version") != FORMAT_VERSION:
        problems.add(f"format_version must be {FORMAT_VERSION}, found {data.get('format_version')!r}")
    for key in ("course_version", "title", "welcome", "final"):
        if not isinstance(data.get(key), str) or not data.get(key, "").strip():
            problems.add(f"`{key}` must be a non-empty string")
    services = {
        name: str(value.get("title", name)) for name, value in (data.get("services") or {}).items() if isinstance(value, dict)
    }
    if not services:
        problems.add("`[services.NAME]` tables are missing")
    steps = tuple(_step(root, i, raw, services, problems, known_checks) for i, raw in enumerate(data.get("steps") or []))
    if not steps:
        problems.add("no `[[steps]]` found")
    seen_ids: set[str] = set()
    for i, step in enumerate(steps):
        if step.id in seen_ids:
            problems.add(f"step id {step.id!r} is used twice", "steps", i, "id")
        seen_ids.add(step.id)
        if step.number != i:
            problems.add(f"step {step.id!r} has number {step.number}, expected {i} (numbers run 0, 1, 2, ... in file order)", "steps", i, "number")
    questions = []
    for i, raw in enumerate(data.get("questions") or []):
        qid = str(raw.get("id", ""))
        if not SLUG.match(qid):
            problems.add(f"question id {qid!r} is not a slug", "questions", i, "id")
        qpath = root / "steps" / "questions" / f"{qid}.md"
        if not qpath.is_file():
            problems.add(f"question {qid!r}: {qpath} is missing", "questions", i)
        at = raw.get("step")
        if at is not None and at not in seen_ids:
            problems.add(f"question {qid!r}: `step` {at!r} is not a step id", "questions", i, "step")
        when = raw.get("when", "after")
        if when not in WHEN:
            problems.add(f"question {qid!r}: `when` must be one of {', '.join(WHEN)}", "questions", i, "when")
        questions.append(Question(id=qid, title=str(raw.get("title", qid)), path=qpath, step=at, when=when))
    return Course(
        root=root,
        title=str(data.get("title", "")),
        course_version=str(data.get("course_version", "")),
        welcome=str(data.get("welcome", "")).strip(),
        final=str(data.get("final", "")).strip(),
        services=services,
        steps=steps,
        questions=tuple(questions),
    )


def _strings(raw: dict, key: str, problems: _Problems, index: int, *, allow_empty: bool = False) -> tuple[str, ...]:
    value = raw.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.add(f"`{key}` must be a list of non-empty strings", "steps", index, key)
        return ()
    if not value and not allow_empty:
        problems.add(f"`{key}` must not be empty", "steps", index, key)
    return tuple(value)


def _step(root: Path, i: int, raw: dict, services: dict[str, str], problems: _Problems, known_checks: frozenset[str] | None) -> Step:
    step_id = str(raw.get("id", ""))
    if not SLUG.match(step_id):
        problems.add(f"step id {step_id!r} must be a slug (lower-case words joined by '-')", "steps", i, "id")
    number = raw.get("number")
    if not isinstance(number, int) or isinstance(number, bool):
        problems.add("`number` must be an integer", "steps", i, "number")
        number = -1
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.add("`title` must be a non-empty string", "steps", i, "title")
    step_services = _strings(raw, "services", problems, i)
    for name in step_services:
        if name not in services:
            problems.add(f"unknown service {name!r} (known: {', '.join(services)})", "steps", i, "services")
    kinds = _strings(raw, "kinds", problems, i)
    for kind in kinds:
        if kind not in KINDS:
            problems.add(f"unknown kind {kind!r} (known: {', '.join(KINDS)})", "steps", i, "kinds")
    hints = _strings(raw, "hints", problems, i)
    checks = _strings(raw, "checks", problems, i)
    if known_checks is not None:
        for check in checks:
            if check not in known_checks:
                problems.add(f"unknown check {check!r}", "steps", i, "checks")
    deploys = _strings(raw, "deploys", problems, i, allow_empty=True)
    for name in deploys:
        if name not in step_services:
            problems.add(f"deploys {name!r}, which is not among the step's services", "steps", i, "deploys")
    unknown = set(raw) - {"id", "number", "title", "services", "kinds", "hints", "checks", "deploys"}
    for key in sorted(unknown):
        problems.add(f"unknown key `{key}`", "steps", i, key)
    path = root / "steps" / f"{int(number):02d}-{step_id}.md" if number >= 0 else root / "steps" / f"{step_id}.md"
    if not path.is_file():
        problems.add(f"step {step_id!r}: {path.name} is missing from {path.parent}", "steps", i)
    return Step(
        id=step_id, number=int(number), title=str(title or ""), services=step_services, kinds=kinds,
        hints=hints, checks=checks, deploys=deploys, path=path,
    )
