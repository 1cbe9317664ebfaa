"""Navigation commands: init, status, show, hint, next, back, goto, questions."""


from pathlib import Path
from typing import Annotated

import typer

from workshop.cli.application import app
from workshop.cli.common import WRITES_NOTE, JsonOpt, WorkspaceOpt, finish_interrupted, open_session, workspace_path

# Let "-1" reach the step lookup (which explains the valid range) instead of failing as an unknown option.
STEP_ARG_SETTINGS = {"ignore_unknown_options": True}
StepArg = Annotated[str, typer.Argument(help="A step number or id, as `workshop status` lists them.", show_default=False)]


@app.command()
def init(
    directory: Annotated[str, typer.Argument(help="Folder for the new workspace.")] = "wild-rydes-workshop",
) -> None:
    """Create a learner workspace in DIRECTORY (safe to run again on an existing one)."""
    from workshop.cli import render
    from workshop.course import model as course
    from workshop.course import workspace

    loaded = course.load()
    try:
        root = Path(directory).expanduser().resolve()
    except (OSError, ValueError):
        from workshop.errors import BadInput

        raise BadInput(f"{directory!r} is not a usable folder name. Choose another path: `workshop init DIR`.") from None
    if root.exists() and not root.is_dir():
        from workshop.errors import BadInput

        raise BadInput(f"{root} is a file, not a folder. Choose another path: `workshop init DIR`.")
    existed = workspace.locate(root) == root
    from workshop.checkpoints import (
        build as checkpoints,  # imports git: only init and the git commands need it
    )

    built = checkpoints.create_workspace(root, loaded)
    branches = f"{len(built.checkpoints)} checkpoint branches (`git branch` lists them)"
    from rich.markup import escape

    for ref in built.kept:
        render.note(escape(f"Kept your branch {ref.removeprefix('refs/heads/')} as it is (you made it, committed on it or have "
                           "it checked out); the runner uses its own copy of each checkpoint."))
    if built.adopted:
        render.success(f"Rebuilt the git repository of {root}: your files are kept as they are, on top of the start of the "
                       f"workshop on `main` (`git status` shows your changes; they are also saved in backup {built.adopted}).")
    elif existed and not built.updated:
        render.success(f"{root} is already a workshop workspace; nothing was changed (your files are untouched).")
    elif existed:
        render.success(f"{root} is already a workshop workspace; rebuilt its {branches}. Your files are untouched.")
    elif built.populated:
        render.success(f"Created the workshop workspace {root}: a git repository with both services on `main` and {branches}.")
    else:
        render.success(f"Made {root} a workshop workspace with {branches}; your files and branches are untouched.")
    render.plain(f"Next: `cd {root}` then `workshop show`.")


@app.command()
def status(
    ctx: typer.Context,
    workspace_dir: WorkspaceOpt = None,
    as_json: JsonOpt = False,
    repair: Annotated[bool, typer.Option("--repair", help="Rebuild a damaged progress file, keeping what can be read.")] = False,
) -> None:
    """Show your progress through the module."""
    from workshop.cli import render
    from workshop.course import model as course
    from workshop.course import progress, workspace

    loaded = course.load()
    if repair:
        root = workspace.locate(workspace_path(ctx, workspace_dir))
        if root is None:
            workspace.require(workspace_path(ctx, workspace_dir))
        if workspace.needs_repair(root) is None:
            render.note("The progress file is healthy; nothing was changed.")
        else:
            _, kept = workspace.repair(root, loaded.course_version, [s.id for s in loaded.steps])
            render.note(f"Progress file rebuilt{f'; the old one is kept as {kept}' if kept else ''}.")
    session = progress.open_session(workspace_path(ctx, workspace_dir), loaded)
    finish_interrupted(session.root, light=True)
    current = session.current()
    rows = [
        {
            "number": step.number,
            "id": step.id,
            "title": step.title,
            "services": list(step.services),
            "state": progress.step_state(session, step),
            "current": step.id == current.id,
        }
        for step in loaded.steps
    ]
    if as_json:
        render.print_json({"course_version": loaded.course_version, "current": current.id, "steps": rows})
        return
    for row, step in zip(rows, loaded.steps, strict=True):
        row["spent"] = render.duration(progress.time_spent(session, step))
    render.status_table(loaded.title, rows, complete=progress.module_complete(session))
    render.out_console().print(f"Current step: {current.number} ({current.id}). Run `workshop show` to read it.", highlight=False)


@app.command(context_settings=STEP_ARG_SETTINGS)
def show(
    ctx: typer.Context,
    step: Annotated[str | None, typer.Argument(help="A step number or id (default: the current step).", show_default=False)] = None,
    no_pager: Annotated[bool, typer.Option("--no-pager", help="Print the whole page, even when it is longer than the screen.")] = False,
    workspace_dir: WorkspaceOpt = None,
) -> None:
    """Show a step's instructions (a long page goes through a pager in a terminal; never when piped)."""
    from workshop.cli import render

    session = open_session(ctx, workspace_dir)
    chosen = session.course.step(step) if step is not None else session.current()
    welcome = None
    if chosen.number == 0 and session.state.step(chosen.id).state == "not yet" and step is None:
        welcome = (session.course.title, session.course.welcome)
    from workshop.checks import pages

    render.step_page(pages.page(chosen), f"Step {chosen.number}: {chosen.title}", welcome=welcome, pager=not no_pager)
    _pictures(session, chosen)
    _mention_questions(session.course, chosen)
    render.out_console().print("[dim]Stuck? `workshop hint`. Done? `workshop verify`, then `workshop next`.[/]")


@app.command()
def hint(ctx: typer.Context, workspace_dir: WorkspaceOpt = None) -> None:
    """Reveal the next hint of the current step."""
    from workshop.cli import render
    from workshop.course import progress

    session = open_session(ctx, workspace_dir)
    step = session.current()
    total, revealed = progress.reveal_hint(session, step)
    render.hints(f"step {step.number}", revealed, total)


@app.command("next")
def next_(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Move on even though the step is not verified (it shows as skipped).")] = False,
    workspace_dir: WorkspaceOpt = None,
) -> None:
    """Move on to the next step (the current one must pass `workshop verify` first, unless --force)."""
    from workshop.checks import runner
    from workshop.cli import render

    def before_checks(step, writes: list[str]) -> None:
        if step is not None:
            render.note(f"Your files or deploys of step {step.number} changed since it was verified: running its checks again.")
        if writes:
            render.note(WRITES_NOTE.format(what="; ".join(writes)))

    session = open_session(ctx, workspace_dir)
    from workshop.cli import spinner

    with spinner.for_checks():  # only shows while checks run again (changed files, the end of the module)
        done = runner.advance(session, force=force, before_checks=before_checks)
    step, finished = done.step, done.finished
    if done.reverified is not None:
        render.note(f"Step {done.reverified.step.number}'s checks pass on your files as they are now.")
    if finished:
        render.markdown(session.course.final, title="Module complete")
        return
    from workshop.checks import pages

    render.step_intro(step, pages.page(step))


@app.command()
def back(ctx: typer.Context, workspace_dir: WorkspaceOpt = None) -> None:
    """Go back to the previous step (files are not changed; see `workshop reset`)."""
    from workshop.cli import render
    from workshop.course import progress

    session = open_session(ctx, workspace_dir)
    step = progress.move_back(session)
    render.success(f"Now at step {step.number}: {step.title}.")


@app.command(context_settings=STEP_ARG_SETTINGS)
def goto(ctx: typer.Context, step: StepArg, workspace_dir: WorkspaceOpt = None) -> None:
    """Make STEP the current step (files are not changed; see `workshop reset --step N`)."""
    from workshop.cli import render
    from workshop.course import progress

    session = open_session(ctx, workspace_dir)
    chosen = progress.move_to(session, session.course.step(step))
    render.success(f"Now at step {chosen.number}: {chosen.title}.")
    render.out_console().print("Run `workshop show` to read it.", highlight=False)


@app.command()
def questions(
    question_id: Annotated[str | None, typer.Argument(help="Show this question, without its answer.", show_default=False)] = None,
    answer: Annotated[str | None, typer.Option("--answer", help="Show the worked answer of one question (cost, order, retries).")] = None,
) -> None:
    """List the module's questions, show one (think first), or show one question's worked answer."""
    from workshop.cli import render
    from workshop.course import model as course
    from workshop.instructor import cost

    loaded = course.load()
    if answer is None and question_id is None:
        render.questions_table((q.id, f"{q.title} ({_asked_at(loaded, q)})" if q.step else q.title) for q in loaded.questions)
        return
    question = loaded.question(answer if answer is not None else question_id)
    render.markdown(cost.question_text(question, answer=answer is not None), title=question.title)
    if answer is None:
        render.out_console().print(f"Your answer ready? Compare it: `workshop questions --answer {question.id}`.", highlight=False)


def _asked_at(loaded, question) -> str:
    step = loaded.by_id(question.step)
    return f"{question.when} step {step.number}" if step is not None else ""


def _pictures(session, step) -> None:
    """The architecture at the start of the step and after it (one picture when the files don't change)."""
    from rich.panel import Panel

    from workshop.cli import render
    from workshop.instructor import architecture

    drawn = architecture.around(session.root, session.course, step)
    if drawn is None:
        return
    before, after = drawn
    out = render.out_console()
    if before == after:
        what = "what this step's deploy puts in the cloud" if step.deploys else "unchanged by this step"
        out.print(Panel("\n".join(after), title=f"Architecture ({what})", title_align="left"))
        return
    out.print(Panel("\n".join(before), title="Architecture before this step", title_align="left", border_style="dim"))
    out.print(Panel("\n".join(after), title="Architecture after this step", title_align="left", border_style="green"))


def _mention_questions(loaded, step) -> None:
    """Name the questions asked at this step; their answers stay behind `--answer`."""
    from workshop.cli import render

    for question in loaded.questions_at(step):
        moment = "Before you start" if question.when == "before" else "Once this step passes"
        render.out_console().print(f"{moment}, a question to think about: {question.title} "
                                   f"`workshop questions {question.id}`", highlight=False)
