"""`workshop emulator start|stop|status|logs`: the embedded AWS target (the core is workshop/emulator/)."""


from pathlib import Path
from typing import Annotated

import typer

from workshop.cli.application import app, options

emulator_app = typer.Typer(
    no_args_is_help=True,
    help="Run the embedded AWS emulator (moto, extended) that the local target deploys to: offline, on 127.0.0.1 only.",
)
app.add_typer(emulator_app, name="emulator")

NOT_RUNNING = {"running": False, "pid": None, "port": None, "https_port": None, "endpoint": None, "state_file": None}


def state_dir(ctx: typer.Context) -> Path:
    """`<workspace>/.workshop/emulator/` inside a workspace, else the per-user folder."""
    from workshop import errors
    from workshop.course import paths
    from workshop.course.workspace import locate

    root = locate(options(ctx).workspace)
    return paths.emulator_dir(root) if root is not None else errors.workshop_home() / "emulator"


@emulator_app.command("start")
def start_command(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (default: a free one chosen by the system).")] = 0,
) -> None:
    """Start the emulator in the background and wait until it answers (it keeps what you deployed across restarts)."""
    from workshop import emulator
    from workshop.cli import render

    folder = state_dir(ctx)
    with render.err_console().status("Starting the emulator..."):
        info = emulator.start(folder, port=port)
    emulator.take_notes()  # shown here, in order, not again when the command ends
    for line in info.notes:
        render.note(line)
    if info.already_running:
        render.note(f"The emulator is already running (pid {info.pid}) at {info.endpoint}.")
    else:
        render.success(f"Emulator running at {info.endpoint} (pid {info.pid}); `workshop emulator stop` stops it.")


@emulator_app.command("stop")
def stop_command(ctx: typer.Context) -> None:
    """Stop the emulator; it saves its state first, so `workshop emulator start` brings everything back."""
    from workshop import emulator
    from workshop.cli import render

    if emulator.stop(state_dir(ctx)):
        render.success("Emulator stopped; its state is saved.")
    else:
        render.note("The emulator is not running.")


@emulator_app.command("status")
def status_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Show whether the emulator runs, its pid, ports and state file."""
    from workshop import emulator
    from workshop.cli import render

    info = emulator.status(state_dir(ctx))
    if as_json:
        render.print_json(info.as_status() if info else NOT_RUNNING)
    elif info is None:
        render.note("The emulator is not running; `workshop emulator start` starts it.")
    else:
        render.plain(
            f"Emulator running: pid {info.pid}, endpoint {info.endpoint}, execute-api TLS port {info.https_port}, "
            f"state {info.state_file}"
        )
        for line in emulator.runtime_notes(state_dir(ctx)):
            render.note(line)


@emulator_app.command("logs")
def logs_command(
    ctx: typer.Context,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, help="How many of the last lines to show.")] = 50,
) -> None:
    """Show the emulator's log (its requests, function runs and state saves)."""
    import sys

    from workshop import emulator

    folder = state_dir(ctx)
    for line in emulator.tail_log(folder, lines):
        sys.stdout.write(line + "\n")
    sys.stdout.flush()
    if follow:
        try:
            for line in emulator.follow_log(folder):
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
        except KeyboardInterrupt:
            raise typer.Exit(0) from None
