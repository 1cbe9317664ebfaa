"""The overview layer (issue 17, item 4): the welcome's objectives, prerequisites, time per step and glossary, and the
architecture before and after a step in `workshop show`."""

from __future__ import annotations

import re

from workshop.course import model as course


def test_welcome_has_objectives_prerequisites_times_and_glossary():
    loaded = course.load()
    welcome = loaded.welcome
    for heading in ("## What you will be able to do", "## Before you start", "## How long it takes", "## Words you will meet"):
        assert heading in welcome, heading
    for prerequisite in ("--target aws", "credentials", "workshop doctor"):
        assert prerequisite in welcome, prerequisite
    for word in ("**ARN**", "**Logical id**", "**`Ref` and `Fn::GetAtt`**", "**Stage**", "**Asynchronous invocation**",
                 "**At-least-once delivery**"):
        assert word in welcome, word


def test_every_step_has_a_time_and_the_total_is_their_sum():
    loaded = course.load()
    cells = re.findall(r"\|\s*(\d+) [^|]+\|\s*(\d+)\s*(?=\|)", course.load().welcome)
    minutes = {int(step): int(m) for step, m in cells}
    assert sorted(minutes) == [s.number for s in loaded.steps]
    total = int(re.search(r"About (\d+) minutes", loaded.welcome).group(1))
    assert total == sum(minutes.values())


def test_show_draws_the_architecture_before_and_after_a_step(tmp_path, monkeypatch, cli):
    course._load.cache_clear()
    root = tmp_path / "ws"
    assert cli("init", str(root)).exit_code == 0
    monkeypatch.chdir(root)
    switch = cli("show", "publish-to-sns").stdout
    before, after = switch.split("Architecture after this step")
    assert "Architecture before this step" in before and "RequestRide --HTTPS-->" in before
    assert "RequestRide --publish--> SNS RidesSnsTopic" in after.split("╰")[0]
    deploy = cli("show", "deploy-sns-path").stdout
    assert "Architecture (what this step's deploy puts in the cloud)" in deploy
    assert "RequestRide --publish-->" in deploy
