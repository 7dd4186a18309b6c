"""The CLI's error conventions: one line per user error (exit 2), one line per warning,
library wording translated into the CLI's (``overwrite=True`` → ``--overwrite``)."""
from __future__ import annotations

import re
import sys
import traceback
import warnings
from typing import Callable

from ..errors import DynalysisError, first_line

__all__ = ["run_guarded", "user_error", "cli_message"]

INTERRUPTED = ("interrupted; finished results files are kept and no partial file was written "
               "(run the same command again to resume)")
_EXTRA_FLAGS = {"overwrite": "--overwrite", "out_dir": "--out-dir", "workers": "--workers",
                "scheduler": "--scheduler", "condition": "--condition"}


def _flags() -> dict[str, str]:
    from ..pipeline.options import AnalyzeOptions

    return {**AnalyzeOptions.flags(), **_EXTRA_FLAGS}


def cli_message(message: str) -> str:
    """A library message in the command line's words: option names become their flags.

    >>> cli_message("out.nc already exists; pass overwrite=True to replace it")
    'out.nc already exists; pass --overwrite to replace it'
    >>> cli_message("n_exponents must be >= 1 and <= 8, got 9")
    '--n-exponents must be >= 1 and <= 8, got 9'
    >>> cli_message("steps (50) must exceed transient (50); allowed: steps >= 51")
    '--steps (50) must exceed --transient (50); allowed: --steps >= 51'
    >>> cli_message("runs/seed=1/steps=5/m.ckpt: invalid analyses='x'")
    "runs/seed=1/steps=5/m.ckpt: invalid --analyses='x'"
    >>> cli_message("invalid condition='x'; allowed values: pad")
    "invalid --condition='x'; allowed values: pad"
    """
    message = message.replace("overwrite=True", "--overwrite")
    for name, flag in _flags().items():
        if "_" in name:
            pattern = rf"(?<![\w/.=-]){name}\b"
        else:  # a plain word: only where it names the option
            pattern = rf"(?<![\w/.=-]){name}(?==| must| \(| <=| >=)"
        message = re.sub(pattern, flag, message)
    return message


def user_error(error: BaseException | None):
    """The `DynalysisError` behind ``error`` (jsonargparse wraps a constructor's), or None."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, DynalysisError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {category.__name__}: {first_line(message)}", file=sys.stderr)


def run_guarded(call: Callable[[], int | None], *, debug: bool = False, translate: bool = True,
                one_line_warnings: bool = True, interrupted: str = INTERRUPTED) -> int:
    """Run ``call()`` with the CLI's conventions and return the exit status.

    A `dynalysis.DynalysisError` anywhere in the exception's chain prints ``error: <one line>``
    on stderr and returns 2 (``debug`` adds the traceback); other exceptions propagate (bugs).
    Warnings print as one line each (``one_line_warnings``); Ctrl-C prints ``interrupted`` and
    returns 130. ``translate`` puts option names into the CLI's words (`cli_message`).
    """
    shown = warnings.showwarning
    if one_line_warnings and not debug:
        warnings.showwarning = _one_line_warning
    try:
        return call() or 0
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return 130
    except Exception as e:
        cause = user_error(e)
        if cause is None:
            raise
        if debug:
            traceback.print_exc()
        text = str(cause)
        print(f"error: {cli_message(text) if translate else text}", file=sys.stderr)
        return 2
    finally:
        warnings.showwarning = shown
