"""Helpers of the emulator tests: an emulator handle with boto3 clients and osls, and a bounded wait."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from workshop import emulator

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
OSLS = REPO / "node_modules" / ".bin" / "osls"
SITE_PACKAGES = Path(boto3.__file__).resolve().parents[1]
BUNDLED = ("requests", "urllib3", "certifi", "idna", "charset_normalizer")  # what `pip install requests -t` would ship
STAGE = "test"
FAST_RETRIES = {"WORKSHOP_EMULATOR_RETRY_DELAYS": "0.1,0.2"}


@dataclass
class Emulator:
    """A running emulator of a test, its state folder and clients bound to it."""

    state_dir: Path
    info: emulator.EmulatorInfo
    home: Path
    started: list[Path] = field(default_factory=list)

    def client(self, service: str) -> Any:
        return boto3.client(
            service, endpoint_url=self.info.endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )

    def restart(self) -> None:
        emulator.stop(self.state_dir)
        with pytest.MonkeyPatch.context() as mp:
            for key, value in FAST_RETRIES.items():
                mp.setenv(key, value)
            self.info = emulator.start(self.state_dir)

    def osls(self, service_dir: Path, *args: str, check: bool = True, stage: str = STAGE) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home),
            "AWS_ENDPOINT_URL": self.info.endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "SLS_AWS_MONITORING_FREQUENCY": "500",
            "NODE_NO_WARNINGS": "1", "SLS_TELEMETRY_DISABLED": "1",
        }
        done = subprocess.run(
            [str(OSLS), *args, "--stage", stage], cwd=service_dir, env=env, capture_output=True, text=True, timeout=240,
        )
        if check and done.returncode != 0:
            log = "\n".join(emulator.tail_log(self.state_dir, 40))
            raise AssertionError(f"osls {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}\n--- emulator log ---\n{log}")
        return done


# The emulator's account and Region, and a role trust policy Lambda may assume.
ACCOUNT = "123456789012"
REGION = "us-east-1"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def start_emulator(state_dir: Path, home: Path) -> Emulator:
    """Start an emulator for a test (fast async retries, isolated HOME)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        for key, value in FAST_RETRIES.items():
            mp.setenv(key, value)
        info = emulator.start(state_dir)
    return Emulator(state_dir, info, home)


def module_emulator(tmp_path_factory, name: str):
    """A module's own emulator (a generator for a `scope="module"` fixture): started in a fresh folder, stopped after."""
    root = tmp_path_factory.mktemp(name)
    (root / "home").mkdir()
    handle = start_emulator(root / "emulator", root / "home")
    try:
        yield handle
    finally:
        emulator.stop(handle.state_dir)


def zipped(source: str) -> bytes:
    """A Lambda deployment package holding `source` as index.py."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


def wait_for(probe, timeout: float, interval: float = 0.25):
    """Call `probe` until it returns something truthy, bounded by `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def json_payload(response: dict[str, Any]) -> Any:
    return json.loads(response["Payload"].read())
