"""The case corpus (steps/cases/): every static case holds, each code or config step has enough of them, and the
runner really judges (a mistake that passes, an alternative that fails, a fix that does not name the mistake)."""

from __future__ import annotations

import pytest

from workshop.checks.model import failed, passed
from workshop.course import model as course
from workshop.errors import CourseError
from workshop.instructor import devcheck_cases

LOADED = course.load()
CASES = devcheck_cases.load(LOADED)
STEPS = sorted({c.step.slug for c in CASES if not c.live})


def test_every_code_or_config_step_has_enough_cases():
    assert devcheck_cases.coverage(LOADED, CASES) == []


@pytest.mark.parametrize("slug", STEPS)
def test_the_static_cases_of_each_step_hold(states, slug):
    mine = [c for c in CASES if c.step.slug == slug and not c.live]
    outcomes = devcheck_cases.run_static_cases(LOADED, states, mine)
    wrong = [f"{o.case.label}: {o.detail}" for o in outcomes if not o.ok]
    assert not wrong, "\n".join(wrong)


def _case(kind, **kw):
    step = LOADED.step(5)
    return devcheck_cases.Case(step, kind, "a case", (devcheck_cases.Edit("wild-rydes/serverless.yml", "x", "y"),), **kw)


def test_the_judge_refuses_a_mistake_that_passes_or_whose_fix_names_something_else():
    mistake = _case("mistake", fix_says="${sls:stage}")
    assert not devcheck_cases.judge(mistake, {"topic-declared": passed("fine")}).ok
    assert not devcheck_cases.judge(mistake, {"topic-declared": failed("wrong", "right", "Rename the topic.")}).ok
    assert devcheck_cases.judge(mistake, {"topic-declared": failed("wrong", "right", "Write `${sls:stage}`.")}).ok


def test_the_judge_refuses_an_alternative_that_fails():
    alternative = _case("alternative")
    assert not devcheck_cases.judge(alternative, {"a": passed("ok"), "b": failed("no", "yes", "fix")}).ok
    assert devcheck_cases.judge(alternative, {"a": passed("ok")}).ok


def test_an_edit_that_does_not_apply_is_reported(states):
    case = _case("alternative")
    outcome = devcheck_cases.run_static(case, states(5), LOADED.root)
    assert not outcome.ok and "search text is not in wild-rydes/serverless.yml" in outcome.detail


@pytest.mark.parametrize("text, message", [
    ("[[mistake]]\nname = 'm'\nfile = 'wild-rydes/serverless.yml'\nsearch = 'a'\nreplace = 'b'\n", "says what its fix names"),
    ("[[oops]]\nname = 'm'\n", "unknown table"),
    ("[[alternative]]\nname = 'a'\n", "no edit"),
    ("[[mistake]]\nname = 'm'\nfile = 'f'\nsearch = 'a'\nreplace = 'b'\nfix_says = 'x'\nfails = 'live-topic'\n", "not a check of step 5"),
])
def test_malformed_case_files_name_the_problem(tmp_path, monkeypatch, text, message):
    import shutil

    copy = tmp_path / "course"
    shutil.copytree(LOADED.root / "steps", copy / "steps")
    for name in ("checkpoints", "solutions"):
        (copy / name).symlink_to(LOADED.root / name)
    for path in (copy / "steps" / "cases").glob("*.toml"):
        path.unlink()
    (copy / "steps" / "cases" / "05-add-sns-topic.toml").write_text(text)
    with pytest.raises(CourseError, match=message):
        devcheck_cases.load(course.load(copy))
