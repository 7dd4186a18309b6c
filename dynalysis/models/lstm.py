"""LSTM, trained on torch's fused ``nn.LSTM``; the step map reads the same weights.

PyTorch's equations (gate order i, f, g, o in ``weight_ih_l0`` / ``weight_hh_l0``):

    [i, f, g, o]_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g)
    h_t = σ(o) ⊙ tanh(c_t)

The step map's state is ``[h, c]`` (size ``2N``, docs/science.md conventions). J·Q of tangents
``Q = [Q_h; Q_c]`` (`tangent_step`, no Jacobian formed; `_cells.lstm_layer`, shared with
`from_module`), with ``[δi, δf, δg, δo] = W_hh Q_h`` scaled by each gate's slope:

    δc = σ(f) ⊙ Q_c + c_{t-1} ⊙ δσ(f) + σ(i) ⊙ δtanh(g) + tanh(g) ⊙ δσ(i)
    δh = σ(o) (1 − tanh²(c_t)) ⊙ δc + tanh(c_t) ⊙ δσ(o),      J Q = [δh; δc]
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ._base import register_model
from ._cells import lstm_layer
from ._fused import FusedRecurrentNet

__all__ = ["LSTM"]


@register_model("lstm")
class LSTM(FusedRecurrentNet):
    """Long short-term memory (Hochreiter & Schmidhuber 1997) in PyTorch's formulation.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
        ``input_size >= 1``.
    init, init_options : default "default"
        Initializer of each hidden-to-hidden block ``W_hi, W_hf, W_hg, W_ho`` (drawn
        independently): "default" is torch's ``U(-1/√N, 1/√N)``; e.g. "eigen" (every gate
        block), "orthogonal"; "mixed" (Orhan & Pitkow) puts a chain on the cell-candidate
        block ``W_hg`` and the antisymmetric ramp ``c (j−i)/(N−1)`` on the gates, options
        ``alpha``, ``beta``, ``ramp_scale`` (`initializers.mixed`).
    input_init, input_init_options : default "default"
        Initializer of each input block.
    bias_init : {"uniform", "zeros"}, default "uniform"
    seed : int, optional

    Notes
    -----
    ``state_size = 2N``, state ``[h, c]``; `hidden` returns ``h``, the readout sees ``h``.
    `recurrent_matrix` is None (the state is ``[h, c]`` and there are four gate blocks);
    `gate_matrices` returns ``{"input", "forget", "cell", "output"}`` ``(N, N)`` blocks.
    `hidden_states` (training) is the fused kernel alone; `sequence` adds the cell states
    ``c_t``, recovered from the gates in one batched product and a running sum over time.
    `tangent_step` is the analytic J·Q product (module docstring): one ``W_hh Q_h`` product
    for the four gate blocks, ``J`` is never formed.
    """

    gate_names = ("input", "forget", "cell", "output")
    mixed_cell = "lstm"
    exclude_inits = ("wcrnn",)
    analytic_tangent = True

    def _make_rnn(self) -> nn.Module:
        return nn.LSTM(self.input_size, self.hidden_size, batch_first=True)

    @property
    def state_size(self) -> int:
        return 2 * self.hidden_size

    def step(self, state: Tensor, x: Tensor) -> Tensor:
        xa, ha = self._preactivation_parts(state, x)
        i, f, g, o = (xa + ha).chunk(4, -1)
        c = torch.sigmoid(f) * state[..., self.hidden_size:] + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return torch.cat([h, c], -1)

    def tangent_step(self, state: Tensor, x: Tensor, tangents: Tensor) -> tuple[Tensor, Tensor]:
        """``([h', c'], J Q)`` for tangents ``Q (B, 2N, k)`` (module docstring)."""
        N = self.hidden_size
        (h, c), (dh, dc) = lstm_layer(self._layer_weights(), x, state[..., :N], state[..., N:],
                                      None, tangents[..., :N, :], tangents[..., N:, :])
        return torch.cat([h, c], -1), torch.cat([dh, dc], -2)

    def _hc0(self, x: Tensor, state: Tensor | None) -> tuple[Tensor, Tensor]:
        if state is None:
            zero = x.new_zeros(1, x.shape[0], self.hidden_size)
            return zero, zero
        return self._h0(x, state), state[..., self.hidden_size:].unsqueeze(0).contiguous()

    def hidden_states(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        """``h_t`` for all steps ``(B, T, N)`` from the fused kernel (the training path)."""
        return self.rnn(x, self._hc0(x, state))[0]

    def sequence(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        """All states ``[h_t, c_t]`` ``(B, T, 2N)``."""
        h0, c0 = self._hc0(x, state)
        H = self.rnn(x, (h0, c0))[0]
        h_prev = torch.cat([h0.transpose(0, 1), H[:, :-1]], 1)  # (B, T, N)
        r = self.rnn
        pre = (nn.functional.linear(x, r.weight_ih_l0, r.bias_ih_l0)
               + nn.functional.linear(h_prev, r.weight_hh_l0, r.bias_hh_l0))
        i, f, g, o = pre.chunk(4, -1)
        forget, write = torch.sigmoid(f), torch.sigmoid(i) * torch.tanh(g)
        c, cells = c0[0], []
        for f_t, w_t in zip(forget.unbind(1), write.unbind(1)):
            c = f_t * c + w_t
            cells.append(c)
        return torch.cat([H, torch.stack(cells, 1)], -1)
