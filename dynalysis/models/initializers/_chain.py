"""Non-normal chain initializers and the source input (Orhan & Pitkow 2020; docs/science.md §3).

    chain            W_ij = α δ_{i, j+1}                     (unit j feeds unit j+1)
    chain_feedback   W_ij = α δ_{i, j+1} + β δ_{i+1, j}
    source_input     V    = scale · I_{N×d}                  (input k drives unit k)
    antisym. ramp    W_ij = c (j − i) / (N − 1)

Orientation: row = receiving unit, so ``W @ e_j = α e_{j+1}``. With the source input a pulse
on input channel 0 enters unit 0, the source end of the chain, and reaches unit ``N−1`` after
``N−1`` further steps (the authors' PyTorch helper is transposed: input enters at the sink).

References
----------
Orhan & Pitkow, "Improved memory in recurrent neural networks with sequential non-normal
dynamics", ICLR 2020.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..._core.options import check_option
from ._common import out_dtype, resolve_shape

__all__ = ["chain", "chain_feedback", "source_input", "antisymmetric_ramp", "mixed"]

# PyTorch's stacking of the hidden-to-hidden gate blocks, and which block is the candidate
_GATE_LAYOUT = {"lstm": (4, 2), "gru": (3, 2)}  # LSTM (i, f, g, o); GRU (r, z, n)


def chain(n: int, *, alpha: float = 1.0, dtype: torch.dtype | None = None) -> Tensor:
    """Feed-forward chain ``W_ij = α δ_{i, j+1}`` (zero diagonal, nilpotent).

    All eigenvalues are 0, yet Henrici's departure from normality is ``α √(N−1)``.
    ``α ∈ [0.99, 1.05]`` in the paper.
    """
    rows, _ = resolve_shape(n, None)
    return torch.diag(torch.full((rows - 1,), float(alpha), dtype=out_dtype(dtype)), -1)


def chain_feedback(n: int, *, alpha: float = 0.99, beta: float = 0.04,
                   dtype: torch.dtype | None = None) -> Tensor:
    """Chain with feedback ``W_ij = α δ_{i, j+1} + β δ_{i+1, j}`` (tridiagonal Toeplitz).

    Eigenvalues ``2√(αβ) cos(kπ/(N+1))``; Henrici index ``√(N−1) |α − β|``. The paper uses
    ``α = 0.99``, ``β ∈ [0.01, 0.07]``.
    """
    rows, _ = resolve_shape(n, None)
    dt = out_dtype(dtype)
    return (torch.diag(torch.full((rows - 1,), float(alpha), dtype=dt), -1)
            + torch.diag(torch.full((rows - 1,), float(beta), dtype=dt), 1))


def source_input(n: int, d: int, *, scale: float = 0.9, dtype: torch.dtype | None = None) -> Tensor:
    """Source input matrix ``V = scale · I_{N×d}``: input channel ``k`` drives unit ``k``.

    Unit 0 is the source end of `chain` and `chain_feedback`. Channels ``k ≥ N`` (when
    ``d > N``) drive no unit.
    """
    rows, cols = resolve_shape(n, d, cols_name="d")
    return float(scale) * torch.eye(rows, cols, dtype=out_dtype(dtype))


def antisymmetric_ramp(n: int, *, scale: float = 0.01, dtype: torch.dtype | None = None) -> Tensor:
    """Antisymmetric ramp ``W_ij = c (j − i) / (N − 1)`` with ``c = scale`` (zero for N = 1)."""
    rows, _ = resolve_shape(n, None)
    idx = torch.arange(rows, dtype=torch.float64)
    W = float(scale) * (idx[None, :] - idx[:, None]) / max(rows - 1, 1)
    return W.to(out_dtype(dtype))


def mixed(n: int, *, cell: str = "lstm", alpha: float = 1.0, beta: float = 0.0,
          ramp_scale: float = 0.01, dtype: torch.dtype | None = None) -> Tensor:
    """Stacked hidden-to-hidden weights of the "mixed" gated-cell initializer.

    The candidate block (LSTM ``g``, GRU ``n``) is a chain (`chain_feedback` with ``α, β``;
    ``β = 0`` is the plain `chain`); every other gate block is the `antisymmetric_ramp`
    with ``c = ramp_scale``.

    Parameters
    ----------
    n : int
        Hidden size ``N``.
    cell : {"lstm", "gru"}, default "lstm"
        Block layout: LSTM ``(i, f, g, o)`` → ``(4N, N)``; GRU ``(r, z, n)`` → ``(3N, N)``
        (PyTorch's ``weight_hh_l0`` order). The paper defines it for the LSTM; the GRU
        variant (chain on the candidate block) is ours.
    alpha, beta : float, default 1.0, 0.0
    ramp_scale : float, default 0.01
    """
    check_option("cell", cell, tuple(_GATE_LAYOUT))
    n_gates, candidate = _GATE_LAYOUT[cell]
    ramp = antisymmetric_ramp(n, scale=ramp_scale, dtype=dtype)
    blocks = [ramp] * n_gates
    blocks[candidate] = chain_feedback(n, alpha=alpha, beta=beta, dtype=dtype)
    return torch.cat(blocks, 0)
