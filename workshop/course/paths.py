"""Every path the runner keeps inside a workspace's `.workshop/` folder, in one place.

Nothing under `.workshop/` is the learner's work: it is never backed up, reset or shipped (see workspace.IGNORED).
"""

from __future__ import annotations

from pathlib import Path

STATE_DIR = ".workshop"


def state_dir(root: Path) -> Path:
    """`.workshop/`: the marker that makes a folder a workspace."""
    return root / STATE_DIR


def state_file(root: Path) -> Path:
    """The progress file (`.workshop/state.json`)."""
    return state_dir(root) / "state.json"


def journal_file(root: Path) -> Path:
    """The operation journal of the commands that replace files (`.workshop/journal.json`)."""
    return state_dir(root) / "journal.json"


def logs_dir(root: Path) -> Path:
    """Deploy and remove logs (`.workshop/logs/`), named in every deploy failure."""
    return state_dir(root) / "logs"


def osls_home(root: Path) -> Path:
    """The HOME osls runs with (its caches under `~/.serverless`): one per workspace, for deploys and `osls print` alike."""
    return state_dir(root) / "home"


def emulator_dir(root: Path) -> Path:
    """Where a workspace's emulator keeps its pid, log and saved state (`.workshop/emulator/`)."""
    return state_dir(root) / "emulator"


def deploy_lock(root: Path) -> Path:
    """The lock one deploy per workspace holds (`.workshop/deploy.lock`); it names its holder."""
    return state_dir(root) / "deploy.lock"
