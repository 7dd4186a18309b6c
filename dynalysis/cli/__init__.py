"""Command-line entry point: training verbs go to the Lightning CLI, the rest stay light."""
from __future__ import annotations

import importlib
import sys

TRAIN_VERBS = ("fit", "validate", "test", "predict")


def training_cli():
    """The Lightning CLI module, imported only when a training verb runs (~10 s here)."""
    return importlib.import_module("lightning_modules.cli")


def main(argv: list[str] | None = None) -> int:
    """``cli.py``/``dynalysis`` entry point; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in TRAIN_VERBS:
        training_cli().cli_main(argv)
        return 0
    from ._commands import run

    return run(argv)
