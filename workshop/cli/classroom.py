"""`workshop class`: an instructor's view of every learner stage in the shared account, and the clean-up after class."""


import time
from typing import Annotated

import typer

from workshop.cli.application import app
from workshop.cli.common import JsonOpt, WorkspaceOpt, workspace_path

class_app = typer.Typer(help="For instructors: every learner's progress in the shared account, and removing it after class.",
                        no_args_is_help=True)
app.add_typer(class_app, name="class")

TargetOpt = Annotated[str | None, typer.Option("--target", help="`local` (the embedded emulator) or `aws`.", show_default=False)]
RegionOpt = Annotated[str | None, typer.Option("--region", help="AWS region (default: the workspace's, else us-east-1).", show_default=False)]
ProfileOpt = Annotated[str | None, typer.Option("--profile", help="AWS profile for the aws target.", show_default=False)]
MIN_WATCH = 5  # seconds between two rounds of --watch: a class shares the account's API rate limits


def _where(ctx: typer.Context, workspace_dir, target, region, profile, *, need_workspace: bool):
    """(workspace root or None, course, target, endpoint): the local target needs a workspace (its emulator lives there)."""
    from pathlib import Path

    from workshop.course import model as course
    from workshop.course import workspace
    from workshop.deploy import targets
    from workshop.errors import BadInput

    given = workspace_path(ctx, workspace_dir)
    root = workspace.require(given) if need_workspace else workspace.locate(given)
    stored = workspace.load_state(root).target if root is not None else {}
    chosen = targets.resolve(stored, name=target, region=region, profile=profile)
    if chosen.name == "local" and root is None:
        raise BadInput("The local target's emulator belongs to a workspace: run this inside one (or `-w DIR`), or add `--target aws`.")
    loaded = course.load()
    return (root or Path.cwd()), loaded, chosen, targets.endpoint_for(root, chosen) if root is not None else None


@class_app.command("status")
def status_command(
    ctx: typer.Context,
    target: TargetOpt = None, region: RegionOpt = None, profile: ProfileOpt = None,
    as_json: JsonOpt = False,
    watch: Annotated[int | None, typer.Option("--watch", help=f"Check again every SECONDS (at least {MIN_WATCH}), redrawing in place; Ctrl-C stops.",
                                              metavar="SECONDS", show_default=False)] = None,
    stats: Annotated[bool, typer.Option("--stats", help="Show the API calls made, per stage and in all.")] = False,
    workspace_dir: WorkspaceOpt = None,
) -> None:
    """Every learner stage in the account and Region: the furthest step its live checks pass, what fails next, when it
    last changed. Read-only: no test ride, nothing written."""
    from workshop.cli import render, render_class
    from workshop.errors import BadInput
    from workshop.instructor import classroom

    if watch is not None and as_json:
        raise BadInput("Choose one: `workshop class status --json` (once) or `--watch SECONDS` (a screen).")
    if watch is not None and watch < MIN_WATCH:
        raise BadInput(f"`--watch {watch}` is too often for a shared account: use `--watch {MIN_WATCH}` or more.")
    root, loaded, chosen, endpoint = _where(ctx, workspace_dir, target, region, profile, need_workspace=False)

    pool = classroom.Pool(chosen, endpoint)  # one set of clients for every round of --watch

    def once():
        return classroom.status(loaded, chosen, root=root, pool=pool)

    if as_json:
        render.print_json(once().to_json())
        return
    console = render.out_console()
    if watch is None:
        console.print(render_class.status_view(once(), stats=stats))
        return
    from rich.live import Live

    try:
        with Live(render_class.status_view(once(), stats=stats), console=console, auto_refresh=False) as live:
            while True:
                time.sleep(watch)
                live.update(render_class.status_view(once(), stats=stats), refresh=True)
    except KeyboardInterrupt:
        render.note("Stopped watching.")


@class_app.command("teardown")
def teardown_command(
    ctx: typer.Context,
    stage: Annotated[list[str] | None, typer.Option("--stage", help="A learner stage to remove (repeat for more).", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every learner stage deployed in the Region.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before removing.")] = False,
    target: TargetOpt = None, region: RegionOpt = None, profile: ProfileOpt = None,
    workspace_dir: WorkspaceOpt = None,
) -> None:
    """Remove learner stages' stacks (consumers first, as `workshop teardown` does), then list what is left per stage."""
    from workshop.cli import render, render_class
    from workshop.errors import WorkshopError
    from workshop.instructor import classroom

    root, loaded, chosen, endpoint = _where(ctx, workspace_dir, target, region, profile, need_workspace=True)
    pool = classroom.Pool(chosen, endpoint)
    found = classroom.deployed_stages(loaded, chosen, endpoint, pool=pool)
    names = classroom.choose(found, list(stage or []), all_)
    if not names:
        render.success(f"No learner stage is deployed on {chosen.name} in {chosen.region}: nothing to remove.")
        return
    out = render.out_console()
    out.print(render_class.teardown_plan(found, names, chosen, classroom.account(pool)))
    if not yes and not _confirm(f"Remove the stacks of {len(names)} stage{'s' if len(names) != 1 else ''}?"):
        raise WorkshopError("Nothing was removed. Run the command again (with `--yes` to skip the question) once you are sure.")
    removals = []
    with render.err_console().status("starting") as spinner:
        for name in names:
            removals.append(classroom.teardown_stage(root, chosen, name, announce=spinner.update))
    for removal in removals:
        render.note(f"stage {removal.stage}: removed {', '.join(removal.removed) or 'no stack'}")
    left = [r for r in removals if r.leftovers]
    for removal in removals:
        if not removal.leftovers:
            out.print(f"stage {removal.stage}: nothing left", highlight=False, markup=False)
    if left:
        out.print(render_class.leftovers_table(left))
        raise typer.Exit(1)
    render.success(f"Nothing of {len(removals)} stages is left on {chosen.name} ({chosen.region}).")


def _confirm(question: str) -> bool:
    """Ask on stderr; no answer (stdin closed) is a no."""
    try:
        return typer.confirm(question, default=False, err=True)
    except typer.Abort:
        return False
