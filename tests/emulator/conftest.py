"""Fixtures for the emulator tests: emulators in temp folders, always stopped, and osls deploys against them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from emulator_support import BUNDLED, FIXTURES, OSLS, SITE_PACKAGES, start_emulator

from workshop import emulator


@pytest.fixture
def running(tmp_path: Path):
    """A fresh emulator for one test, stopped afterwards whatever happens."""
    state_dir = tmp_path / "emulator"
    emu = start_emulator(state_dir, tmp_path)
    try:
        yield emu
    finally:
        emulator.stop(state_dir)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """One emulator with both fixture services deployed by the real osls, shared by the contract tests."""
    if not OSLS.exists():
        pytest.skip("osls is not installed (run `npm ci`)")
    root = tmp_path_factory.mktemp("contract")
    record, caller = root / "record", root / "caller"
    shutil.copytree(FIXTURES / "record", record)
    shutil.copytree(FIXTURES / "caller", caller)
    for package in BUNDLED:  # the caller ships its own requests, as a learner's `pip install -t` would
        shutil.copytree(SITE_PACKAGES / package, caller / "vendor" / package, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "home").mkdir()
    emu = start_emulator(root / "emulator", root / "home")
    try:
        emu.osls(record, "deploy")
        emu.osls(caller, "deploy")
        emu.started = [record, caller]
        yield emu
    finally:
        emulator.stop(emu.state_dir)
