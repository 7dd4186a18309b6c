"""Command-line entry point: training verbs go to the Lightning CLI, the rest stay light."""
from __future__ import annotations

import importlib
import sys

TRAIN_VERBS = ("fit", "validate", "test", "predict")


def training_cli():
    """The Lightning CLI module, imported only when a training verb runs (~10 s here)."""
    return importlib.import_module("lightning_modules.cli")


def user_error(error: BaseException):
    """The `DynalysisError` behind ``error`` (jsonargparse wraps a constructor's), or None."""
    from ..errors import DynalysisError

    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, DynalysisError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def main(argv: list[str] | None = None) -> int:
    """``cli.py``/``dynalysis`` entry point; returns the process exit status.

    User errors (`dynalysis.DynalysisError`: bad files, options, shapes) print one line and
    exit with status 2; ``--debug`` adds the traceback.
    """
    from_command_line = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in TRAIN_VERBS:
        debug = "--debug" in argv
        argv = [a for a in argv if a != "--debug"]
        if from_command_line:  # Lightning reads sys.argv itself (and DDP relaunches it)
            sys.argv[1:] = argv
        try:
            training_cli().cli_main(None if from_command_line else argv)
        except Exception as e:
            cause = user_error(e)
            if cause is None or debug:
                raise
            print(f"error: {cause}", file=sys.stderr)
            return 2
        return 0
    from ._commands import run

    return run(argv)
