"""A quiet console for commands that drive Lightning themselves (the demo, sweep checks).

Lightning logs hardware lines ("GPU available: ..."), seeds and adverts ("💡 Tip: ... try
installing litlogger") at INFO level, and its internals raise deprecation warnings about
torch that say nothing about the user's run. `quiet_lightning_console` keeps warnings and
errors about the run and drops that noise, restoring everything on exit.
"""
from __future__ import annotations

import contextlib
import logging
import warnings

__all__ = ["quiet_lightning_console"]

_LOGGERS = ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric",
            "lightning.fabric")
_NOISE = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


@contextlib.contextmanager
def quiet_lightning_console():
    """Within the block: Lightning's INFO logs hidden, library deprecation warnings ignored."""
    loggers = [logging.getLogger(name) for name in _LOGGERS]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        for category in _NOISE:
            warnings.filterwarnings("ignore", category=category)
        for lg in loggers:
            lg.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)
