"""The module's questions sit on the learner's path: asked at a step, shown without their answer, answered on request;
and the figures and claims of the pages agree with the calculator and with each other (issue 17, items 1 and 2)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from workshop.course import model as course
from workshop.instructor import cost

ROOT = Path(__file__).resolve().parents[2]
STEPS = ROOT / "steps"


@pytest.fixture(scope="module")
def loaded():
    return course.load()


def test_each_question_is_asked_at_the_step_where_it_fits(loaded):
    where = {q.id: (q.step, q.when) for q in loaded.questions}
    assert where == {
        "order": ("deploy-start", "before"),
        "cost": ("request-ride-http", "after"),
        "retries": ("dead-letter-queue", "before"),
    }
    for question in loaded.questions:
        assert question in loaded.questions_at(loaded.by_id(question.step))


def test_a_question_attached_to_an_unknown_step_is_a_course_error(tmp_path):
    from workshop.errors import CourseError

    copy = tmp_path / "course"
    import shutil

    shutil.copytree(STEPS, copy / "steps")
    toml = copy / "steps" / "course.toml"
    toml.write_text(toml.read_text().replace('step = "request-ride-http"', 'step = "no-such-step"'))
    course._load.cache_clear()
    with pytest.raises(CourseError) as caught:
        course.load(copy)
    assert "no-such-step" in str(caught.value.detail)


@pytest.mark.parametrize("qid", ["order", "cost", "retries"])
def test_a_question_without_answer_hides_the_answer(loaded, qid):
    question = loaded.question(qid)
    asked = cost.question_text(question, answer=False)
    answered = cost.question_text(question)
    assert "## Answer" not in asked and "## Question" in asked
    assert "## Answer" in answered and answered.startswith(asked.rstrip())


def test_the_cost_answer_has_the_worked_figures_and_the_pages_caveats(loaded):
    text = cost.question_text(loaded.question("cost"))
    assert cost.worked_answer() in text  # the calculator's arithmetic
    assert "What is left out" in text and "64 KB" in text  # the page's own caveats, no longer dropped
    assert cost.WORKED_ANSWER not in text
    assert "$39.08" not in cost.question_text(loaded.question("cost"), answer=False)


def test_cost_page_figures_match_the_calculator():
    e = cost.estimate(cost.Inputs())
    rest = e.http.line("api_gateway_rest").billed
    sns = e.sns.line("sns_publish").billed + e.sns.line("sns_lambda_delivery").billed
    http_api = cost.estimate(cost.Inputs(http_api=True))
    hop_percent = ((rest - sns) / rest * 100).quantize(Decimal(1))
    page = (STEPS / "questions" / "cost.md").read_text()
    expected = {
        f"{hop_percent}% less",  # the hop itself
        f"is {e.saving_percent}% of it",  # of the whole HTTP-path bill
        f"${rest:.2f}", f"${sns:.2f}", f"${e.http.total:.2f}", f"${e.sns.total:.2f}", f"${e.saving:.2f}",
        f"${http_api.http.line('api_gateway_http').billed:.2f}", f"${http_api.http.total:.2f}",
    }
    for figure in expected:
        assert figure in page, figure
    lambda_total = e.http.total - rest
    assert f"${lambda_total:.2f}" in page
    for amount in re.findall(r"\$\d[\d,]*\.\d\d", page):  # no figure the calculator doesn't produce
        known = {f"${x:.2f}" for x in (rest, sns, e.http.total, e.sns.total, e.saving, lambda_total,
                                         http_api.http.line("api_gateway_http").billed, http_api.http.total)}
        assert amount in known, amount
    assert (hop_percent, e.saving_percent) == (86, 77)


def test_pages_no_longer_contradict_each_other():
    order = (STEPS / "questions" / "order.md").read_text()
    assert "no ride is ever dropped" not in order
    assert "between steps 12 and 13" in order
    eleven = (STEPS / "11-publish-to-sns.md").read_text()
    assert "neither works without the other" not in " ".join(eleven.split())
    thirteen = " ".join((STEPS / "13-dead-letter-queue.md").read_text().split())
    assert "only existed since step 12" not in thirteen
    assert "since step 10" in thirteen and "since step 12" in thirteen
    assert "can't store" not in thirteen and "json.loads" in thirteen
    cost_page = " ".join((STEPS / "questions" / "cost.md").read_text().split())
    assert "77% of this hop" not in cost_page


def test_the_learner_meets_the_questions_on_the_path(tmp_path, monkeypatch, cli):
    course._load.cache_clear()
    root = tmp_path / "ws"
    assert cli("init", str(root)).exit_code == 0
    monkeypatch.chdir(root)
    for number, qid in (("0", "order"), ("4", "cost"), ("13", "retries")):
        shown = cli("show", number)
        assert shown.exit_code == 0, shown.output
        assert f"workshop questions {qid}" in shown.stdout, number
    assert "workshop questions" not in cli("show", "5").stdout.replace("workshop questions --", "")
    asked = cli("questions", "cost")
    assert asked.exit_code == 0 and "$39.08" not in asked.stdout and "workshop questions --answer cost" in asked.stdout
    answered = cli("questions", "--answer", "cost")
    assert answered.exit_code == 0 and "$39.08" in answered.stdout and "What is left out" in answered.stdout
    listing = cli("questions")
    assert "before step 0" in listing.stdout and "after step 4" in listing.stdout and "before step 13" in listing.stdout
    assert cli("questions", "nope").exit_code == 2
