"""Selective diagonal state-space model, one layer in the style of Mamba (docs/science.md §6).

    u_t = W_in x_t                                   (D channels)
    Δ_t = softplus(W_Δ x_t + b_Δ)  > 0               (D,)   one step size per channel
    B_t = W_B x_t                                    (N,)   input-dependent input vector
    h_t[c, n] = exp(Δ_t[c] A[c, n]) h_{t−1}[c, n] + Δ_t[c] B_t[n] u_t[c],    A = −exp(A_log) < 0
    y_t = C vec(h_t) + c_0                           (fixed C)

The state is ``h ∈ ℝ^{D×N}`` flattened channel-major (``state[c·N + n]``). The Jacobian
``diag(exp(Δ_t A))`` depends on the input only, never on the state, so ``J Q`` is elementwise
and the exponent of mode ``(c, n)`` is exactly the time mean of ``Δ_t[c] A[c, n]`` along the
driving input.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import OptionError
from ._base import RecurrentNet, register_model
from ._init import input_weight
from ._scan import linear_scan
from .initializers import make_generator

__all__ = ["SelectiveSSM"]


@register_model("ssm")
class SelectiveSSM(RecurrentNet):
    """Selective (input-dependent) diagonal SSM, Mamba-style recurrence, one layer.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
        ``hidden_size = D`` channels, ``input_size = d >= 1``.
    d_state : int, default 8
        ``N`` state dimensions per channel (``state_size = D·N``).
    dt_min, dt_max : float, default 0.001, 0.1
        ``Δ`` at zero input is drawn log-uniformly in ``[dt_min, dt_max]`` per channel (the
        bias ``b_Δ = softplus⁻¹(Δ₀)``, as in Mamba).
    input_init, input_init_options : default "default" (``W_in ~ N(0, 1/d)``, "normal")
        Initializer of the channel input map ``W_in``.
    seed : int, optional
        Seed of the initialisation (``W_in``, ``W_Δ``, ``b_Δ``, ``W_B``, the readout).

    Notes
    -----
    What is included: the selective recurrence (zero-order hold for ``A``, ``exp(Δ A)``, and
    the simplified Euler rule ``Δ B`` for the input, as in Mamba's reference code) with ``Δ_t``
    and ``B_t`` functions of the input, the channel input map ``W_in`` and the S4D-real
    initialisation ``A[c, n] = −(n + 1)``. Not included: the short causal convolution (its
    window would have to be carried in the state), the SiLU and the multiplicative gate
    branch, an input-dependent ``C_t`` (the readout would then not be a function of the state
    alone, so this cell reads out with a fixed, trained ``C``) and the skip ``D u_t``.
    `recurrent_matrix` is the Jacobian at zero input, ``diag(exp(softplus(b_Δ) A))``
    ``(D·N, D·N)``. Training runs the parallel scan (`_scan.linear_scan`).

    References
    ----------
    A. Gu, T. Dao, "Mamba: linear-time sequence modeling with selective state spaces",
    arXiv:2312.00752, 2023. A. Gu, A. Gupta, K. Goel, C. Ré, "On the parameterization and
    initialization of diagonal state space models" (S4D), NeurIPS 2022.
    """

    analytic_tangent = True
    has_recurrent_matrix = True
    recurrent_matrix_description = "diag(exp(softplus(b_delta) A)) (the Jacobian at zero input)"

    def __init__(self, input_size: int, hidden_size: int, output_size: int = 0, *,
                 d_state: int = 8, dt_min: float = 1e-3, dt_max: float = 1e-1,
                 input_init: str = "default", input_init_options: dict | None = None,
                 seed: int | None = None):
        super().__init__(input_size, hidden_size, output_size)
        if self.input_size < 1:
            raise OptionError(f"ssm needs input_size >= 1 (Δ_t and B_t are functions of the "
                              f"input); got {input_size}")
        if isinstance(d_state, str) and d_state.strip().isdigit():  # a command-line override
            d_state = int(d_state)
        if isinstance(d_state, bool) or not isinstance(d_state, int) or d_state < 1:
            raise OptionError(f"d_state must be an integer >= 1, got {d_state!r}")
        dt_min, dt_max = float(dt_min), float(dt_max)
        if not 0 < dt_min <= dt_max:
            raise OptionError(f"dt_min, dt_max must satisfy 0 < dt_min <= dt_max, got {dt_min}, {dt_max}")
        if input_init_options is not None and not isinstance(input_init_options, dict):
            raise OptionError(f"input_init_options must be a dict, got {input_init_options!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise OptionError(f"seed must be a non-negative integer or None, got {seed!r}")
        self.options = dict(d_state=d_state, dt_min=dt_min, dt_max=dt_max, input_init=input_init,
                            input_init_options=dict(input_init_options or {}), seed=seed)
        D, N, d, O, g = self.hidden_size, d_state, self.input_size, self.output_size, make_generator(seed)
        self.d_state = N
        self.W_in = nn.Parameter(input_weight(input_init, self.options["input_init_options"], D, d,
                                              generator=g, default=("normal", {"fan": "in"})))
        bound = 1 / math.sqrt(d)
        self.W_delta = nn.Parameter((2 * torch.rand(D, d, generator=g) - 1) * bound)
        dt0 = torch.exp(torch.rand(D, generator=g) * (math.log(dt_max) - math.log(dt_min))
                        + math.log(dt_min))
        self.b_delta = nn.Parameter(dt0 + torch.log(-torch.expm1(-dt0)))  # softplus⁻¹(dt0)
        self.W_B = nn.Parameter((2 * torch.rand(N, d, generator=g) - 1) * bound)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(D, 1))
        self.out = nn.Linear(D * N, O) if O else None
        if self.out is not None:
            bound = 1 / math.sqrt(D * N)
            with torch.no_grad():
                self.out.weight.uniform_(-bound, bound, generator=g)
                self.out.bias.uniform_(-bound, bound, generator=g)

    @property
    def state_size(self) -> int:
        return self.hidden_size * self.d_state

    def hidden(self, state: Tensor) -> Tensor:
        """The readout sees the whole state ``vec(h)``."""
        return state

    # --- the selection -----------------------------------------------------------------------
    def state_matrix(self) -> Tensor:
        """``A = −exp(A_log)`` ``(D, N)``, strictly negative."""
        return -torch.exp(self.A_log)

    def step_sizes(self, x: Tensor) -> Tensor:
        """``Δ = softplus(W_Δ x + b_Δ)`` ``(..., D)``."""
        return nn.functional.softplus(x @ self.W_delta.T + self.b_delta)

    def _coefficients(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(exp(Δ A), Δ u ⊗ B)``, each ``(..., D, N)``, for inputs ``(..., d)``."""
        delta = self.step_sizes(x)
        decay = torch.exp(delta.unsqueeze(-1) * self.state_matrix())
        drive = (delta * (x @ self.W_in.T)).unsqueeze(-1) * (x @ self.W_B.T).unsqueeze(-2)
        return decay, drive

    def recurrent_matrix(self) -> Tensor:
        """``diag(exp(softplus(b_Δ) A))`` ``(D·N, D·N)``: the Jacobian at zero input."""
        delta0 = nn.functional.softplus(self.b_delta)
        return torch.diag(torch.exp(delta0.unsqueeze(-1) * self.state_matrix()).flatten())

    # --- the step map ------------------------------------------------------------------------
    def step(self, state: Tensor, x: Tensor) -> Tensor:
        decay, drive = self._coefficients(x)
        return state * decay.flatten(-2) + drive.flatten(-2)

    def tangent_step(self, state: Tensor, x: Tensor, tangents: Tensor) -> tuple[Tensor, Tensor]:
        """``J Q = exp(Δ A) ⊙ Q`` row-wise (``J`` is diagonal and state-independent)."""
        decay, drive = self._coefficients(x)
        decay = decay.flatten(-2)
        return state * decay + drive.flatten(-2), decay.unsqueeze(-1) * tangents

    def sequence(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        """All states by the parallel scan over time."""
        decay, drive = self._coefficients(x)  # (B, T, D, N)
        return linear_scan(decay.flatten(-2), drive.flatten(-2), state)
