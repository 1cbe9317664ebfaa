"""The `workshop verify` command: run a step's checks and show what is wrong and how to fix it."""


from typing import Optional

import typer
from typing import Annotated

from workshop.cli.application import app
from workshop.cli.common import JsonOpt, WorkspaceOpt, open_session

RESULT_STYLE = {"pass": "green", "fail": "red", "error": "magenta", "pending": "yellow"}
WRITES_NOTE = "These checks write to the account: {what}. Nothing else is changed."


@app.command("verify", context_settings={"ignore_unknown_options": True})
def verify_command(
    ctx: typer.Context,
    step: Annotated[Optional[str], typer.Option("--step", help="A step number or id (default: the current step).", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Re-verify every check that must still hold at the end of the module.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait as long as AWS needs (the DLQ check takes minutes on real AWS).")] = False,
    stage: Annotated[Optional[str], typer.Option("--stage", help="Check this stage instead of the workspace's.", show_default=False)] = None,
    region: Annotated[Optional[str], typer.Option("--region", help="Check this region instead of the workspace's.", show_default=False)] = None,
    profile: Annotated[Optional[str], typer.Option("--profile", help="AWS profile (aws target).", show_default=False)] = None,
    workspace_dir: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the checks of the current step (or --step N, or --all) and show what to fix. Exit 0 only when all pass."""
    from workshop import render, targets, verify
    from workshop.errors import BadInput

    if all_ and step is not None:
        raise BadInput("Choose one: `workshop verify --step N` or `workshop verify --all`.")
    session = open_session(ctx, workspace_dir)
    target = targets.resolve(session.state.target, stage=stage, region=region, profile=profile)
    chosen = None if all_ else (session.course.step(step) if step is not None else session.current())
    writes = verify.writing_checks(session.course, chosen)
    if writes and not as_json:
        render.note(WRITES_NOTE.format(what="; ".join(writes)))
    if chosen is None:
        report = verify.verify_all(session, wait=wait, target=target)
    else:
        report = verify.run_step(session, chosen, wait=wait, target=target)
    if as_json:
        render.print_json(report.to_json())
    else:
        _table(report)
    raise typer.Exit(0 if report.passed else 1)


def _table(report) -> None:
    from rich.table import Table

    from workshop import render

    title = "End of module: checks that must still hold" if report.step is None else f"Step {report.step.number}: {report.step.title}"
    table = Table(title=title, title_justify="left", show_lines=True, expand=True)
    # fold, not ellipsis: a command or a resource name cut short is useless to the learner
    table.add_column("Check", ratio=2, overflow="fold")
    table.add_column("Result", no_wrap=True)
    table.add_column("Observed / expected", ratio=4, overflow="fold")
    table.add_column("Fix", ratio=3, overflow="fold")
    from rich.markup import escape

    for run in report.runs:
        r = run.result  # observed/expected/fix quote files and AWS answers: escape them, "[...]" is not markup
        shown = escape(r.observed) if r.passed or not r.expected else f"{escape(r.observed)}\n[dim]expected:[/] {escape(r.expected)}"
        table.add_row(f"{escape(run.check.title)}\n[dim]{run.check.id}, {r.seconds:.1f} s[/]",
                      f"[{RESULT_STYLE.get(r.result, '')}]{r.result}[/]", shown, "" if r.passed else escape(r.fix))
    console = render.out_console()
    console.print(table, soft_wrap=False)
    if report.passed:
        console.print("[green]All checks pass.[/] " + ("Run `workshop next`." if report.step is not None else ""), highlight=False)
    else:
        failing = [run for run in report.runs if not run.result.passed]
        console.print(f"[red]{len(failing)} of {len(report.runs)} checks do not pass.[/] Apply the fixes, then `workshop verify` again.",
                      highlight=False)
        fixes = list(dict.fromkeys(run.result.fix for run in failing if run.result.fix))
        for fix in fixes:  # again in full width, one per line, so a command can be copied whole
            console.print(f"  - {escape(fix)}", highlight=False, soft_wrap=True)
