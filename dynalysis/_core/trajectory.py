"""Helpers shared by the Jacobian, fixed-point, non-normality and memory analyses.

Running a step map along driving inputs, sorting spectra, thinning a time axis: small pieces
that several analyses need in the same form.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["run_states", "sort_by_modulus", "thin_indices"]


def run_states(system, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """States ``h_t`` (``t = 1..T``) of ``system`` driven by ``x (B, T, d)`` from ``h (B, S)``.

    Returns
    -------
    Tensor, shape (B, T, S)

    Examples
    --------
    >>> import dynalysis
    >>> double = dynalysis.MapSystem(lambda h, x: 2 * h + x, 1, 1)
    >>> run_states(double, torch.ones(1, 3, 1), torch.zeros(1, 1)).ravel().tolist()
    [1.0, 3.0, 7.0]
    """
    out = torch.empty(x.shape[0], x.shape[1], h.shape[1], dtype=h.dtype, device=h.device)
    with torch.no_grad():
        for t in range(x.shape[1]):
            h = system.step(h, x[:, t])
            out[:, t] = h
    return out


def thin_indices(n: int, at_most: int) -> np.ndarray:
    """``at_most`` (or fewer) evenly spaced indices of ``range(n)``, always including the last.

    >>> thin_indices(10, 4).tolist()
    [0, 3, 6, 9]
    """
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
