"""One divergence policy for every analysis.

A trajectory (or fixed-point start, or pulse) whose state, Jacobian or result becomes NaN/inf
is *flagged*, not averaged and not an error: the result holds ``diverged (trajectory)`` (1 =
diverged), means are taken over the finite ones, quantities with nothing finite to average are
NaN, and one `dynalysis.DivergenceWarning` says how many diverged. `dynalysis.OptionError` is
raised only for options.
"""
from __future__ import annotations

import warnings
from typing import Mapping

import numpy as np

from ..errors import DivergenceWarning

__all__ = ["DIVERGED_FLAGS", "not_finite", "finite_mean", "warn_diverged"]

DIVERGED_FLAGS = ("finite", "diverged")


def not_finite(values, axis_keep: int = 0) -> np.ndarray:
    """Boolean ``(n,)``: rows (along ``axis_keep``) of ``values`` that hold a NaN or inf.

    >>> not_finite(np.array([[1.0, 2.0], [np.nan, 0.0]])).tolist()
    [False, True]
    """
    a = np.moveaxis(np.asarray(values), axis_keep, 0)
    return ~np.isfinite(a.reshape(a.shape[0], -1)).all(1)


def finite_mean(values, diverged, *, std: bool = False):
    """Mean (or standard deviation) over axis 0 of the rows not flagged in ``diverged``;
    NaN (of the right shape) when every row diverged.

    >>> finite_mean(np.array([[1.0], [3.0], [np.inf]]), np.array([False, False, True])).tolist()
    [2.0]
    >>> finite_mean(np.array([[np.nan]]), np.array([True])).tolist()
    [nan]
    """
    values = np.asarray(values)
    ok = ~np.asarray(diverged, dtype=bool)
    if not ok.any():
        return np.full(values.shape[1:], np.nan, dtype=np.result_type(values.dtype, np.float64))
    rows = values[ok]
    return rows.std(0) if std else rows.mean(0)


def warn_diverged(diverged, *, analysis: str, what: str = "trajectories", stacklevel: int = 3) -> None:
    """Warn once (`DivergenceWarning`) when any entry of the boolean ``diverged`` is set.

    ``diverged`` may also be a mapping ``{what: flags}`` (e.g. trajectories and starts): one
    warning then counts each kind.
    """
    kinds = dict(diverged) if isinstance(diverged, Mapping) else {what: diverged}
    counts = {k: (int(np.asarray(v, dtype=bool).sum()), int(np.asarray(v).size)) for k, v in kinds.items()}
    if not any(n for n, _ in counts.values()):
        return
    parts = " and ".join(f"{n} of {size} {k}" for k, (n, size) in counts.items() if n)
    warnings.warn(f"{analysis}: {parts} diverged (NaN/inf); they are flagged in the result and "
                  "left out of its averages", DivergenceWarning, stacklevel=stacklevel)
