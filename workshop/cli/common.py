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
    """Load the course and the learner's progress (imports kept lazy for start-up time), after finishing whatever a
    killed command left half-done: no command reads a half-switched tree."""
    from workshop.course import model as course
    from workshop.course import progress

    session = progress.open_session(workspace_path(ctx, given), course.load())
    finish_interrupted(session.root)
    return session


def finish_interrupted(root: Path, *, light: bool = False) -> None:
    """Finish (or undo) an operation a killed command left half-done, and say so. Costs one stat when there is none.
    `light` (status): a recovery that cannot run now is reported, not raised."""
    from workshop.checkpoints import journal

    if not journal.path(root).exists():
        return
    from rich.markup import escape

    from workshop.checkpoints import operations
    from workshop.cli import render
    from workshop.errors import WorkshopError

    try:
        lines = operations.recover(root)
    except WorkshopError as exc:
        if not light:
            raise
        lines = [f"An interrupted workshop command is not finished yet: {exc.message}"]
    for line in lines:
        render.note(escape(line))
