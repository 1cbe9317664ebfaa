"""The `workshop` command line: thin commands over the core (see app.py for error handling).

Each module registers its commands on the one Typer `app` when imported. `main` imports only the module of the
command being run, so `workshop status` never pays for building the other twenty-odd commands; `--help`, an
unknown command or `from workshop.cli import app` load them all.
"""

import importlib
import sys

MODULES = ("nav", "cost", "emulator", "verify", "deploy", "demo", "rides", "gitops", "classroom", "watch")
# The module that registers each top-level command (a test checks this against what the modules register).
COMMAND_MODULES = {
    "init": "nav", "status": "nav", "show": "nav", "hint": "nav", "next": "nav", "back": "nav", "goto": "nav",
    "questions": "nav", "cost": "cost", "emulator": "emulator", "verify": "verify", "deploy": "deploy",
    "teardown": "deploy", "doctor": "deploy", "test": "deploy", "demo": "demo", "ride": "rides", "logs": "rides",
    "reset": "gitops", "solve": "gitops", "diff": "gitops", "backups": "gitops", "restore": "gitops", "dev": "gitops",
    "class": "classroom", "watch": "watch",
}
ROOT_OPTIONS_WITH_VALUE = ("--workspace", "-w")


def load(modules=MODULES):
    """Import command modules (registering their commands) and return the Typer app."""
    for name in modules:
        importlib.import_module(f"workshop.cli.{name}")
    from workshop.cli.application import app

    return app


def command_of(argv: list[str]) -> str | None:
    """The command named on a command line, skipping the root options; None when there is none."""
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in ROOT_OPTIONS_WITH_VALUE:
            skip = True
        elif not token.startswith("-"):
            return token
        elif not token.startswith(tuple(f"{o}=" for o in ROOT_OPTIONS_WITH_VALUE)):
            return None  # --help or an option the root does not know: let the full app answer
    return None


def main() -> None:
    """Console-script entry point."""
    from workshop.cli import application as app_module

    module = COMMAND_MODULES.get(command_of(sys.argv[1:]) or "")
    load((module,) if module else MODULES)
    app_module.main()


def __getattr__(name: str):
    if name == "app":
        return load()
    raise AttributeError(name)


__all__ = ["app", "main", "load"]
