"""The Typer application object and the one place errors become messages and exit codes.

Command modules register on `app` (or on a sub-app mounted here). They import nothing heavy at module level:
`workshop status` must start without boto3, moto or git.
"""


import signal
import sys
import threading
from dataclasses import dataclass
from typing import Any

import typer
from click import exceptions as click_exceptions
from click.exceptions import ClickException, UsageError
from typer.core import TyperGroup

from workshop import errors

# A group called without a command has printed its help already (click raises this UsageError after).
_HELP_SHOWN = getattr(click_exceptions, "NoArgsIsHelpError", ())
# Click's own control flow (usage errors, --help, exits) passes through untouched.
_CLICK_FLOW = (ClickException, typer.Exit, typer.Abort)


class WorkshopGroup(TyperGroup):
    """Turns WorkshopError into a red line, Ctrl-C into 130 and any crash into 3 with a logged traceback."""

    def invoke(self, ctx: Any) -> Any:
        _printable_streams()
        _emulator_notes(show=False)  # notes left by an earlier command in this process are not this command's
        saved = _stop_signals_interrupt()
        try:
            return self._invoke(ctx)
        finally:
            for signum, handler in saved.items():
                signal.signal(signum, handler)
            _emulator_notes()

    def _invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except errors.WorkshopError as exc:
            from workshop.cli.render import err_console, error_line

            error_line(exc.message, exc.detail)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            from workshop.cli.render import err_console

            err_console().print("[yellow]Interrupted.[/] Run the same command again to carry on.")
            raise typer.Exit(errors.EXIT_INTERRUPTED) from None
        except UsageError as exc:  # an unknown option, a missing value: one line naming the help to read
            if isinstance(exc, _HELP_SHOWN):
                raise
            from rich.markup import escape

            from workshop.cli.render import error_line

            names, at = [], exc.ctx
            while at is not None and at.parent is not None:  # the root's own name may be a test runner's
                names.insert(0, at.info_name or "")
                at = at.parent
            where = " ".join(["workshop", *names])
            error_line(escape(f"{exc.format_message()} Run `{where} --help` to see what it takes."))
            raise typer.Exit(errors.EXIT_USAGE) from None
        except _CLICK_FLOW:
            raise
        except BrokenPipeError:
            raise  # the reader went away (`workshop watch --help | head`): Click stops quietly (exit 1), no crash log
        except Exception as exc:  # noqa: BLE001 - the one place that catches everything
            from workshop.cli.render import error_line

            if _unanswered_aws_call(exc):  # offline, no credentials, a bad profile: not a crash of the runner
                error_line(f"An AWS call got no answer ({type(exc).__name__}: {exc}). Check your network and credentials "
                           "(`aws sts get-caller-identity`), then run `workshop doctor`.")
                raise typer.Exit(errors.EXIT_ERROR) from None

            log = errors.write_crash_log(exc)
            error_line(
                f"Unexpected error ({type(exc).__name__}: {exc}). The details are in {log}; "
                "run `workshop doctor` and include that file when you report it."
            )
            raise typer.Exit(errors.EXIT_CRASH) from None


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _stop_signals_interrupt() -> dict:
    """A closed terminal (SIGHUP) or a `kill` (SIGTERM) stops a command as Ctrl-C does: its `finally` blocks run, so a
    check that changed the account for a moment puts it back and a deploy lock is released. Returns what to restore."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    saved = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) in (signal.SIG_DFL, None):  # a handler someone else installed stays theirs
            saved[signum] = signal.signal(signum, _interrupt)
    return saved


def _emulator_notes(show: bool = True) -> None:
    """What an emulator started on the way (by deploy, verify, teardown...) has to say: a state set aside, a port moved."""
    launcher = sys.modules.get("workshop.emulator.launcher")  # not imported: no emulator was started
    notes = launcher.take_notes() if launcher is not None else []
    if notes and show:
        from workshop.cli.render import note

        for line in notes:
            note(line)


def _unanswered_aws_call(exc: BaseException) -> bool:
    """A botocore error raised before AWS answered (not a ClientError, which is an answer); botocore is not imported here."""
    found = sys.modules.get("botocore.exceptions")
    if found is None:
        return False
    kinds = tuple(getattr(found, name) for name in _UNANSWERED if hasattr(found, name))
    return isinstance(exc, kinds)


# Network, credentials and profile errors; a ParamValidationError or the like stays a crash (a bug of the runner).
_UNANSWERED = ("ConnectionError", "HTTPClientError", "NoCredentialsError", "PartialCredentialsError", "NoRegionError",
               "ProfileNotFound", "SSOError", "TokenRetrievalError", "CredentialRetrievalError")


def _printable_streams() -> None:
    """A terminal that cannot encode a character (PYTHONIOENCODING=ascii, LANG=C) gets it as `\\u2026`, not a crash."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (AttributeError, ValueError, OSError):  # a stream that cannot be reconfigured keeps its settings
                pass


app = typer.Typer(
    cls=WorkshopGroup,
    no_args_is_help=True,
    add_completion=False,
    suggest_commands=False,  # Click already suggests the near names; both would say it twice
    pretty_exceptions_enable=False,
    help="Walk through the Wild Rydes 'Serverless Architecture and Design' module: show a step, edit, verify, move on.",
)


@dataclass
class Options:
    """Options given before the command name (`workshop --workspace DIR status`)."""

    workspace: str | None = None


@app.callback()
def _root(
    ctx: typer.Context,
    workspace: str = typer.Option(
        None, "--workspace", "-w", envvar="WORKSHOP_WORKSPACE", help="The workspace folder (default: found from the current folder)."
    ),
) -> None:
    ctx.obj = Options(workspace=workspace)


def options(ctx: typer.Context) -> Options:
    """The root options, whichever sub-app the command sits in."""
    root = ctx.find_root()
    return root.obj if isinstance(root.obj, Options) else Options()


def main() -> None:
    """Console-script entry point."""
    sys.exit(app(prog_name="workshop") or 0)
