"""Helpers shared by the Jacobian, fixed-point, non-normality and memory analyses.

Running a step map along driving inputs, sorting spectra, CF flag attributes: small pieces
that several analyses need in the same form.
"""
from __future__ import annotations

import numpy as np
import torch
import xarray as xr

__all__ = ["run_states", "sort_by_modulus", "set_flag", "thin_indices"]


def run_states(system, x: torch.Tensor, h: torch.Tensor, *, keep: np.ndarray | None = None) -> torch.Tensor:
    """States ``h_t`` (``t = 1..T``) of ``system`` driven by ``x (B, T, d)`` from ``h (B, S)``.

    Parameters
    ----------
    keep : ndarray of int, optional
        1-based steps ``t`` to keep (all by default).

    Returns
    -------
    Tensor, shape (B, len(keep), S)
    """
    T = x.shape[1]
    keep_set = None if keep is None else set(int(t) for t in keep)
    out = []
    with torch.no_grad():
        for t in range(1, T + 1):
            h = system.step(h, x[:, t - 1])
            if keep_set is None or t in keep_set:
                out.append(h)
    if not out:
        return h.new_zeros(h.shape[0], 0, h.shape[1])
    return torch.stack(out, 1)


def thin_indices(n: int, at_most: int) -> np.ndarray:
    """``at_most`` (or fewer) evenly spaced indices of ``range(n)``, always including the last."""
    if n <= at_most:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, at_most)).astype(int))


def sort_by_modulus(values: np.ndarray) -> np.ndarray:
    """Sort the last axis by decreasing modulus; ties by decreasing real, then imaginary part.

    >>> sort_by_modulus(np.array([0.5, -2.0, 1j]))
    array([-2. +0.j,  0. +1.j,  0.5+0.j])
    """
    values = np.asarray(values)
    keys = (-values.imag, -values.real, -np.abs(values))
    order = np.lexsort(keys, axis=-1)
    return np.take_along_axis(values, order, axis=-1)


def set_flag(ds: xr.Dataset, name: str, meanings: tuple[str, ...]) -> None:
    """Give integer variable ``name`` CF ``flag_values`` 0..k-1 and ``flag_meanings``."""
    ds[name].attrs.update(flag_values=np.arange(len(meanings), dtype=np.int8),
                          flag_meanings=" ".join(meanings))
