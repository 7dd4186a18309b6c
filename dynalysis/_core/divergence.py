"""One divergence policy for every analysis.

A trajectory (or fixed-point start) whose state, Jacobian or result becomes NaN/inf is
*flagged*, not averaged and not an error: the result holds ``diverged (trajectory)`` (1 =
diverged), means are taken over the finite ones, quantities with nothing finite to average are
NaN, and one `dynalysis.DivergenceWarning` says how many diverged. `dynalysis.OptionError` is
raised only for options.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..errors import DivergenceWarning

__all__ = ["DIVERGED_FLAGS", "not_finite", "warn_diverged"]

DIVERGED_FLAGS = ("finite", "diverged")


def not_finite(values, axis_keep: int = 0) -> np.ndarray:
    """Boolean ``(n,)``: rows (along ``axis_keep``) of ``values`` that hold a NaN or inf.

    >>> not_finite(np.array([[1.0, 2.0], [np.nan, 0.0]])).tolist()
    [False, True]
    """
    a = np.moveaxis(np.asarray(values), axis_keep, 0)
    return ~np.isfinite(a.reshape(a.shape[0], -1)).all(1)


def warn_diverged(diverged, *, what: str = "trajectories", analysis: str, stacklevel: int = 3) -> None:
    """Warn (`DivergenceWarning`) when any entry of the boolean ``diverged`` is set."""
    diverged = np.asarray(diverged, dtype=bool)
    n = int(diverged.sum())
    if n:
        warnings.warn(f"{analysis}: {n} of {diverged.size} {what} diverged (NaN/inf); they are "
                      "flagged in 'diverged' and left out of the averages", DivergenceWarning,
                      stacklevel=stacklevel)
