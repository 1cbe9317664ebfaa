"""`workshop demo`: the whole module applied, deployed and verified, for an instructor in front of a room."""


from pathlib import Path
from typing import Annotated

import typer

from workshop.cli.application import app

MAX_DIFF_LINES = 60


class RichPresenter:
    """Shows each stage of a demo step with Rich; waits for Enter between steps unless told not to."""

    def __init__(self, pause: bool, last: int = 13):
        from workshop.cli import render

        self.out = render.out_console()
        self.wait = pause
        self.last = last  # the last step's number, from the course

    def card(self, step, why: str) -> None:
        from workshop.cli import tables

        tables.demo_card(self.out, step, self.last, why)

    def pictures(self, before: list[str], after: list[str]) -> None:
        from workshop.cli import tables

        tables.demo_pictures(self.out, before, after)

    def diff(self, text: str) -> None:
        from workshop.cli import tables

        tables.demo_diff(self.out, text, MAX_DIFF_LINES)

    def solved(self, step, outcome) -> None:
        from workshop.cli import render

        if outcome.changed:
            render.note(f"solution of step {step.number} applied: {', '.join(outcome.changed)}")

    def deploy_context(self, ctx):
        from workshop.cli.deploy import _Spinner

        return _Spinner(ctx)

    def waiting(self, step, seconds_left: float, pending: list[str]) -> None:
        """A countdown while AWS retries (step 13's poison ride): one transient status line on stderr."""
        from workshop.cli import render

        minutes, seconds = divmod(int(seconds_left), 60)
        text = f"Step {step.number}: waiting for AWS ({', '.join(pending)} pending), {minutes}:{seconds:02d} left"
        if getattr(self, "_status", None) is None:
            self._status = render.err_console().status(text)
            self._status.start()
        else:
            self._status.update(text)

    def verified(self, report) -> None:
        from workshop.cli import render

        if getattr(self, "_status", None) is not None:
            self._status.stop()
            self._status = None
        render.verify_table(report)

    def pause(self, step) -> None:
        if self.wait and step.number < self.last:
            typer.prompt("Press Enter for the next step", default="", show_default=False, prompt_suffix=" ", err=True)


def _summary(summary, target_name: str) -> None:
    from workshop.cli import tables

    tables.demo_summary(summary, target_name)


@app.command()
def demo(
    ctx: typer.Context,
    from_: Annotated[str | None, typer.Option("--from", help="First step (number or id); earlier ones are replayed.", show_default=False)] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last step (default: 13).", show_default=False)] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not pause between steps or ask before deploying to AWS.")] = False,
    workspace_dir: Annotated[str | None, typer.Option("--workspace", "-w", help="Run in this workspace (default: a fresh temporary one).", show_default=False)] = None,
    target: Annotated[str | None, typer.Option("--target", help="`local` (default) or `aws`.", show_default=False)] = None,
) -> None:
    """Apply, deploy and verify every step of the module, with pictures and diffs (instructors)."""
    import contextlib
    import shutil
    import tempfile

    from workshop import emulator
    from workshop.cli import render
    from workshop.cli.deploy import _confirm_account, _target
    from workshop.course import model as course
    from workshop.course import workspace
    from workshop.deploy import rollout, targets
    from workshop.errors import BadInput
    from workshop.instructor import demo as core

    loaded = course.load()
    first = loaded.step(from_) if from_ is not None else loaded.steps[0]
    last = loaded.step(to) if to is not None else loaded.steps[-1]
    if last.number < first.number:
        raise BadInput(f"--to {last.number} comes before --from {first.number}: use e.g. `workshop demo --from 5 --to 9`.")
    temporary = workspace_dir is None
    root = Path(tempfile.mkdtemp(prefix="workshop-demo-")) / "workspace" if temporary else Path(workspace_dir).expanduser().resolve()
    emulator_was_running = False
    session = None
    try:
        if workspace.locate(root) is None:
            from workshop.checkpoints import build as checkpoints

            checkpoints.create_workspace(root, loaded)
        from workshop.course import progress

        session = progress.open_session(root, loaded)
        chosen = _target(session, target, None, None, None)
        emulator_was_running = chosen.name == "local" and not temporary and _running(root)
        rctx = rollout.Context.open(root, chosen)
        _confirm_account(session, chosen, rctx, yes)
        render.note(f"Demo workspace: {root} (target {chosen.name}, stage {chosen.stage}).")
        summary = core.run(session, rctx, RichPresenter(pause=not yes, last=loaded.steps[-1].number), first, last)
        _summary(summary, chosen.name)
        if chosen.name == "aws":
            render.plain(f"Resources are still deployed: run `workshop teardown --workspace {root}` when the class is over.")
        waiting = [str(r.step.number) for r in summary.results if r.pending]
        if waiting and all(r.passed or r.pending for r in summary.results):
            render.note(f"Step {', '.join(waiting)} is still pending: AWS has not finished retrying. Check again in a few "
                        f"minutes with `workshop verify --step {waiting[0]} --wait --workspace {root}`.")
            raise typer.Exit(1)
        if not summary.passed:
            failed = ", ".join(str(r.step.number) for r in summary.results if not r.passed and not r.pending)
            render.error_line(f"Steps {failed} did not verify; see their tables above. Resume with `workshop demo --from {failed.split(',')[0]}`.")
            raise typer.Exit(1)
        render.success(f"All {len(summary.results)} steps verified.")
    except KeyboardInterrupt:
        current = session.current().number if session is not None else first.number
        render.err_console().print(f"[yellow]Demo stopped at step {current}.[/] Resume with `workshop demo --from {current}`"
                                   + ("" if temporary else f" --workspace {render.esc(root)}") + ".")
        raise typer.Exit(130) from None
    finally:
        if not emulator_was_running:
            with contextlib.suppress(Exception):
                emulator.stop(targets.emulator_dir(root))
        if temporary and not (session and session.state.target.get("name") == "aws"):
            shutil.rmtree(root.parent, ignore_errors=True)


def _running(root: Path) -> bool:
    from workshop import emulator
    from workshop.deploy import targets

    try:
        return emulator.status(targets.emulator_dir(root)) is not None
    except Exception:  # not answering: the demo will start its own
        return False
