"""`workshop watch`: re-run the current step's file checks and tests on every save; keys deploy, verify, move on.

The rules (what a save re-runs, what remains to do) are in workshop/instructor/watch.py; this module reads keys,
merges them with file events and redraws one screen.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
from typing import Annotated, Any

import typer

from workshop.cli.application import app
from workshop.cli.common import WorkspaceOpt, open_session


@app.command()
def watch(
    ctx: typer.Context,
    workspace_dir: WorkspaceOpt = None,
    debounce_ms: Annotated[int, typer.Option("--debounce-ms", min=50, max=5000, help="Wait this long after a save before re-running.")] = 400,
) -> None:
    """Re-run the current step's checks of your files and its services' tests on every save.

    Keys: d deploy, v live checks (`workshop verify`), n next step once verified, h hint, q quit (Ctrl-C too).
    Nothing is deployed or written to the account unless you press d or v.
    """
    from workshop.cli import render

    session = open_session(ctx, workspace_dir)
    keys: queue.Queue = queue.Queue()
    with _keyboard(keys):
        Loop(session, render.out_console(), keys, debounce_ms=debounce_ms).run()


@contextlib.contextmanager
def _keyboard(keys: queue.Queue):
    """Single keys from stdin into `keys`: the terminal in cbreak mode (restored on the way out), else stdin as it comes."""
    stream = sys.stdin
    try:
        fd = stream.fileno()
        tty = os.isatty(fd)
    except (AttributeError, OSError, ValueError):
        fd, tty = None, False
    saved = None
    if tty:
        import termios
        import tty as tty_mode

        saved = termios.tcgetattr(fd)
        tty_mode.setcbreak(fd)  # keys arrive one by one, unechoed; Ctrl-C still interrupts

    def read() -> None:
        while True:
            try:
                char = os.read(fd, 1).decode(errors="ignore") if tty else stream.read(1)
            except (OSError, ValueError):
                return
            if not char:
                return  # end of input: keep watching until Ctrl-C
            keys.put(("key", char))

    threading.Thread(target=read, name="watch-keys", daemon=True).start()
    try:
        yield
    finally:
        if saved is not None:
            import termios

            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class Loop:
    """One screen, redrawn after every round, key and deploy."""

    def __init__(self, session, console, events: queue.Queue, *, debounce_ms: int = 400):
        self.session, self.console, self.events, self.debounce_ms = session, console, events, debounce_ms
        self.step = session.current()
        self.last = None
        self.live = None
        self.deployed: list[str] = []
        self.notes: list[Any] = []
        self.stop = threading.Event()

    def run(self) -> None:
        watcher = threading.Thread(target=self._files, name="watch-files", daemon=True)
        try:
            watcher.start()  # first: a save during the first round is seen too
            self.check()
            while True:
                try:
                    kind, value = self.events.get(timeout=0.2)
                except queue.Empty:
                    continue
                if kind == "files" and value & set(self.step.services):
                    self.check(value & set(self.step.services))
                elif kind == "key" and not self.key(value.lower()):
                    break
        except KeyboardInterrupt:
            pass
        finally:
            self.stop.set()
        self.console.print("Stopped watching. `workshop watch` starts again where you are.", highlight=False, markup=False)

    def _files(self) -> None:
        from workshop.instructor import watch as core

        # every service of the course: after `n` the next step may work on the other one
        for changed in core.file_changes(self.session.root, self.session.course.services, self.stop, debounce_ms=self.debounce_ms):
            self.events.put(("files", changed))

    def check(self, changed=None) -> None:
        from workshop.instructor import watch as core

        self.last = core.run_round(self.session, self.step, changed)
        if changed is not None:
            self.live = None  # the files moved on: an earlier live run no longer says anything about them
        self.draw()

    def key(self, key: str) -> bool:
        """Handle one key; False to stop."""
        from workshop.instructor import watch as core

        verdict = core.verdict(self.session, self.step, self.last, deployed=self.deployed, live=self.live)
        self.notes = []
        if key == "q":
            return False
        if key == "h":
            from workshop.course import progress

            total, revealed = progress.reveal_hint(self.session, self.step)
            self.notes = [f"hint {len(revealed)} of {total}: {revealed[-1]}" if revealed else "this step has no hints"]
        elif key == "d":
            self.deploy(core.remaining_deploys(self.step, self.deployed) or list(self.step.deploys))
        elif key == "v":
            self.verify()
        elif key == "n":
            if verdict.kind != "verified":
                self.notes = ["the step is not verified yet: " + verdict.message]
            else:
                from workshop.checks import runner
                from workshop.cli import render
                from workshop.cli.spinner import CheckSpinner
                from workshop.errors import WorkshopError

                try:  # the same rule as `workshop next`: files changed since the mark are verified again
                    with CheckSpinner(render.err_console()):
                        self.step = runner.advance(self.session).step
                except WorkshopError as exc:
                    self.notes = [exc.message]
                    self.draw()
                    return True
                self.last, self.live, self.deployed = None, None, []
                self.check()
                return True
        else:
            return True
        self.draw()
        return True

    def deploy(self, services: list[str]) -> None:
        from workshop.cli.common import Spinner
        from workshop.deploy import osls, rollout, targets
        from workshop.errors import WorkshopError

        if not services:
            self.notes = ["this step deploys nothing: press v for its checks"]
            return
        chosen = targets.resolve(self.session.state.target)
        if chosen.name == "aws" and not self.session.state.target.get("confirmed"):
            self.notes = [f"the first deploy to an AWS account is confirmed outside watch: quit and run `{_deploy_cmd(services)}`"]
            return
        try:
            with osls.deploy_lock(self.session.root):  # one deploy per workspace, as `workshop deploy` takes it
                rctx = rollout.Context.open(self.session.root, chosen)
                with Spinner(rctx):
                    if len(services) > 1:
                        rollout.deploy_all(rctx, self.session.course, self.step)
                    else:
                        rollout.deploy_one(rctx, services[0])
        except WorkshopError as exc:
            self.notes = [f"deploy failed: {exc.message}"]
            return
        self.deployed += [s for s in services if s not in self.deployed]
        self.notes = [f"{run.action} {run.service}: {run.seconds:.1f} s (log: {run.log})" for run in rctx.runs]

    def verify(self) -> None:
        from workshop.checks import runner
        from workshop.cli import render
        from workshop.cli.spinner import CheckSpinner

        with CheckSpinner(render.err_console()):
            self.live = runner.run_step(self.session, self.step)

    def draw(self) -> None:
        from workshop.cli import screens
        from workshop.instructor import watch as core

        verdict = core.verdict(self.session, self.step, self.last, deployed=self.deployed, live=self.live)
        lines = screens.watch_lines(self.step, self.last, verdict, self.live, self.notes, self.console.width)
        if self.console.is_terminal:
            self.console.clear()
        else:
            self.console.print("-" * min(self.console.width, 80), markup=False, highlight=False)
        screens.emit(self.console, lines)


def _deploy_cmd(services: list[str]) -> str:
    from workshop.instructor.watch import deploy_command

    return deploy_command(services)
