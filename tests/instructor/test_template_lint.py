"""The real templates linted (issue 14 item 8): osls package with the longest stage allowed, cfn-lint's errors per Region."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from workshop.checkpoints.build import build
from workshop.checkpoints.repo import Repo
from workshop.course import model as course
from workshop.deploy import tools
from workshop.instructor import template_lint


def _function(name: str) -> dict:
    return {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {
        "FunctionName": name, "Runtime": "python3.12", "Handler": "a.b", "Role": "arn:aws:iam::123456789012:role/r",
        "Code": {"ZipFile": "x"}}}}}


def test_cfn_lint_errors_are_reported_per_region():
    assert template_lint.lint_template(_function("wild-rydes-dev-PutRideRecord"), "ap-southeast-2") == []
    long_name = "wild-rydes-ride-record-dev-" + "x" * 30 + "-PutRideRecordHttp"  # 71 characters
    found = template_lint.lint_template(_function(long_name), "us-east-1")
    assert len(found) == 1 and found[0].startswith("E3031 Resources/Fn/Properties/FunctionName:") and long_name in found[0]


def test_ssm_references_are_found_for_the_stage():
    text = "env:\n  URL: ${ssm:/wild-rydes-ride-record/${sls:stage}/URL}\n  T: ${ssm:/x/${opt:stage, 'dev'}/TopicArn}\n"
    assert template_lint.ssm_names(text, "dev-x") == ["/wild-rydes-ride-record/dev-x/URL", "/x/dev-x/TopicArn"]


def test_the_stage_linted_is_the_longest_the_runner_allows_in_each_region():
    from workshop.deploy import targets

    loaded = course.load()
    for region, length in (("us-east-1", 20), ("ap-southeast-2", 15)):
        stage = template_lint.longest_stage(loaded, region)
        assert stage.startswith("dev-") and len(stage) == length == targets.stage_budget(region), (region, stage)


@pytest.mark.slow
def test_every_checkpoint_is_packaged_and_a_name_too_long_for_the_stage_is_found(tmp_path, monkeypatch, sample_course):
    if tools.find_osls() is None:
        pytest.skip("osls is not installed (run `npm ci`)")
    copy = tmp_path / "course"
    shutil.copytree(sample_course, copy)
    config = copy / "checkpoints" / "start" / "svc-a" / "serverless.yml"
    config.write_text(config.read_text().replace("service: svc-a", "service: svc-a-with-a-much-longer-name"))
    monkeypatch.setenv("WORKSHOP_COURSE_DIR", str(copy))
    course._load.cache_clear()
    loaded = course.load()
    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        repo = Repo(Path(scratch) / "repo")
        repo.root.mkdir()
        repo.run("init", "-q")
        start, commits = build(repo, loaded)
        states = [("start", start)] + [(step.slug, commit) for step, commit in commits]
        items = template_lint.check(repo, loaded, states, Path(scratch), regions=["ap-southeast-2"])
    assert [(name, ok) for name, ok, _ in items] == [
        (f"every checkpoint's templates pass cfn-lint (stage {template_lint.longest_stage(loaded, 'ap-southeast-2')}, "
         "the longest allowed in ap-southeast-2)", False)]
    assert "start svc-a: E3031 Resources/RecordLambdaFunction/Properties/FunctionName" in items[0][2]
    assert "svc-b" not in items[0][2]


@pytest.mark.slow
def test_the_courses_own_checkpoints_pass_with_the_longest_stage_in_both_regions(tmp_path):
    """What `workshop dev check` runs on the real course: a finding here is fixed in the course, not hidden."""
    if tools.find_osls() is None:
        pytest.skip("osls is not installed (run `npm ci`)")
    loaded = course.load()
    repo = Repo(tmp_path / "repo")
    repo.root.mkdir()
    repo.run("init", "-q")
    start, commits = build(repo, loaded)
    states = [("start", start)] + [(step.slug, commit) for step, commit in commits]
    items = template_lint.check(repo, loaded, states, tmp_path)
    assert len(items) == 2 and all(ok for _, ok, _ in items), "\n".join(f"{name}\n{detail}" for name, ok, detail in items if not ok)
