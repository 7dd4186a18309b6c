"""Command-line entry point: training verbs go to the Lightning CLI, the rest stay light."""
from __future__ import annotations

import sys

TRAIN_VERBS = ("fit", "validate", "test", "predict")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in TRAIN_VERBS:
        from lightning_modules.cli import cli_main  # Lightning only on the training path

        cli_main(argv)
        return 0
    from ._commands import run

    return run(argv)
