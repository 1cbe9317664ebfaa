"""Deploy commands: deploy, teardown, doctor, test."""


import contextlib
import sys
from typing import Annotated

import typer

from workshop.cli.application import app
from workshop.cli.common import JsonOpt, Spinner, WorkspaceOpt, confirm_account, open_session, target_for, workspace_path

TargetOpt = Annotated[str | None, typer.Option("--target", help="`local` (the embedded emulator, default) or `aws`.", show_default=False)]
StageOpt = Annotated[str | None, typer.Option("--stage", help="Deploy stage (default: dev locally, dev-<user> on aws).", show_default=False)]
RegionOpt = Annotated[str | None, typer.Option("--region", help="AWS region (default us-east-1).", show_default=False)]
ProfileOpt = Annotated[str | None, typer.Option("--profile", help="AWS profile for the aws target.", show_default=False)]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before deploying to a real account.")]


def _service(given: str | None, command: str, allow_all: bool) -> str:
    """The service folder named on the command line (short names too); none named: the choices, in one line."""
    from workshop.deploy import rollout, summary
    from workshop.errors import BadInput

    if given is None:
        raise BadInput(f"Name a service: {summary.choices('all' if allow_all else '')}, e.g. `workshop {command} ride-record`.")
    return given if allow_all and given == "all" else rollout.check_service(given)


@app.command("deploy")
def deploy_command(
    ctx: typer.Context,
    service: Annotated[str | None, typer.Argument(help="`wild-rydes`, `ride-record` (wild-rydes-ride-record) or `all`.", show_default=False)] = None,
    recreate: Annotated[bool, typer.Option("--recreate", help="Remove the service's stack first, then deploy (repairs drift).")] = False,
    target: TargetOpt = None, stage: StageOpt = None, region: RegionOpt = None, profile: ProfileOpt = None, yes: YesOpt = False,
    workspace_dir: WorkspaceOpt = None,
) -> None:
    """Deploy a service (or `all`, in the order they need) with the Serverless Framework."""
    from workshop.cli import render, tables
    from workshop.deploy import osls, rollout, summary

    service = _service(service, "deploy", allow_all=True)
    session = open_session(ctx, workspace_dir)
    chosen = target_for(session, target, stage, region, profile)
    with osls.deploy_lock(session.root):  # one deploy per workspace: a second one says who runs and exits 1
        rctx = rollout.Context.open(session.root, chosen)
        confirm_account(session, chosen, rctx, yes)
        with Spinner(rctx):
            if service == "all":
                if recreate:
                    rollout.teardown(rctx)
                replayed = rollout.deploy_all(rctx, session.course, session.current())
            else:
                replayed = 0
                rollout.deploy_one(rctx, service, recreate=recreate)
    for run in rctx.runs:
        render.note(f"{run.action} {run.service}: {run.seconds:.1f}s (log: {run.log})")
    if replayed:
        render.note(f"{replayed} earlier deploys were replayed from the checkpoints so the target had what your files need.")
    render.success(f"Deployed {service} to {chosen.name} (stage {chosen.stage}, {chosen.region}).")
    missing = rollout.record_learner_deploy(session, service, chosen)
    last = {run.service: run for run in rctx.runs if run.action == "deploy"}  # a replayed deploy comes before the learner's
    tables.deploy_summary({name: summary.osls_summary(run.log) for name, run in last.items()},
                          f"workshop deploy {missing[0]}" if missing else "workshop verify")


def deploy_to_step(session, step) -> None:
    """For `reset --step N --deploy`: the target holds what it should at the start of the step."""
    from workshop.cli import render
    from workshop.deploy import osls, rollout, targets

    chosen = targets.resolve(session.state.target)
    with osls.deploy_lock(session.root):
        rctx = rollout.Context.open(session.root, chosen)
        confirm_account(session, chosen, rctx, yes=False)
        with Spinner(rctx):
            count = rollout.bring_to_step(rctx, session.course, step)
    render.note(f"The {chosen.name} target is at the start of step {step.number} ({count} deploys replayed from the checkpoints).")


@app.command()
def teardown(
    ctx: typer.Context,
    check: Annotated[bool, typer.Option("--check", help="Only list what is still deployed; remove nothing.")] = False,
    target: TargetOpt = None, stage: StageOpt = None, region: RegionOpt = None, profile: ProfileOpt = None,
    workspace_dir: WorkspaceOpt = None,
) -> None:
    """Remove both services from the target, then list any workshop resource still there."""
    from workshop.cli import render
    from workshop.deploy import inventory, osls, rollout

    session = open_session(ctx, workspace_dir)
    chosen = target_for(session, target, stage, region, profile)
    with osls.deploy_lock(session.root) if not check else contextlib.nullcontext():
        rctx = rollout.Context.open(session.root, chosen)
        with Spinner(rctx) as spinner:
            removed = [] if check else rollout.teardown(rctx)
            spinner.announce("listing what is left")
            left = inventory.leftovers(rctx.session, chosen)
    rollout.remember_target(session, chosen)  # the account answered: this is the target the learner works with
    for service in removed:
        render.note(f"removed {service}")
    if left:
        from workshop.cli import tables

        tables.leftovers(f"Still on {chosen.name} (stage {chosen.stage})", left)
        if check:
            render.out_console().print("Run `workshop teardown` to remove the two stacks.", highlight=False)
            return
        raise typer.Exit(1)
    render.success(f"Nothing of the workshop is left on {chosen.name} (stage {chosen.stage}).")


@app.command()
def doctor(
    ctx: typer.Context, target: TargetOpt = None, stage: StageOpt = None, region: RegionOpt = None,
    profile: ProfileOpt = None, as_json: JsonOpt = False, workspace_dir: WorkspaceOpt = None,
) -> None:
    """Check Python, Node, osls, git and the target (reachability, identity, region, stage)."""
    from workshop.cli import render
    from workshop.course import workspace
    from workshop.deploy import doctor as core

    root = workspace.locate(workspace_path(ctx, workspace_dir))
    stored = workspace.load_state(root).target if root is not None else {}
    chosen, unnamed = core.resolve_target(stored, name=target, stage=stage, region=region, profile=profile)
    findings = core.local_tools() + unnamed + core.target_findings(root, chosen)
    ok = all(f.ok for f in findings)
    if as_json:
        render.print_json({"ok": ok, "checks": [f.to_json() for f in findings]})
    else:
        from workshop.cli import tables

        tables.doctor(findings)
    if not ok:
        raise typer.Exit(1)


@app.command("test")
def test_command(
    ctx: typer.Context,
    service: Annotated[str | None, typer.Argument(help="`wild-rydes` or `ride-record` (wild-rydes-ride-record).", show_default=False)] = None,
    workspace_dir: WorkspaceOpt = None,
) -> None:
    """Run a service's own unit tests (offline: in-process moto, no account)."""
    from workshop.deploy import unit_tests

    service = _service(service, "test", allow_all=False)
    session = open_session(ctx, workspace_dir)
    code = unit_tests.run(session.root / service, stream=sys.stdout)
    if code != 0:
        from workshop.cli import render

        render.error_line(f"The {service} tests did not pass: fix what pytest reports above, then `workshop test {service}` again.")
        raise typer.Exit(1)
