"""Errors a user can act on.

`DynalysisError` marks problems caused by input (files, options, shapes): the CLI prints its
message on one line and exits non-zero without a traceback. Anything else is a bug.
"""
from __future__ import annotations

__all__ = ["DynalysisError", "CheckpointError", "ResultsFileError", "OptionError",
           "StepMapError", "DivergenceWarning", "NumericalReliabilityWarning", "MissedAttractorWarning", "first_line"]


class DynalysisError(Exception):
    """A user-facing error: the message names the problem and, where known, the fix."""


class CheckpointError(DynalysisError, ValueError):
    """A checkpoint file is missing, corrupt, or not a dynalysis/Lightning checkpoint."""


class ResultsFileError(DynalysisError, ValueError):
    """A results file is missing, corrupt, or would be overwritten."""


class OptionError(DynalysisError, ValueError):
    """An option has an invalid value; the message names it and the allowed values."""


class StepMapError(DynalysisError, ValueError):
    """A step map breaks the step-map contract in a way no analysis can work around, e.g. its
    output does not depend on the state through torch operations (so its Jacobian is unknown)."""


class DivergenceWarning(RuntimeWarning):
    """Trajectories (or starts) of an analysis diverged: their state, Jacobian or result became
    NaN/inf. They are flagged in the result's ``diverged`` variable and left out of its means."""


class NumericalReliabilityWarning(UserWarning):
    """A float64 result is not determined to the requested tolerance (ill-conditioning)."""


class MissedAttractorWarning(UserWarning):
    """Forward simulation of a map at constant input ended on a stable fixed point that the
    fixed-point search did not report (counted in the result's ``missed_attractors``): more
    starts (``n_starts``) or more iterations (``max_iter``) may find it."""


def first_line(error: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type name if empty), for one-line errors."""
    text = str(error).strip()
    return text.splitlines()[0][:limit] if text else type(error).__name__
