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
# Said before checks that write (test rides, a poison ride) run: by verify, and by next when it verifies again.
WRITES_NOTE = "These checks write to the account: {what}. Nothing else is changed."


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


def target_for(session, name, stage, region, profile):
    """Resolve the target from the workspace and the options, and remember the choice in the workspace."""
    from workshop.deploy import rollout

    return rollout.choose_target(session, name=name, stage=stage, region=region, profile=profile)


def confirm_account(session, target, rollout_ctx, yes: bool) -> None:
    """On a real account, show account, region and stage once per workspace and ask before the first deploy."""
    from workshop.cli import render
    from workshop.deploy import rollout, targets
    from workshop.errors import WorkshopError

    if target.name != "aws":
        return
    identity = targets.caller_identity(rollout_ctx.session, target)
    key = f"{identity['Account']}/{target.region}/{target.stage}"
    if session.state.target.get("confirmed") == key:
        rollout.remember_target(session, target)
        return
    render.err_console().print(
        f"Deploying to AWS account [bold]{render.esc(identity['Account'])}[/] ({render.esc(identity['Arn'])}), "
        f"region [bold]{render.esc(target.region)}[/], stage [bold]{render.esc(target.stage)}[/]. "
        "This creates real resources; `workshop teardown` removes them."
    )
    if not yes and not typer.confirm("Continue?", default=False, err=True):
        raise WorkshopError("Nothing was deployed. Run the command again with `--yes` once you are sure.")
    rollout.remember_target(session, target, confirmed=key)


class Spinner:
    """A status line on stderr showing the current action and CloudFormation event of a deploy context."""

    def __init__(self, rctx) -> None:
        from workshop.cli import render
        from workshop.deploy import osls as deploy

        self.base = ""
        self._status = render.err_console().status("starting")
        self._event = deploy.current_event
        rctx.announce, rctx.on_line = self.announce, self.on_line

    def announce(self, message: str) -> None:
        from workshop.cli.render import esc

        self.base = esc(message)  # names from the learner's files: text, not markup
        self._status.update(self.base)

    def on_line(self, line: str) -> None:
        from workshop.cli.render import esc

        event = self._event(line)
        if event:
            self._status.update(f"{self.base}  [dim]{esc(event)}[/]")

    def __enter__(self):
        self._status.__enter__()
        return self

    def __exit__(self, *exc):
        return self._status.__exit__(*exc)
