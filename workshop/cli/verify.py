"""The `workshop verify` command: run a step's checks and show what is wrong and how to fix it."""


from typing import Annotated

import typer

from workshop.cli.application import app
from workshop.cli.common import WRITES_NOTE, JsonOpt, WorkspaceOpt, open_session


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    step: Annotated[str | None, typer.Option("--step", help="A step number or id (default: the current step).", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Re-verify every check that must still hold at the end of the module.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait as long as AWS needs (the DLQ check takes minutes on real AWS).")] = False,
    stage: Annotated[str | None, typer.Option("--stage", help="Check this stage instead of the workspace's.", show_default=False)] = None,
    region: Annotated[str | None, typer.Option("--region", help="Check this region instead of the workspace's.", show_default=False)] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile (aws target).", show_default=False)] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Show only the checks that do not pass.")] = False,
    workspace_dir: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the checks of the current step (or --step N, or --all) and show what to fix. Exit 0 only when all pass."""
    from workshop.checks import runner as verify
    from workshop.cli import render, spinner
    from workshop.deploy import targets
    from workshop.errors import BadInput

    if all_ and step is not None:
        raise BadInput("Choose one: `workshop verify --step N` or `workshop verify --all`.")
    session = open_session(ctx, workspace_dir)
    target = targets.resolve(session.state.target, stage=stage, region=region, profile=profile)
    chosen = None if all_ else (session.course.step(step) if step is not None else session.current())
    writes = verify.writing_checks(session.course, chosen)
    if writes and not as_json:
        render.note(WRITES_NOTE.format(what="; ".join(writes)))
    with spinner.for_checks(as_json):
        if chosen is None:
            report = verify.verify_all(session, wait=wait, target=target)
        else:
            report = verify.run_step(session, chosen, wait=wait, target=target)
    if as_json:
        render.print_json(report.to_json())
    else:
        render.verify_table(report, only_failed=failed)
    raise typer.Exit(0 if report.passed else 1)
