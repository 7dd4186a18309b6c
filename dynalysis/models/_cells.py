"""One layer of torch's RNN, GRU and LSTM as functions of their weights, with the analytic J·Q.

Shared by the fused cells (`dynalysis.models.GRU`, `dynalysis.models.LSTM`: their
``tangent_step``) and by `dynalysis.from_module` for torch's own modules (``TorchRNNSystem``).

Each ``*_layer(w, u, state, du, dstate)`` advances one layer by one time step from its input
``u (B, n_in)`` (``x_t`` for layer 0, the new ``h`` of the layer below otherwise) and, when
tangents are given, pushes them through: ``du (B, n_in, k)`` (None for layer 0, whose input
does not depend on the state) and ``dh, dc (B, ·, k)``. Equations and gate order are torch's
(``nn.RNN``, ``nn.GRU`` (r, z, n), ``nn.LSTM`` (i, f, g, o), docs/science.md §6):

    RNN   h' = φ(W_ih u + b_ih + W_hh h + b_hh)                     J·Q: φ'(a) ⊙ (W δ)
    GRU   r = σ(W_ir u + b_ir + W_hr h + b_hr),  z = σ(… z …)
          n = tanh(W_in u + b_in + r ⊙ (W_hn h + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h
          δh' = (1 − z) δn + z δh + (h − n) δz
    LSTM  [i, f, g, o] = W_ih u + b_ih + W_hh h + b_hh
          c' = σ(f) c + σ(i) tanh(g),  h' = W_hr (σ(o) tanh(c'))   (W_hr = I without projection)
          δc' = σ(f) δc + c δσ(f) + σ(i) δtanh(g) + tanh(g) δσ(i)
          δh' = W_hr (σ(o) tanh'(c') δc' + tanh(c') δσ(o))

Costs per layer: the forward's two products plus ``W_ih δu`` and ``W_hh δh`` for the
tangents (``2 G·H·(n_in + n_h)·k`` flops per row); no Jacobian is formed.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor

__all__ = ["LayerWeights", "rnn_layer", "gru_layer", "lstm_layer"]


@dataclass(frozen=True)
class LayerWeights:
    """One layer's tensors in torch's layout (gate blocks stacked along dim 0)."""

    w_ih: Tensor  # (G·H, n_in)
    w_hh: Tensor  # (G·H, n_h)
    b_ih: Tensor | None  # (G·H,)
    b_hh: Tensor | None
    w_hr: Tensor | None = None  # (P, H): LSTM projection

    def to(self, *, dtype, device) -> "LayerWeights":
        return LayerWeights(*(None if t is None else t.to(dtype=dtype, device=device)
                              for t in (getattr(self, f.name) for f in fields(self))))


def _affine(W: Tensor, b: Tensor | None, v: Tensor) -> Tensor:
    return torch.nn.functional.linear(v, W, b)


def _drive(w: LayerWeights, du: Tensor | None, dh: Tensor) -> Tensor:
    """``W_ih δu + W_hh δh`` ``(B, G·H, k)``."""
    out = torch.matmul(w.w_hh, dh)
    return out if du is None else out + torch.matmul(w.w_ih, du)


def rnn_layer(w: LayerWeights, u: Tensor, h: Tensor, du: Tensor | None = None,
              dh: Tensor | None = None, *, relu: bool = False):
    """Elman layer: ``h'`` and, with tangents, ``δh'``."""
    a = _affine(w.w_ih, w.b_ih, u) + _affine(w.w_hh, w.b_hh, h)
    h1 = torch.relu(a) if relu else torch.tanh(a)
    if dh is None:
        return h1, None
    slope = (a > 0).to(a.dtype) if relu else 1 - h1 * h1
    return h1, slope.unsqueeze(-1) * _drive(w, du, dh)


def gru_layer(w: LayerWeights, u: Tensor, h: Tensor, du: Tensor | None = None,
              dh: Tensor | None = None):
    """GRU layer: ``h'`` and, with tangents, ``δh'``."""
    i_r, i_z, i_n = _affine(w.w_ih, w.b_ih, u).chunk(3, -1)
    h_r, h_z, h_n = _affine(w.w_hh, w.b_hh, h).chunk(3, -1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    h1 = (1 - z) * n + z * h
    if dh is None:
        return h1, None
    dgh_r, dgh_z, dgh_n = torch.matmul(w.w_hh, dh).chunk(3, -2)
    if du is None:
        dgi_r = dgi_z = dgi_n = 0
    else:
        dgi_r, dgi_z, dgi_n = torch.matmul(w.w_ih, du).chunk(3, -2)
    dr = (r * (1 - r)).unsqueeze(-1) * (dgi_r + dgh_r)
    dz = (z * (1 - z)).unsqueeze(-1) * (dgi_z + dgh_z)
    dn = (1 - n * n).unsqueeze(-1) * (dgi_n + dr * h_n.unsqueeze(-1) + r.unsqueeze(-1) * dgh_n)
    dh1 = (1 - z).unsqueeze(-1) * dn + z.unsqueeze(-1) * dh + (h - n).unsqueeze(-1) * dz
    return h1, dh1


def lstm_layer(w: LayerWeights, u: Tensor, h: Tensor, c: Tensor, du: Tensor | None = None,
               dh: Tensor | None = None, dc: Tensor | None = None):
    """LSTM layer: ``(h', c')`` and, with tangents, ``(δh', δc')``."""
    pre = _affine(w.w_ih, w.b_ih, u) + _affine(w.w_hh, w.b_hh, h)
    a_i, a_f, a_g, a_o = pre.chunk(4, -1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c1 = f * c + i * g
    m = torch.tanh(c1)
    h1 = o * m
    if w.w_hr is not None:
        h1 = h1 @ w.w_hr.T
    if dh is None:
        return (h1, c1), None
    d_i, d_f, d_g, d_o = _drive(w, du, dh).chunk(4, -2)
    d_i = (i * (1 - i)).unsqueeze(-1) * d_i
    d_f = (f * (1 - f)).unsqueeze(-1) * d_f
    d_g = (1 - g * g).unsqueeze(-1) * d_g
    d_o = (o * (1 - o)).unsqueeze(-1) * d_o
    dc1 = f.unsqueeze(-1) * dc + c.unsqueeze(-1) * d_f + i.unsqueeze(-1) * d_g + g.unsqueeze(-1) * d_i
    dh1 = (o * (1 - m * m)).unsqueeze(-1) * dc1 + m.unsqueeze(-1) * d_o
    if w.w_hr is not None:
        dh1 = torch.matmul(w.w_hr, dh1)
    return (h1, c1), (dh1, dc1)
