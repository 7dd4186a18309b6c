"""Shared base of the cells that train on torch's fused ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``.

The fused module (``self.rnn``, one layer, ``batch_first``) owns the weights; the step map
reads the very same tensors (``weight_ih_l0 (G·N, d)``, ``weight_hh_l0 (G·N, N)``,
``bias_ih_l0``, ``bias_hh_l0``, gate blocks stacked in PyTorch's order), so training path and
step map cannot drift apart.
"""
from __future__ import annotations

import abc

import torch
from torch import Tensor, nn

from ..errors import OptionError
from . import _base
from ._base import RecurrentNet
from ._cells import LayerWeights
from ._init import bias_vector, init_options_record, input_weight, recurrent_weight
from .initializers import make_generator

__all__ = ["FusedRecurrentNet"]


class FusedRecurrentNet(RecurrentNet):
    """Base class: option handling, initialisation and weight access of a fused cell.

    Subclasses set ``gate_names`` (PyTorch's stacking order), ``mixed_cell`` ("lstm", "gru"
    or None when the "mixed" initializer does not apply) and implement `_make_rnn`.
    """

    gate_names: tuple[str, ...] = ("hidden",)
    mixed_cell: str | None = None
    exclude_inits: tuple[str, ...] = ()
    #: options of the subclass itself, passed on to this constructor (Elman's nonlinearity)
    cell_option_names: tuple[str, ...] = ()

    def __init__(self, input_size: int, hidden_size: int, output_size: int = 0, *,
                 init: str = "default", init_options: dict | None = None,
                 input_init: str = "default", input_init_options: dict | None = None,
                 bias_init: str = "uniform", seed: int | None = None, **cell_options):
        super().__init__(input_size, hidden_size, output_size)
        unknown = sorted(set(cell_options) - set(self.cell_option_names))
        if unknown:
            raise OptionError(f"unknown option {unknown[0]!r} for cell {self.cell_name!r}; "
                              f"allowed: {', '.join(_base.cell_options(self.cell_name))}")
        if self.input_size < 1:
            raise OptionError(f"{self.cell_name} cells need input_size >= 1 (torch's fused "
                              f"kernels take no empty input); got {input_size}")
        self.options = dict(**cell_options, **init_options_record(
            init=init, init_options=init_options, input_init=input_init,
            input_init_options=input_init_options, bias_init=bias_init, seed=seed))
        self.rnn = self._make_rnn()
        N, d, G, g = self.hidden_size, self.input_size, len(self.gate_names), make_generator(seed)
        o = self.options
        default = ("uniform", {})  # torch's own U(-1/√N, 1/√N) on every weight and bias
        W_hh = recurrent_weight(o["init"], o["init_options"], N, default=default, generator=g,
                                gates=G, mixed_cell=self.mixed_cell, exclude=self.exclude_inits)
        W_ih = input_weight(o["input_init"], o["input_init_options"], N, d, default=default,
                            generator=g, gates=G)
        with torch.no_grad():
            self.rnn.weight_hh_l0.copy_(W_hh)
            self.rnn.weight_ih_l0.copy_(W_ih)
            self.rnn.bias_ih_l0.copy_(bias_vector(bias_init, N, generator=g, gates=G))
            self.rnn.bias_hh_l0.copy_(bias_vector(bias_init, N, generator=g, gates=G))
        self._init_readout(g)

    @abc.abstractmethod
    def _make_rnn(self) -> nn.Module:
        """The fused one-layer ``batch_first`` torch module holding the weights."""

    # --- weights ------------------------------------------------------------------------
    def gate_matrices(self) -> dict[str, Tensor]:
        """Hidden-to-hidden blocks ``{gate: (N, N)}`` in PyTorch's stacking order (views)."""
        return dict(zip(self.gate_names, self.rnn.weight_hh_l0.chunk(len(self.gate_names), 0)))

    def _preactivation_parts(self, state: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(W_ih x + b_ih, W_hh h + b_hh)``, each ``(B, G·N)``."""
        r = self.rnn
        h = state[..., : self.hidden_size]
        return (nn.functional.linear(x, r.weight_ih_l0, r.bias_ih_l0),
                nn.functional.linear(h, r.weight_hh_l0, r.bias_hh_l0))

    def _layer_weights(self) -> LayerWeights:
        """The fused module's tensors as `_cells.LayerWeights` (the same tensors, no copy)."""
        r = self.rnn
        return LayerWeights(r.weight_ih_l0, r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0)

    def _h0(self, x: Tensor, state: Tensor | None) -> Tensor:
        """Initial hidden state as the fused kernel wants it: ``(1, B, N)``."""
        if state is None:
            return x.new_zeros(1, x.shape[0], self.hidden_size)
        return state[..., : self.hidden_size].unsqueeze(0).contiguous()
