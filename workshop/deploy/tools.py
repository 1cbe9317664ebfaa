"""External tools the runner drives: finding the pinned Serverless Framework (osls) and Node.js."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from workshop.errors import WorkshopError, workshop_home

OSLS_PACKAGE = "osls"
OSLS_VERSION = "4.3.1"  # keep equal to package.json (a test checks)
NODE_RANGE = "^20.19 || ^22.13 || >=24"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def node_version_ok(version: str) -> bool:
    """Whether a `node --version` string satisfies osls's engines range (^20.19 || ^22.13 || >=24)."""
    try:
        major, minor = (int(part) for part in version.strip().lstrip("v").split(".")[:2])
    except ValueError:
        return False
    return (major == 20 and minor >= 19) or (major == 22 and minor >= 13) or major >= 24


def _osls_version(binary: Path) -> str | None:
    """The version of the osls package a binary belongs to, read from its package.json (no process started)."""
    try:
        script = binary.resolve()
    except OSError:
        return None
    for folder in script.parents:
        manifest = folder / "package.json"
        if manifest.is_file():
            try:
                data = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                return None
            return data.get("version") if data.get("name") == OSLS_PACKAGE else None
    return None


def user_cache_dir() -> Path:
    """Where the pinned osls is installed when neither the project nor PATH has it."""
    return workshop_home() / "tools" / f"osls-{OSLS_VERSION}"


def find_osls() -> Path | None:
    """The pinned osls binary: $WORKSHOP_OSLS, the project's node_modules, PATH, or the per-user cache."""
    if env := os.environ.get("WORKSHOP_OSLS"):
        return Path(env)
    candidates = [PROJECT_ROOT / "node_modules" / ".bin" / "osls"]
    if on_path := shutil.which("osls"):
        candidates.append(Path(on_path))
    candidates.append(user_cache_dir() / "node_modules" / ".bin" / "osls")
    for candidate in candidates:
        if candidate.exists() and _osls_version(candidate) == OSLS_VERSION:
            return candidate
    return None


def osls_command(announce: Callable[[str], None] = lambda _msg: None) -> list[str]:
    """The argv prefix that runs the pinned osls, installing it into the per-user cache on first use."""
    found = find_osls()
    if found is not None:
        return [str(found)]
    npm = shutil.which("npm")
    if npm is None:
        raise WorkshopError(
            f"The Serverless Framework (npm package {OSLS_PACKAGE} {OSLS_VERSION}) is not installed and npm is missing: "
            f"install Node.js ({NODE_RANGE}), then run `make setup` or `workshop doctor`."
        )
    target = user_cache_dir()
    announce(f"Installing {OSLS_PACKAGE} {OSLS_VERSION} into {target} (first use only)...")
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [npm, "install", "--prefix", str(target), "--no-audit", "--no-fund", "--loglevel=error", f"{OSLS_PACKAGE}@{OSLS_VERSION}"],
        capture_output=True, text=True, check=False,
    )
    found = find_osls()
    if result.returncode != 0 or found is None:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise WorkshopError(
            f"Could not install {OSLS_PACKAGE} {OSLS_VERSION} with npm; run `make setup` from the runner's folder.",
            detail="\n".join(tail) or None,
        )
    return [str(found)]
