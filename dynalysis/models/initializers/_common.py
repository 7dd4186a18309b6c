"""Shared argument handling for the initializers: sizes, dtype and random generator."""
from __future__ import annotations

import torch

from ...errors import OptionError
from ..._core.options import check_positive_int

__all__ = ["make_generator", "resolve_shape", "out_dtype", "check_range"]


def make_generator(seed: int | None) -> torch.Generator | None:
    """A CPU generator seeded with ``seed``; None (torch's global generator) when ``seed`` is None."""
    if seed is None:
        return None
    return torch.Generator().manual_seed(check_positive_int("seed", seed, minimum=0))


def resolve_shape(n_rows: int, n_cols: int | None, *, cols_name: str = "n_cols") -> tuple[int, int]:
    """``(n_rows, n_cols)`` with ``n_cols`` defaulting to ``n_rows`` (a square matrix)."""
    rows = check_positive_int("n_rows", n_rows, minimum=1)
    cols = rows if n_cols is None else check_positive_int(cols_name, n_cols, minimum=0)
    return rows, cols


def out_dtype(dtype: torch.dtype | None) -> torch.dtype:
    """The dtype of a returned matrix: ``dtype`` or torch's default dtype."""
    return torch.get_default_dtype() if dtype is None else dtype


def check_range(name: str, lo: float, hi: float, *, low: float | None = None,
                high: float | None = None) -> tuple[float, float]:
    """Return ``(lo, hi)`` as floats after checking ``low <= lo <= hi <= high``."""
    lo, hi = float(lo), float(hi)
    if not lo <= hi or (low is not None and lo < low) or (high is not None and hi > high):
        bounds = f" within [{low}, {high}]" if low is not None or high is not None else ""
        raise OptionError(f"{name} must satisfy lo <= hi{bounds}, got ({lo}, {hi})")
    return lo, hi
