"""The `workshop` command line: thin commands over the core (see app.py for error handling)."""

from __future__ import annotations

from workshop.cli.app import app, main

# Each module registers its commands on `app` when imported; keep their top-level imports light.
from workshop.cli import nav as _nav  # noqa: E402,F401
from workshop.cli import cost as _cost  # noqa: E402,F401
from workshop.cli import emulator as _emulator  # noqa: E402,F401
from workshop.cli import verify as _verify  # noqa: E402,F401
from workshop.cli import deploy as _deploy  # noqa: E402,F401
from workshop.cli import demo as _demo  # noqa: E402,F401
from workshop.cli import rides as _rides  # noqa: E402,F401
from workshop.cli import gitops as _gitops  # noqa: E402,F401

__all__ = ["app", "main"]
