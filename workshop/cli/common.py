"""Small helpers shared by the command modules: the workspace option and opening a session."""


from pathlib import Path
from typing import Annotated

import typer

from workshop.cli.application import options

# Paths are taken as text and made Paths here: click's Path type crashes on a NUL byte in the value.
WorkspaceOpt = Annotated[
    str | None,
    typer.Option("--workspace", "-w", help="The workspace folder (default: found from the current folder).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout (see docs/json.md).")]


def workspace_path(ctx: typer.Context, given: str | None) -> Path | None:
    """The workspace given to this command, else to the root (`workshop -w DIR ...`), else None (search from cwd)."""
    chosen = given if given is not None else options(ctx).workspace
    return Path(chosen) if chosen is not None else None


def open_session(ctx: typer.Context, given: Path | None):
    """Load the course and the learner's progress (imports kept lazy for start-up time)."""
    from workshop.course import model as course
    from workshop.course import progress

    return progress.open_session(workspace_path(ctx, given), course.load())
