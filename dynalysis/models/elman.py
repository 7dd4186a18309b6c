"""Elman (vanilla) RNN, trained on torch's fused ``nn.RNN`` (docs/science.md §2, §3).

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    h_t = φ(a_t),            φ ∈ {tanh, ReLU, ELU}

Jacobian ``J_t = diag(φ'(a_t)) W_hh``; the J·Q product is ``φ'(a) ⊙ (W_hh Q)``.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .._core.options import check_option
from ._base import register_model
from ._fused import FusedRecurrentNet

__all__ = ["Elman", "ELMAN_NONLINEARITIES"]

ELMAN_NONLINEARITIES = ("tanh", "relu", "elu")


@register_model("elman")
class Elman(FusedRecurrentNet):
    """Elman RNN ``h_t = φ(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
        ``input_size >= 1``.
    nonlinearity : {"tanh", "relu", "elu"}, default "tanh"
        tanh and ReLU train on the fused ``nn.RNN`` kernel; ELU (α = 1) has none in torch and
        trains with a loop over time on the same weights.
    init, init_options : default "default"
        Initializer of ``W_hh``: "default" is torch's ``U(-1/√N, 1/√N)`` ("uniform"); any of
        `initializers.RECURRENT_INITS`, e.g. "identity" (IRNN with ReLU), "np_rnn",
        "orthogonal", "eigen", "chain", "chain_feedback", "wcrnn" (``R + ε W_0``).
    input_init, input_init_options : default "default"
        Initializer of ``W_ih``: "default" is torch's ``U(-1/√N, 1/√N)``; e.g. "source"
        (``0.9 I``, Orhan & Pitkow) or "normal".
    bias_init : {"uniform", "zeros"}, default "uniform"
        Both ``b_ih`` and ``b_hh``.
    seed : int, optional
        Seed of the initialisation (``W_hh``, ``W_ih``, ``b_ih``, ``b_hh``, readout, in this
        order).

    Notes
    -----
    Weights live in ``self.rnn`` (``weight_hh_l0`` etc.); `recurrent_matrix` is ``W_hh``.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int = 0, *,
                 nonlinearity: str = "tanh", init: str = "default",
                 init_options: dict | None = None, input_init: str = "default",
                 input_init_options: dict | None = None, bias_init: str = "uniform",
                 seed: int | None = None):
        check_option("nonlinearity", nonlinearity, ELMAN_NONLINEARITIES)
        super().__init__(input_size, hidden_size, output_size, nonlinearity=nonlinearity,
                         init=init, init_options=init_options, input_init=input_init,
                         input_init_options=input_init_options, bias_init=bias_init, seed=seed)
        self._phi = {"tanh": torch.tanh, "relu": torch.relu,
                     "elu": nn.functional.elu}[nonlinearity]

    cell_option_names = ("nonlinearity",)
    analytic_tangent = True
    has_recurrent_matrix = True
    recurrent_matrix_description = "W_hh (the Jacobian where phi'(a) = 1)"

    def _make_rnn(self) -> nn.Module:
        fused = "relu" if self.options["nonlinearity"] == "relu" else "tanh"  # ELU: weights only
        return nn.RNN(self.input_size, self.hidden_size, nonlinearity=fused, batch_first=True)

    def recurrent_matrix(self) -> Tensor:
        """``W_hh`` ``(N, N)``."""
        return self.rnn.weight_hh_l0

    def _phi_prime(self, a: Tensor, h: Tensor) -> Tensor:
        """``φ'(a)`` from the pre-activation ``a`` and ``h = φ(a)``."""
        kind = self.options["nonlinearity"]
        if kind == "tanh":
            return 1 - h * h
        if kind == "relu":
            return (a > 0).to(a.dtype)
        return torch.where(a > 0, torch.ones_like(a), h + 1)  # ELU: exp(a) = h + 1 for a <= 0

    def step(self, state: Tensor, x: Tensor) -> Tensor:
        xa, ha = self._preactivation_parts(state, x)
        return self._phi(xa + ha)

    def tangent_step(self, state: Tensor, x: Tensor, tangents: Tensor) -> tuple[Tensor, Tensor]:
        """``J Q = φ'(a) ⊙ (W_hh Q)`` without forming ``J``."""
        xa, ha = self._preactivation_parts(state, x)
        a = xa + ha
        h = self._phi(a)
        JQ = self._phi_prime(a, h).unsqueeze(-1) * torch.matmul(self.rnn.weight_hh_l0, tangents)
        return h, JQ

    def jacobian(self, state: Tensor, x: Tensor) -> Tensor:
        """``J = diag(φ'(a)) W_hh`` directly (no product with the identity)."""
        xa, ha = self._preactivation_parts(state, x)
        a = xa + ha
        return self._phi_prime(a, self._phi(a)).unsqueeze(-1) * self.rnn.weight_hh_l0

    def sequence(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        h0 = self._h0(x, state)
        if self.options["nonlinearity"] != "elu":
            return self.rnn(x, h0)[0]
        r = self.rnn
        drive = nn.functional.linear(x, r.weight_ih_l0, r.bias_ih_l0 + r.bias_hh_l0)
        h, Wt, states = h0[0], r.weight_hh_l0.T, []
        for d_t in drive.unbind(1):  # unbind, not drive[:, t]: one gradient buffer, not T
            h = nn.functional.elu(h @ Wt + d_t)
            states.append(h)
        return torch.stack(states, 1)
