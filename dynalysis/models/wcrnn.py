"""Weakly coupled residual RNN (Dubinin & Effenberger 2024; SCIENCE.md §1).

    a_t = W h_{t-1} + V x_t + b
    h_t = ρ(h_{t-1}) + ε · tanh(a_t)

Jacobian ``J_t = R + ε · diag(tanh'(a_t)) W`` for a linear residual ``ρ(h) = R h``, so the
J·Q product needs no Jacobian: ``J Q = R Q + ε (tanh'(a) ⊙ (W Q))``.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .._errors import OptionError, check_option
from ._base import RecurrentNet, register_model

__all__ = ["WCRNN"]


@register_model("wcrnn")
class WCRNN(RecurrentNet):
    """Weakly coupled residual RNN with a fixed (or trainable) residual ``ρ``.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
    epsilon : float, default 0.1
        Coupling strength ε of the non-linear update.
    residual : {"identity"}, default "identity"
        Residual map ρ. ``"identity"``: ``ρ(h) = λ h``.
    residual_scale : float, default 1.0
        λ. λ < 1 sub-critical (memory time ``-1/ln λ``), 1 critical, > 1 super-critical.
    train_residual : bool, default False
        Train the residual's parameters too.
    seed : int, optional
        Seed for the weight initialisation (``W ~ N(0, 1/N)``, ``V ~ N(0, 1/d)``).
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int = 0, *,
                 epsilon: float = 0.1, residual: str = "identity", residual_scale: float = 1.0,
                 train_residual: bool = False, seed: int | None = None):
        super().__init__(input_size, hidden_size, output_size)
        check_option("residual", residual, ("identity",))
        if not epsilon > 0:
            raise OptionError(f"epsilon must be > 0, got {epsilon}")
        self.options = dict(epsilon=float(epsilon), residual=residual,
                            residual_scale=float(residual_scale),
                            train_residual=bool(train_residual), seed=seed)
        self.epsilon = float(epsilon)
        N, d = hidden_size, input_size
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        self.W = nn.Parameter(torch.randn(N, N, generator=g) / math.sqrt(N))
        self.V = nn.Parameter(torch.randn(N, d, generator=g) / math.sqrt(max(d, 1)))
        self.b = nn.Parameter(torch.zeros(N))
        R = float(residual_scale) * torch.eye(N)
        if train_residual:
            self.R = nn.Parameter(R)
        else:
            self.register_buffer("R", R)

    def residual_matrix(self) -> Tensor:
        """The linear residual ``R`` with ``ρ(h) = R h``."""
        return self.R

    def recurrent_matrix(self) -> Tensor:
        return self.W

    def step(self, state: Tensor, x: Tensor) -> Tensor:
        a = state @ self.W.T + x @ self.V.T + self.b
        return state @ self.R.T + self.epsilon * torch.tanh(a)

    def tangent_step(self, state: Tensor, x: Tensor, tangents: Tensor) -> tuple[Tensor, Tensor]:
        """``J Q = R Q + ε (tanh'(a) ⊙ (W Q))`` without forming ``J``."""
        a = state @ self.W.T + x @ self.V.T + self.b
        th = torch.tanh(a)
        nxt = state @ self.R.T + self.epsilon * th
        gain = (self.epsilon * (1 - th * th)).unsqueeze(-1)  # (B, N, 1)
        JQ = torch.matmul(self.R, tangents) + gain * torch.matmul(self.W, tangents)
        return nxt, JQ

    def sequence(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        B, T, _ = x.shape
        h = self.initial_state(B, x) if state is None else state
        drive = x @ self.V.T + self.b  # all input projections in one product
        Wt, Rt, eps = self.W.T, self.R.T, self.epsilon
        states = []
        for t in range(T):
            h = h @ Rt + eps * torch.tanh(h @ Wt + drive[:, t])
            states.append(h)
        return torch.stack(states, 1)
