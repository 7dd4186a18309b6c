"""Command line: the analysis commands (``analyze``, ``plot``) and the others, found by name.

``analyze`` and ``plot`` live here and never import torch for ``--help`` nor Lightning at all.
Every other command (the training verbs ``fit``/``validate``/``test``/``predict``, ``sweep`` and
``demo``, provided by ``lightning_modules``) is looked up in the entry-point group
``dynalysis.commands`` (as xarray finds its backends), so this package never names the
package that provides them. A command is a callable ``command(argv) -> int`` taking the whole
argument list (``["fit", "--config", ...]``; None: ``sys.argv[1:]``) and returning the exit
status; `run_guarded` gives it the CLI's error conventions.
"""
from __future__ import annotations

import sys

from ._guard import cli_message as cli_message
from ._guard import run_guarded as run_guarded
from ._guard import user_error as user_error

__all__ = ["main", "external_commands", "run_guarded", "user_error", "cli_message", "COMMAND_GROUP"]

COMMAND_GROUP = "dynalysis.commands"
ANALYSIS_COMMANDS = ("analyze", "plot")


def external_commands() -> dict:
    """``{name: importlib.metadata.EntryPoint}`` of the installed ``dynalysis.commands``."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=COMMAND_GROUP)}


def _command_name(argv: list[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    """``dynalysis``/``cli.py`` entry point; returns the process exit status.

    User errors (`dynalysis.DynalysisError`: bad files, options, shapes) print one line and
    exit with status 2; ``--debug`` adds the traceback.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    name = _command_name(args)
    if name is not None and name not in ANALYSIS_COMMANDS:
        command = external_commands().get(name)
        if command is not None:
            return command.load()(argv)
    from ._commands import run

    return run(args)
