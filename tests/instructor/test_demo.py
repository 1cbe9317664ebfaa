"""The demo's lifecycle, without deploying: which steps, which workspace, and what is cleaned up afterwards."""

from __future__ import annotations

import pytest

from workshop.course import model
from workshop.errors import BadInput


@pytest.fixture
def no_emulator(monkeypatch):
    from workshop import emulator
    from workshop.deploy import targets

    stopped = []
    monkeypatch.setattr(targets, "endpoint_for", lambda root, target: "http://127.0.0.1:9")
    monkeypatch.setattr(emulator, "stop", lambda folder: stopped.append(folder))
    monkeypatch.setattr(emulator, "status", lambda folder: None)
    return stopped


def test_steps_between_defaults_to_the_whole_module_and_refuses_a_reversed_range(sample_course):
    from workshop.instructor import demo

    loaded = model.load()
    assert demo.steps_between(loaded, None, None) == (loaded.steps[0], loaded.steps[-1])
    assert demo.steps_between(loaded, "1", "second") == (loaded.steps[1], loaded.steps[1])
    with pytest.raises(BadInput, match="comes before"):
        demo.steps_between(loaded, "2", "1")


def test_a_temporary_demo_workspace_is_removed_and_its_emulator_stopped(sample_course, no_emulator):
    from workshop.instructor import demo

    with demo.opened(model.load(), None, None) as where:
        assert where.temporary and (where.root / ".workshop" / "state.json").is_file()
        assert where.target.name == "local" and where.deploys.endpoint == "http://127.0.0.1:9"
    assert not where.root.parent.exists()
    assert no_emulator == [where.root / ".workshop" / "emulator"]


def test_a_given_workspace_is_kept_even_when_the_demo_is_interrupted(sample_course, no_emulator, tmp_path):
    from workshop.instructor import demo

    root = tmp_path / "class"
    with pytest.raises(KeyboardInterrupt), demo.opened(model.load(), root, None) as where:
        raise KeyboardInterrupt
    assert (root / ".workshop" / "state.json").is_file() and where.session is not None
    assert no_emulator == [root / ".workshop" / "emulator"]  # it was not running before: the demo's own is stopped
