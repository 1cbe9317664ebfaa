"""Commands over the workspace's git repository: reset, solve, diff, backups, restore, and the authors' `dev` commands.

Thin: each parses options, calls one core function in workshop.checkpoints.build (imported lazily: git is never imported by
`workshop status`), and renders the result. Every command that replaces files names its backup and the restore command.
"""


import shlex
from pathlib import Path
from typing import Annotated

import typer

from workshop.cli.application import app
from workshop.cli.common import JsonOpt, WorkspaceOpt, open_session

# Only where a step is a positional argument: "-1" must reach the step lookup (which explains the valid range). An
# option's value (`--step -1`) parses without it, and elsewhere an unknown option (`diff --stats`) is a usage error.
STEP_SETTINGS = {"ignore_unknown_options": True}
StepOpt = Annotated[
    str | None, typer.Option("--step", "-s", help="A step number or id (default: the current step).", show_default=False)
]

dev_app = typer.Typer(help="Commands for course authors: record a step's patch, check the whole course.", no_args_is_help=True)
app.add_typer(dev_app, name="dev")


def _open(ctx: typer.Context, workspace_dir: Path | None):
    """The session, after finishing whatever a killed command left half-done (open_session says what was done)."""
    return open_session(ctx, workspace_dir)


def _backup_lines(outcome, root: Path | None = None) -> None:
    from workshop.checkpoints.backups import restore_command
    from workshop.cli import render

    if outcome.backup is not None and root is not None:
        from workshop.checkpoints import pruning
        from workshop.checkpoints.repo import open_repo

        pruning.prune(open_repo(root))  # a new backup was made: drop the old ones beyond what is kept
    if outcome.backup is not None:
        name = outcome.backup.name
        render.out_console().print(
            f"Your files as they were are saved in backup [bold]{render.esc(name)}[/]. "
            f"To undo: [bold]`{render.esc(restore_command(name))}`[/]",
            highlight=False, soft_wrap=True,
        )


def _outcome_json(outcome) -> dict:
    from workshop.checkpoints.backups import restore_command

    return {
        "step": outcome.step.id if outcome.step else None,
        "changed": outcome.changed,
        "conflicts": outcome.conflicts,
        "commands": outcome.commands,
        "backup": outcome.backup.to_json() if outcome.backup else None,
        "restore": restore_command(outcome.backup.name) if outcome.backup else None,
    }


def _changed_files(outcome) -> None:
    from workshop.cli import render

    console = render.out_console()
    for path in outcome.changed[:20]:
        console.print(f"  {path}", highlight=False, markup=False)
    if len(outcome.changed) > 20:
        console.print(f"  ... and {len(outcome.changed) - 20} more", highlight=False)


@app.command()
def reset(
    ctx: typer.Context,
    step: Annotated[str, typer.Option("--step", "-s", help="The step to start again (0 = the very start).", show_default=False)],
    deploy: Annotated[bool, typer.Option("--deploy", help="Also bring the target to the start of the step (replays the earlier deploys).")] = False,
    workspace_dir: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Put the service folders at the START of a step (backed up first) and make it the current step; files outside
    them, such as your notes, stay as they are."""
    from workshop.checkpoints import operations
    from workshop.cli import render

    session = _open(ctx, workspace_dir)
    chosen = session.course.step(step)
    outcome = operations.reset_to_step(session.root, session.course, chosen)
    if deploy:
        from workshop.cli.deploy import deploy_to_step

        deploy_to_step(session, chosen)
    if as_json:
        render.print_json(_outcome_json(outcome))
        return
    if outcome.changed:
        render.success(f"Your files are now at the start of step {chosen.number}: {chosen.title} ({_files(len(outcome.changed))} changed).")
        _changed_files(outcome)
    else:
        render.success(f"Your files were already at the start of step {chosen.number}; nothing was changed.")
    _backup_lines(outcome, session.root)
    render.out_console().print(f"Current step: {chosen.number}. Run `workshop show` to read it.", highlight=False)


@app.command()
def solve(ctx: typer.Context, step: StepOpt = None, workspace_dir: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Apply a step's solution on top of your work (a three-way merge; your files are backed up first)."""
    from workshop.checkpoints import operations
    from workshop.cli import render

    session = _open(ctx, workspace_dir)
    chosen = session.course.step(step) if step is not None else session.current()
    outcome = operations.solve_step(session.root, session.course, chosen)
    if as_json:
        render.print_json(_outcome_json(outcome))
        return
    console = render.out_console()
    if outcome.commands:
        render.success(f"Step {chosen.number} changes no file: nothing to apply.")
        render.plain("It is completed by running: " + ", then ".join(f"`{c}`" for c in outcome.commands))
        return
    if not outcome.changed and not outcome.conflicts:
        render.success(f"Your files already hold the solution of step {chosen.number}; nothing was changed.")
        return
    if outcome.conflicts:
        console.print(
            f"[yellow]The solution of step {chosen.number} was merged with conflicts in {_files(len(outcome.conflicts))}.[/] "
            "Edit them where you see <<<<<<< / ======= / >>>>>>> (yours first, the solution second):",
            highlight=False, soft_wrap=True,
        )
        for path in outcome.conflicts:
            console.print(f"  [bold]{render.esc(path)}[/]", highlight=False)
    else:
        render.success(f"Applied the solution of step {chosen.number} ({_files(len(outcome.changed))} changed).")
        _changed_files(outcome)
    _backup_lines(outcome, session.root)
    console.print("Next: `workshop verify`.", highlight=False)


@app.command()
def diff(
    ctx: typer.Context,
    path: Annotated[str | None, typer.Argument(help="Only this file or folder.", show_default=False)] = None,
    step: StepOpt = None,
    stat: Annotated[bool, typer.Option("--stat", help="Only the changed files and line counts.")] = False,
    against: Annotated[
        str, typer.Option("--against", help="`solution` (your files -> the state after the step) or `start` (the step's start -> your files).")
    ] = "solution",
    workspace_dir: WorkspaceOpt = None,
) -> None:
    """Compare your files with the solution of the current step (+ lines: what the solution has that your files lack)."""
    from workshop.checkpoints import operations
    from workshop.cli import render
    from workshop.errors import BadInput

    if against not in ("solution", "start"):
        raise BadInput(f"--against takes `solution` or `start`, not {against!r}.")
    session = _open(ctx, workspace_dir)
    chosen = session.course.step(step) if step is not None else session.current()
    paths = (_relative(session.root, Path(path)),) if path is not None else ()
    result = operations.diff(session.root, session.course, chosen, against=against, stat=stat, paths=paths)
    if not result.text.strip():
        render.success(f"No differences between {result.left} and {result.right}.")
        return
    render.diff(result.left, result.right, result.text, stat=stat)


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


def _relative(root: Path, path: Path) -> str:
    """PATH as git wants it: relative to the workspace root (given relative to the current folder, or already so)."""
    if "\x00" in str(path):
        from workshop.errors import BadInput

        raise BadInput("That path has a NUL character in it: name a file or folder of the workspace (see `git status`).")
    absolute = path.expanduser().resolve()
    try:
        return absolute.relative_to(root.resolve()).as_posix() or "."
    except ValueError:
        pass
    if not path.is_absolute() and (root / path).resolve().is_relative_to(root.resolve()):
        return path.as_posix()  # already relative to the workspace root
    from workshop.errors import BadInput

    raise BadInput(f"{path} is outside the workspace ({root}): name a file or folder inside it, or run `workshop diff` for all of your changes.")


@app.command("backups")
def backups_(
    ctx: typer.Context,
    prune: Annotated[bool, typer.Option("--prune", help="Delete now the backups beyond the newest 50 that are also older than 30 days.")] = False,
    workspace_dir: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the backups of your files, oldest first (`workshop restore NAME` brings one back).

    The newest 50 and every backup younger than 30 days are kept; older ones are deleted when a new backup is made.
    """
    from workshop.checkpoints import backups, pruning
    from workshop.checkpoints.repo import open_repo
    from workshop.cli import render

    session = _open(ctx, workspace_dir)
    if prune:
        gone = pruning.prune(open_repo(session.root))
        render.note(f"Deleted {len(gone)} old backups (kept the newest {pruning.KEEP} and those under {pruning.DAYS} days).")
    found = backups.list_all(open_repo(session.root))
    if as_json:
        render.print_json({"backups": [b.to_json() for b in found]})
        return
    if not found:
        render.success("No backups yet: reset, solve and restore make one before they change a file.")
        return
    from workshop.cli import tables

    tables.backups(found)
    render.plain(f"Restore one with `workshop restore NAME`, e.g. `workshop restore {found[-1].name}`.")


@app.command()
def restore(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="The backup's name (or a unique start of it), as `workshop backups` lists it.", show_default=False)] = None,
    last: Annotated[bool, typer.Option("--last", help="Restore the newest backup (what the last reset, solve or restore replaced).")] = False,
    workspace_dir: WorkspaceOpt = None,
) -> None:
    """Bring back the files of a backup (the files it replaces are backed up first). The current step does not move."""
    from workshop.checkpoints import backups, operations
    from workshop.checkpoints.repo import open_repo
    from workshop.cli import render
    from workshop.errors import BadInput

    session = _open(ctx, workspace_dir)
    if last and name is not None:
        raise BadInput("Choose one: `workshop restore NAME` or `workshop restore --last`.")
    if name is None:
        found = backups.list_all(open_repo(session.root))
        if not found:
            raise BadInput("There are no backups yet: reset, solve and restore make one before they change a file. "
                           "Run `workshop backups` to list them later.")
        if not last:
            newest = ", ".join(b.name for b in found[-3:][::-1])
            raise BadInput(f"Name a backup (newest first: {newest}) or use `workshop restore --last`; `workshop backups` lists them all.")
        name = found[-1].name
    name = backups.find(open_repo(session.root), name).name  # a unique start of a name is enough
    outcome = operations.restore(session.root, name, session.course.services)
    current = session.current()
    if not outcome.changed:
        render.success("Your service folders already equal that backup; nothing was changed.")
    else:
        render.success(f"Restored {name} ({_files(len(outcome.changed))} changed).")
        _changed_files(outcome)
        _backup_lines(outcome, session.root)
    if outcome.outside:
        shown = " ".join(shlex.quote(item) for item in outcome.outside)
        render.paragraph(f"The backup also holds {', '.join(outcome.outside)}, outside the service folders, which restore "
                         f"never writes. To bring them back: `git restore --source={outcome.backup_commit} -- {shown}`.")
    if not outcome.changed:
        return
    render.paragraph(f"The current step stayed at step {current.number} ({current.title}): restoring files does not move it. "
                     "`workshop goto N` moves it; `workshop restore --last` undoes this restore.")


@dev_app.command("record", context_settings=STEP_SETTINGS)
def dev_record(
    ctx: typer.Context,
    step: Annotated[str, typer.Argument(help="The step whose patch to regenerate (number or id).", show_default=False)],
    workspace_dir: WorkspaceOpt = None,
) -> None:
    """Regenerate solutions/NN-<id>.patch from your files (the edited state after STEP) and rebuild the checkpoints."""
    from workshop.checkpoints import build as checkpoints
    from workshop.cli import render

    session = _open(ctx, workspace_dir)
    chosen = session.course.step(step)
    result = checkpoints.record_step(session.root, session.course, chosen)
    render.success(f"Wrote {result.patch} ({len(result.files)} files).")
    for path in result.files:
        render.out_console().print(f"  {path}", highlight=False, markup=False)
    if result.later_problem:
        render.out_console().print(f"[yellow]A later patch no longer applies:[/] {render.esc(result.later_problem)}", highlight=False,
                                   soft_wrap=True)
        raise typer.Exit(1)
    render.out_console().print("Checkpoint branches rebuilt. Run `workshop dev check` before committing.", highlight=False)


@dev_app.command("check")
def dev_check(
    skip_tests: Annotated[bool, typer.Option("--skip-tests", help="Only check that the patches apply and no stray file is shipped.")] = False,
    skip_live: Annotated[bool, typer.Option("--skip-live", help="Skip the per-step check walk and the live cases on the embedded emulator.")] = False,
) -> None:
    """Check the course: patches apply in order, checkpoints' unit tests pass and their handlers exist, every case of
    steps/cases/ holds, and on the emulator every step's checks fail at its start and pass after its solution and deploys."""
    from contextlib import ExitStack

    from workshop.cli import render
    from workshop.course import model as course
    from workshop.instructor import devcheck

    console = render.out_console()

    def show(item) -> None:
        mark = "[green]ok[/]  " if item.ok else "[red]FAIL[/]"
        console.print(f"{mark} ", end="", highlight=False)
        console.print(item.name, highlight=False, markup=False, soft_wrap=True)
        if item.detail and not item.ok:
            console.print(item.detail, highlight=False, markup=False, soft_wrap=True)

    with ExitStack() as stack:
        def phase(text: str) -> None:
            stack.close()
            stack.enter_context(render.err_console().status(text))

        report = devcheck.run(course.load(), run_tests=not skip_tests, live=not skip_live, on_item=show, on_phase=phase)
    failed = [item for item in report if not item.ok]
    if failed:
        render.error_line(f"{len(failed)} of {len(report)} course checks failed (see above).")
        raise typer.Exit(1)
    render.success(f"All {len(report)} course checks passed.")
