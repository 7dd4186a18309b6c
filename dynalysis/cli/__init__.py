"""Command-line entry point: training verbs go to the Lightning CLI, the rest stay light."""
from __future__ import annotations

import importlib
import sys

TRAIN_VERBS = ("fit", "validate", "test", "predict")


def training_cli():
    """The Lightning CLI module, imported only when a training verb runs (~10 s here)."""
    return importlib.import_module("lightning_modules.cli")


def main(argv: list[str] | None = None) -> int:
    """``cli.py``/``dynalysis`` entry point; returns the process exit status.

    User errors (`dynalysis.DynalysisError`: bad files, options, shapes) print one line and
    exit with status 2; ``--debug`` adds the traceback.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in TRAIN_VERBS:
        from .._errors import DynalysisError

        debug = "--debug" in argv
        try:
            training_cli().cli_main([a for a in argv if a != "--debug"])
        except DynalysisError as e:
            if debug:
                raise
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
    from ._commands import run

    return run(argv)
