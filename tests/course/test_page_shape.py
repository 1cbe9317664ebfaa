"""The shape of the pages and hints (issue 17, items 3, 5 and 6): a one-line goal, a why of about 120 words, the expected
output on deploy and ride steps, a design note on the switch, graduated hints on deploy steps, and the reliability
story told in full."""

from __future__ import annotations

import re

import pytest

from workshop.course import model as course

LOADED = course.load()


def _section(text: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\s*\n(.*?)(?=^## |\Z)", text, re.DOTALL | re.MULTILINE)
    return match.group(1) if match else ""


@pytest.mark.parametrize("step", LOADED.steps, ids=lambda s: s.slug)
def test_each_page_opens_with_a_one_line_goal_and_a_short_why(step):
    text = step.text()
    first, rest = text.split("\n", 1)
    assert first.startswith("**Goal:** ") and len(first) <= 120, first
    assert rest.lstrip().startswith("## Why")
    words = len(_section(text, "Why").split())
    assert 80 <= words <= 140, f"{step.slug}: the why has {words} words"


@pytest.mark.parametrize("step", [s for s in LOADED.steps if {"deploy", "behaviour"} & set(s.kinds)], ids=lambda s: s.slug)
def test_deploy_and_ride_steps_show_the_expected_output(step):
    shown = _section(step.text(), "What you should see")
    assert shown.strip(), step.slug
    assert "Deployed " in shown or "recorded via" in shown or "201 ride" in shown


def test_the_switch_has_a_design_note():
    note = " ".join(_section(LOADED.step("deploy-sns-path").text(), "Design note: what stays synchronous").split())
    for idea in ("synchronous call", "202 Accepted", "201", "InvocationType: Event", "EventBridge", "SQS"):
        assert idea in note, idea


@pytest.mark.parametrize("step", [s for s in LOADED.steps if "deploy" in s.kinds], ids=lambda s: s.slug)
def test_deploy_hints_are_graduated(step):
    nudge, command, *rest = step.hints
    assert rest, "three hints: a nudge, the command, what to look at when it fails"
    assert "`workshop " not in nudge, "the first hint nudges; it doesn't give the command"
    assert "workshop deploy" in command or "workshop verify" in command
    last = rest[-1]
    assert last.startswith("If "), "the last hint says what to look at when it fails: " + last


def test_the_reliability_story_names_what_the_function_dlq_misses():
    retries = " ".join(LOADED.question("retries").text().split())
    page = " ".join(LOADED.step("dead-letter-queue").text().split())
    for text in (retries, page):
        for idea in ("redrivePolicy", "onFailure", "maximumRetryAttempts", "maximumEventAge", "ApproximateNumberOfMessagesVisible"):
            assert idea in text, idea


def test_the_subscription_dlq_page_warns_about_each_mistake_its_cases_hold():
    """Each mistake of steps/cases/14-*.toml is one the page warns about (the check's fix then names the page's change)."""
    page = " ".join(LOADED.step("subscription-dead-letter-queue").text().split())
    for warning in ("unrecognized property 'redrivePolicy'", "must be string", "not `Ref:` or `!Ref`", "pasted ARN",
                    "not RideRecordDlq", "`AWS::SQS::QueuePolicy`", "`AWS::Lambda::Permission`", "subscribe the function twice",
                    "deadLetterTargetRef: RidesSnsSubscriptionDlq"):
        assert warning in page, warning
    hints = " ".join(LOADED.step("subscription-dead-letter-queue").hints)
    assert "`workshop " not in LOADED.step("subscription-dead-letter-queue").hints[0]
    assert "deadLetterTargetRef" in hints and "AWS::SQS::QueuePolicy" in hints
