"""GRU, trained on torch's fused ``nn.GRU``; the step map reads the same weights.

PyTorch's equations (gate order r, z, n in ``weight_ih_l0`` / ``weight_hh_l0``):

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}

J·Q (`tangent_step`, no Jacobian formed; `_cells.gru_layer`, shared with `from_module`):

    δr = r(1 − r) ⊙ W_hr Q,   δz = z(1 − z) ⊙ W_hz Q
    δn = (1 − n²) ⊙ (δr ⊙ (W_hn h + b_hn) + r ⊙ W_hn Q)
    J Q = (1 − z) ⊙ δn + z ⊙ Q + (h − n) ⊙ δz
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ._base import register_model
from ._cells import gru_layer
from ._fused import FusedRecurrentNet

__all__ = ["GRU"]


@register_model("gru")
class GRU(FusedRecurrentNet):
    """Gated recurrent unit (Cho et al. 2014) in PyTorch's formulation.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
        ``input_size >= 1``.
    init, init_options : default "default"
        Initializer of each hidden-to-hidden block ``W_hr, W_hz, W_hn`` (drawn independently):
        "default" is torch's ``U(-1/√N, 1/√N)``; e.g. "eigen" (Dou & Principe: every gate
        block), "orthogonal", "chain"; "mixed" puts a chain on ``W_hn`` and the
        antisymmetric ramp on ``W_hr, W_hz`` (`initializers.mixed`, our GRU variant).
    input_init, input_init_options : default "default"
        Initializer of each input block ``W_ir, W_iz, W_in``.
    bias_init : {"uniform", "zeros"}, default "uniform"
    seed : int, optional

    Notes
    -----
    State ``h`` (``state_size = N``). `recurrent_matrix` is None (three gate blocks, no
    single recurrent matrix); `gate_matrices` returns ``{"reset", "update", "new"}``.
    `tangent_step` is the analytic J·Q product (module docstring): one ``W_hh Q`` product
    for the three gate blocks, ``J`` is never formed.
    """

    gate_names = ("reset", "update", "new")
    mixed_cell = "gru"
    exclude_inits = ("wcrnn",)
    analytic_tangent = True

    def _make_rnn(self) -> nn.Module:
        return nn.GRU(self.input_size, self.hidden_size, batch_first=True)

    def step(self, state: Tensor, x: Tensor) -> Tensor:
        xa, ha = self._preactivation_parts(state, x)
        xr, xz, xn = xa.chunk(3, -1)
        hr, hz, hn = ha.chunk(3, -1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return (1 - z) * n + z * state

    def tangent_step(self, state: Tensor, x: Tensor, tangents: Tensor) -> tuple[Tensor, Tensor]:
        """``(h', J Q)`` for tangents ``Q (B, N, k)`` (module docstring)."""
        return gru_layer(self._layer_weights(), x, state, None, tangents)

    def sequence(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        return self.rnn(x, self._h0(x, state))[0]
