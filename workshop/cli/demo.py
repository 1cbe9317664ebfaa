"""`workshop demo`: the whole module applied, deployed and verified, for an instructor in front of a room."""


from pathlib import Path
from typing import Annotated

import typer

from workshop.cli.application import app

MAX_DIFF_LINES = 60


class RichPresenter:
    """Shows each stage of a demo step with Rich; waits for Enter between steps unless told not to."""

    def __init__(self, pause: bool):
        from workshop.cli import render

        self.out = render.out_console()
        self.wait = pause

    def card(self, step, why: str, last) -> None:
        from rich.panel import Panel
        from rich.rule import Rule

        self.out.print(Rule(f"[bold]Step {step.number} of {last.number}[/]", align="left"))
        kinds = ", ".join(step.kinds)
        self.out.print(Panel(why or step.title, title=f"[bold]{step.title}[/]", subtitle=f"{kinds} · {', '.join(step.services)}",
                             title_align="left", subtitle_align="left"))

    def pictures(self, before: list[str], after: list[str]) -> None:
        from rich.panel import Panel

        if before == after:
            self.out.print(Panel("\n".join(after), title="Architecture (unchanged by this step)", title_align="left"))
            return
        self.out.print(Panel("\n".join(before), title="Before", title_align="left", border_style="dim"))
        self.out.print(Panel("\n".join(after), title="After", title_align="left", border_style="green"))

    def diff(self, text: str) -> None:
        from rich.syntax import Syntax

        if not text.strip():
            return
        lines = text.rstrip("\n").splitlines()
        shown = "\n".join(lines[:MAX_DIFF_LINES])
        self.out.print(Syntax(shown, "diff", theme="ansi_dark", background_color="default", word_wrap=False))
        if len(lines) > MAX_DIFF_LINES:
            self.out.print(f"[dim]... {len(lines) - MAX_DIFF_LINES} more lines (`workshop diff --step N` shows them all)[/]")

    def solved(self, step, outcome) -> None:
        from workshop.cli import render

        if outcome.changed:
            render.note(f"solution of step {step.number} applied: {', '.join(outcome.changed)}")

    def deploy_context(self, ctx):
        from workshop.cli.common import Spinner

        return Spinner(ctx)

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
        if self.wait:
            typer.prompt("Press Enter for the next step", default="", show_default=False, prompt_suffix=" ", err=True)


def _summary(summary, target_name: str) -> None:
    from rich.table import Table

    from workshop.cli import render

    out = render.out_console()
    table = Table(title="Demo summary", title_justify="left")
    for column in ("#", "Step", "Result", "Time", "of which deploys"):
        table.add_column(column, justify="right" if column in ("#", "Time", "of which deploys") else "left")
    for r in summary.results:
        shown = "[green]verified[/]" if r.passed else "[yellow]pending[/]" if r.pending else "[red]failed[/]"
        table.add_row(str(r.step.number), r.step.title, shown,
                      f"{r.seconds:.1f}s", f"{r.deploy_seconds:.1f}s" if r.deploy_seconds else "")
    out.print(table)
    measured = [(f"{path} path (step {found[0].number})", found[1])
                for path, found in (("HTTP", summary.ride("ride-recorded")), ("SNS", summary.ride("ride-recorded-sns"))) if found]
    if measured:
        label = " (emulator figures: compare the shapes, not the numbers)" if target_name == "local" else ""
        out.print(f"[bold]Ride latency, HTTP path against SNS path[/]{label}")
        rows = measured
        scale = max(max(ride.get("http_ms", 0), ride.get("record_ms", 0)) for _, ride in rows) or 1
        for name, ride in rows:
            for what, key in (("rider waits", "http_ms"), ("ride recorded", "record_ms")):
                value = ride.get(key, 0)
                bar = "█" * max(1, round(40 * value / scale))
                out.print(f"  {name:<20} {what:<14} [cyan]{bar}[/] {value} ms", highlight=False)
    from workshop.instructor import cost

    estimate = cost.estimate()
    out.print(f"[bold]Cost at the module's inputs[/] (10,000,000 requests, 100 ms, 128 MB, us-east-1): HTTP path "
              f"${estimate.http.total:,.2f} a month, SNS path ${estimate.sns.total:,.2f}, saving ${estimate.saving:,.2f} "
              "(`workshop cost` for other inputs).", highlight=False)


@app.command()
def demo(
    ctx: typer.Context,
    from_: Annotated[str | None, typer.Option("--from", help="First step (number or id); earlier ones are replayed.", show_default=False)] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last step (default: the module's last).", show_default=False)] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not pause between steps or ask before deploying to AWS.")] = False,
    workspace_dir: Annotated[str | None, typer.Option("--workspace", "-w", help="Run in this workspace (default: a fresh temporary one).", show_default=False)] = None,
    target: Annotated[str | None, typer.Option("--target", help="`local` (default) or `aws`.", show_default=False)] = None,
) -> None:
    """Apply, deploy and verify every step of the module, with pictures and diffs (instructors)."""
    from workshop.cli import render
    from workshop.cli.common import confirm_account
    from workshop.course import model as course
    from workshop.instructor import demo as core

    loaded = course.load()
    first, last = core.steps_between(loaded, from_, to)
    root = Path(workspace_dir).expanduser().resolve() if workspace_dir is not None else None
    where = None
    try:
        with core.opened(loaded, root, target) as where:
            chosen = where.target
            confirm_account(where.session, chosen, where.deploys, yes)
            render.note(f"Demo workspace: {where.root} (target {chosen.name}, stage {chosen.stage}).")
            summary = core.run(where.session, where.deploys, RichPresenter(pause=not yes), first, last)
        _summary(summary, chosen.name)
        if chosen.name == "aws":
            render.plain(f"Resources are still deployed: run `workshop teardown --workspace {where.root}` when the class is over.")
        waiting = [str(r.step.number) for r in summary.results if r.pending]
        if waiting and all(r.passed or r.pending for r in summary.results):
            render.note(f"Step {', '.join(waiting)} is still pending: AWS has not finished retrying. Check again in a few "
                        f"minutes with `workshop verify --step {waiting[0]} --wait --workspace {where.root}`.")
            raise typer.Exit(1)
        if not summary.passed:
            failed = ", ".join(str(r.step.number) for r in summary.results if not r.passed and not r.pending)
            render.error_line(f"Steps {failed} did not verify; see their tables above. Resume with `workshop demo --from {failed.split(',')[0]}`.")
            raise typer.Exit(1)
        render.success(f"All {len(summary.results)} steps verified.")
    except KeyboardInterrupt:
        current = where.session.current().number if where is not None and where.session is not None else first.number
        render.err_console().print(f"[yellow]Demo stopped at step {current}.[/] Resume with `workshop demo --from {current}`"
                                   + ("" if root is None else f" --workspace {render.esc(root)}") + ".")
        raise typer.Exit(130) from None
