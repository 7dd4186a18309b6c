"""Parallel scan of a diagonal linear recurrence, for training the state-space cells.

    h_t = a_t ⊙ h_{t−1} + b_t,      t = 1..T

computed in ``⌈log₂ T⌉`` elementwise passes (Hillis & Steele 1986; the scan behind S5,
Smith et al. 2023, and the LRU, Orvieto et al. 2023) instead of ``T`` sequential steps. After
the pass with offset ``s`` each ``b_t`` holds the sum over the last ``2s`` inputs and ``a_t``
the product of the last ``2s`` coefficients; only powers and products of the coefficients
appear (never ``a^{−t}``, as in a cumulative-product formula), so the scan is as stable as
the loop for ``|a| ≤ 1``. Real or complex; differentiable by autograd.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["linear_scan"]


def linear_scan(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    """All states ``h_1..h_T`` of ``h_t = a_t ⊙ h_{t−1} + b_t``.

    Parameters
    ----------
    a : Tensor
        ``(B, T, ...)`` coefficients per step, or ``(...)`` one coefficient for every step.
    b : Tensor, shape (B, T, ...)
        Inputs.
    h0 : Tensor, shape (B, ...), optional
        Initial state (zeros if None).

    Returns
    -------
    Tensor, shape (B, T, ...)

    Examples
    --------
    >>> import torch
    >>> linear_scan(torch.tensor([0.5]), torch.ones(1, 4, 1), torch.tensor([[8.0]]))[0, :, 0]
    tensor([5.0000, 3.5000, 2.7500, 2.3750])
    """
    T = b.shape[1]
    constant = a.dim() < b.dim()
    if h0 is not None:
        a_1 = a if constant else a[:, 0]
        b = torch.cat([(b[:, 0] + a_1 * h0).unsqueeze(1), b[:, 1:]], 1)
    shift = 1
    while shift < T:
        if constant:  # a_t ≡ a: the coefficient of the pass is a^shift
            b = torch.cat([b[:, :shift], b[:, shift:] + a * b[:, :-shift]], 1)
            a = a * a
        else:
            b = torch.cat([b[:, :shift], b[:, shift:] + a[:, shift:] * b[:, :-shift]], 1)
            a = torch.cat([a[:, :shift], a[:, shift:] * a[:, :-shift]], 1)
        shift *= 2
    return b
