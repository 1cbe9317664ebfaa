"""Loading and validating the course file: the real course loads; a broken one gives located errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workshop.course import model as course
from workshop.errors import BadInput, CourseError

REPO = Path(__file__).resolve().parents[2]


def test_real_course_has_steps_0_to_14_with_unique_slug_ids():
    loaded = course.load(REPO)
    assert [s.number for s in loaded.steps] == list(range(15))
    assert len({s.id for s in loaded.steps}) == 15
    assert all(course.SLUG.match(s.id) for s in loaded.steps)
    assert {q.id for q in loaded.questions} == {"cost", "order", "retries"}
    for step in loaded.steps:
        assert step.checks, step.id
        assert len(step.hints) >= 2, step.id
        assert step.text().strip(), step.id
        assert "TODO" not in step.text() and all("TODO" not in h for h in step.hints), step.id


def test_real_course_matches_the_module_order():
    loaded = course.load(REPO)
    kinds = {s.number: set(s.kinds) for s in loaded.steps}
    assert kinds[0] == {"deploy"} and kinds[1] == {"code", "config"} and kinds[4] == {"behaviour"}
    assert "reliability" in kinds[13] and "reliability" in kinds[14]
    deploying = [s.number for s in loaded.steps if s.deploys]
    assert deploying == [0, 3, 6, 10, 12, 13, 14]


def test_step_lookup_by_number_and_id(sample_course):
    loaded = course.load()
    assert loaded.step("1").id == "second"
    assert loaded.step("third").number == 2
    for bad in ("99", "abc", "-1", "", " "):
        with pytest.raises(BadInput, match="workshop status"):
            loaded.step(bad)


def _broken_copy(tmp_path: Path, edit) -> Path:
    root = tmp_path / "course"
    shutil.copytree(REPO / "tests" / "sample_course", root)
    toml = root / "steps" / "course.toml"
    toml.write_text(edit(toml.read_text()))
    return root


def test_broken_course_reports_every_problem_with_file_and_line(tmp_path):
    root = _broken_copy(
        tmp_path,
        lambda t: t.replace('id = "second"', 'id = "Second Step"').replace('kinds = ["code"]', 'kinds = ["coding"]')
        .replace('checks = ["check-three"]', "checks = []"),
    )
    with pytest.raises(CourseError) as info:
        course.load(root)
    detail = info.value.detail
    lines = (root / "steps" / "course.toml").read_text().splitlines()
    assert "must be a slug" in detail and "unknown kind 'coding'" in detail and "`checks` must not be empty" in detail
    for entry in detail.splitlines():
        location, _, _ = entry.partition(": ")
        path, _, line = location.rpartition(":")
        assert path.endswith("course.toml") and line.isdigit(), entry
    kinds_line = next(i for i, text in enumerate(lines, 1) if "coding" in text)
    assert f"course.toml:{kinds_line}: unknown kind" in detail


def test_unknown_check_names_are_reported_against_the_registry(sample_course):
    with pytest.raises(CourseError) as info:
        course.load(sample_course, known_checks=frozenset({"check-one", "check-two"}))
    assert "unknown check 'check-three'" in info.value.detail


def test_missing_markdown_and_bad_toml_are_reported(tmp_path):
    root = _broken_copy(tmp_path, lambda t: t)
    (root / "steps" / "01-second.md").unlink()
    with pytest.raises(CourseError) as info:
        course.load(root)
    assert "01-second.md is missing" in info.value.detail
    (root / "steps" / "course.toml").write_text("format_version = [")
    with pytest.raises(CourseError, match="course.toml"):
        course.load(root)


def test_numbers_must_follow_file_order(tmp_path):
    root = _broken_copy(tmp_path, lambda t: t.replace("number = 1", "number = 5"))
    with pytest.raises(CourseError) as info:
        course.load(root)
    assert "has number 5, expected 1" in info.value.detail


def test_the_parsed_course_is_cached_and_a_changed_file_is_read_again(tmp_path):
    root = _broken_copy(tmp_path, lambda t: t)
    first = course.load(root)
    cached = list((course._cache_file(course._cache_key(root))).parent.glob("course-*.json"))
    assert cached, "the validated course should be cached"
    course._load.cache_clear()
    assert course.load(root) == first  # from the cache
    toml = root / "steps" / "course.toml"
    toml.write_text(toml.read_text().replace('title = "The third step"', 'title = "The third step, renamed"'))
    course._load.cache_clear()
    assert course.load(root).step("2").title == "The third step, renamed"
    (root / "steps" / "01-second.md").unlink()  # the folder changes too: validation runs again
    course._load.cache_clear()
    with pytest.raises(CourseError, match="invalid"):
        course.load(root)
