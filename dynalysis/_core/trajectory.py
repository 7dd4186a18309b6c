"""Helpers shared by the Jacobian, fixed-point, non-normality and memory analyses.

Running a step map along driving inputs, sorting spectra, thinning a time axis: small pieces
that several analyses need in the same form.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["run_states", "run_kept", "run_final", "sort_by_modulus", "thin_indices", "CHUNK_ELEMENTS"]

#: numbers (batch · steps · state_size) in one chunk of states `run_kept` computes at once
CHUNK_ELEMENTS = 1 << 16


def run_states(system, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """States ``h_t`` (``t = 1..T``) of ``system`` driven by ``x (B, T, d)`` from ``h (B, S)``
    (`System.states`: a fused sequence kernel where the system has one), without gradients.

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
    with torch.no_grad():
        return system.states(h, x)


def run_kept(system, x: torch.Tensor, h: torch.Tensor, keep: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """The states at the 0-based times ``keep`` (sorted, unique) of ``system`` driven by
    ``x (B, T, d)`` from ``h (B, S)``, and which trajectories were ever not finite.

    Time runs in chunks of at most `CHUNK_ELEMENTS` numbers (`run_states` on each), so memory
    grows with ``len(keep)``, not with ``T``; finiteness is checked at every step, kept or not.

    Returns
    -------
    kept : Tensor, shape (B, len(keep), S)
    diverged : Tensor of bool, shape (B,)

    Examples
    --------
    >>> import dynalysis
    >>> double = dynalysis.MapSystem(lambda h, x: 2 * h + x, 1, 1)
    >>> kept, diverged = run_kept(double, torch.ones(1, 4, 1), torch.zeros(1, 1), np.array([1, 3]))
    >>> kept.ravel().tolist(), diverged.tolist()
    ([3.0, 15.0], [False])
    """
    B, T = x.shape[:2]
    keep = np.asarray(keep, dtype=np.int64)
    kept = torch.empty(B, len(keep), system.state_size, dtype=h.dtype, device=h.device)
    diverged = torch.zeros(B, dtype=torch.bool, device=h.device)
    chunk = max(1, CHUNK_ELEMENTS // max(1, B * system.state_size))
    for a in range(0, T, chunk):
        states = run_states(system, x[:, a:a + chunk], h)
        h = states[:, -1]
        diverged |= ~torch.isfinite(states).all(2).all(1)
        lo, hi = np.searchsorted(keep, [a, a + states.shape[1]])
        if hi > lo:
            kept[:, lo:hi] = states[:, torch.as_tensor(keep[lo:hi] - a, device=h.device)]
    return kept, diverged


def run_final(system, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The state ``h_T`` after ``x (B, T, d)`` from ``h (B, S)`` (``h`` itself when ``T = 0``)
    and which trajectories were ever not finite on the way (`run_kept`, chunked: memory flat
    in ``T``).

    >>> import dynalysis
    >>> double = dynalysis.MapSystem(lambda h, x: 2 * h + x, 1, 1)
    >>> h, diverged = run_final(double, torch.ones(1, 3, 1), torch.zeros(1, 1))
    >>> h.ravel().tolist(), diverged.tolist()
    ([7.0], [False])
    """
    if x.shape[1] == 0:
        return h, ~torch.isfinite(h).all(1)
    kept, diverged = run_kept(system, x, h, np.array([x.shape[1] - 1]))
    return kept[:, 0], diverged


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
