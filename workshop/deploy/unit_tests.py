"""Running a service's own unit tests offline: pytest with in-process moto, fake credentials, no network."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TextIO

from workshop.errors import WorkshopError

OFFLINE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "PYTHONDONTWRITEBYTECODE": "1",
}


def offline_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The runner's environment minus anything AWS, plus fake credentials: tests never reach an account."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.pop("AWS_PROFILE", None)
    env.update(OFFLINE_ENV)
    env.update(extra or {})
    return env


def run(service_dir: Path, *, stream: TextIO | None = None, timeout: float = 300, args: tuple[str, ...] = ()) -> int:
    """Run `pytest` in the service folder; output goes to `stream` (or is captured); returns pytest's exit code."""
    if not (service_dir / "tests").is_dir():
        raise WorkshopError(f"{service_dir} has no tests/ folder: run `workshop reset --step N` to bring the files back.")
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    try:  # pytest writes straight to a real terminal or file; anything else (a test's capture) gets a copy
        direct = stream is not None and stream.fileno() >= 0
    except (AttributeError, OSError, ValueError):
        direct = False
    try:
        done = subprocess.run(argv, cwd=service_dir, env=offline_env(), timeout=timeout, check=False, text=True,
                              stdout=stream if direct else subprocess.PIPE, stderr=subprocess.STDOUT)
    except subprocess.TimeoutExpired:
        raise WorkshopError(f"The tests of {service_dir.name} ran longer than {timeout:.0f}s; look for a test waiting on the network.") from None
    if stream is not None and not direct:
        stream.write(done.stdout or "")
    return done.returncode
