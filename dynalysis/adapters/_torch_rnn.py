"""`TorchRNNSystem`: ``nn.RNN``, ``nn.GRU``, ``nn.LSTM`` (any depth) and their cells as step maps.

State layout (docs/science.md §6), for ``L`` layers of hidden size ``H`` (``P`` = ``proj_size``
or ``H``)::

    state = [h_0 | h_1 | … | h_{L−1}]                       RNN, GRU:  state_size = L·H
    state = [h_0 | … | h_{L−1} | c_0 | … | c_{L−1}]          LSTM:      state_size = L·(P + H)

i.e. torch's ``h_n (L, B, P)`` (then ``c_n (L, B, H)``) with the batch first and the layers
side by side: ``h_n.transpose(0, 1).reshape(B, L·P)``. `TorchRNNSystem.pack_state` and
`TorchRNNSystem.unpack_state` convert. One step runs every layer on one time step, each on the
new ``h`` of the layer below, as the module's forward does; dropout between layers is off.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import OptionError, StepMapError
from ..system import System
from ..models._cells import LayerWeights, gru_layer, lstm_layer, rnn_layer
from ._readout import Readout

__all__ = ["TorchRNNSystem", "TORCH_RECURRENT_MODULES"]

_SEQUENCE = {nn.RNN: "rnn", nn.GRU: "gru", nn.LSTM: "lstm"}
_CELLS = {nn.RNNCell: "rnn", nn.GRUCell: "gru", nn.LSTMCell: "lstm"}
TORCH_RECURRENT_MODULES = tuple(_SEQUENCE) + tuple(_CELLS)
_GATES = {"rnn": ("hidden",), "gru": ("reset", "update", "new"),
          "lstm": ("input", "forget", "cell", "output")}


def _torch_base(module: nn.Module) -> type:
    return next(t for t in TORCH_RECURRENT_MODULES if isinstance(module, t))


def _layers(module: nn.Module, cell: bool, live: bool = False) -> tuple[LayerWeights, ...]:
    """Detached aliases of the module's weights (same storage: in-place updates are seen), or
    with ``live`` the parameters themselves (gradients reach them)."""
    def get(name):
        value = getattr(module, name, None)
        return value if value is None or live else value.detach()

    if cell:
        return (LayerWeights(get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")),)
    return tuple(LayerWeights(get(f"weight_ih_l{k}"), get(f"weight_hh_l{k}"), get(f"bias_ih_l{k}"),
                              get(f"bias_hh_l{k}"), get(f"weight_hr_l{k}"))
                 for k in range(module.num_layers))


class TorchRNNSystem(System):
    """Step map of a torch ``nn.RNN``/``nn.GRU``/``nn.LSTM`` or ``nn.RNNCell``/``GRUCell``/
    ``LSTMCell``; build it with `dynalysis.from_module`.

    Computes from the module's weights (detached aliases: the module is never modified and
    in-place updates such as optimizer steps are seen), with an analytic J·Q product
    (`dynalysis.models._cells`). The state layout is in the module docstring; `readout`
    applies the given readout to the top layer's ``h``.

    Attributes
    ----------
    module : nn.Module
        The adapted module (read, never modified).
    kind : {"rnn", "gru", "lstm"}
    num_layers, hidden_size, proj_size : int
        ``proj_size`` is ``hidden_size`` without projection.
    """

    analytic_tangent = True

    def __init__(self, module: nn.Module, *, readout=None, name: str | None = None, live: bool = False,
                 _layers_: tuple[LayerWeights, ...] | None = None, _readout_: Readout | None = None):
        base = _torch_base(module)
        cell = base in _CELLS
        if not cell and module.bidirectional:
            raise StepMapError(
                f"a bidirectional {base.__name__} is not a causal step map: its backward direction "
                "reads the inputs from the end of the sequence, so no state at time t determines "
                "time t+1; analyse a unidirectional module")
        self.module = module
        self.kind = (_CELLS if cell else _SEQUENCE)[base]
        self.relu = self.kind == "rnn" and module.nonlinearity == "relu"
        self.cell = cell
        self.num_layers = 1 if cell else int(module.num_layers)
        self.hidden_size = int(module.hidden_size)
        self.proj_size = int(getattr(module, "proj_size", 0) or 0) or self.hidden_size
        self.input_size = int(module.input_size)
        L, H, P = self.num_layers, self.hidden_size, self.proj_size
        self.state_size = L * (P + H) if self.kind == "lstm" else L * H
        self.live = bool(live)
        self._layers = _layers(module, cell, self.live) if _layers_ is None else _layers_
        self.has_recurrent_matrix = self.kind == "rnn"
        if self.has_recurrent_matrix:
            self.recurrent_matrix_description = (
                "W_hh (the Jacobian where phi'(a) = 1)" if L == 1 else
                "the Jacobian where phi'(a) = 1 (block lower triangular: each layer's W_hh on "
                "the diagonal)")
        self.metadata = {
            "system": "from_module", "module": type(module).__name__, "kind": self.kind,
            "nonlinearity": "relu" if self.relu else ("tanh" if self.kind == "rnn" else None),
            "input_size": self.input_size, "hidden_size": H, "num_layers": L,
            "proj_size": P if P != H else 0, "bias": self._layers[0].b_ih is not None,
            "state_layout": ("h of each layer, then c of each layer (layer-major)"
                             if self.kind == "lstm" else "h of each layer (layer-major)"),
            "name": name or type(module).__name__}
        if _readout_ is not None:
            self._readout = _readout_
        else:
            self._readout = None if readout is None else Readout(readout)
        self.output_size = 0 if self._readout is None else self._readout.check(
            self.top_hidden(self.initial_state(1)), self.label)

    @property
    def label(self) -> str:
        return f"from_module({self.metadata['name']})"

    # --- the state layout ----------------------------------------------------------------
    def _split(self, state: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        L, H, P = self.num_layers, self.hidden_size, self.proj_size
        hs = list(state[..., : L * P].unflatten(-1, (L, P)).unbind(-2))
        cs = list(state[..., L * P:].unflatten(-1, (L, H)).unbind(-2)) if self.kind == "lstm" else []
        return hs, cs

    def top_hidden(self, state: Tensor) -> Tensor:
        """The top layer's ``h`` ``(batch, P)``: the module's output at that step."""
        L, P = self.num_layers, self.proj_size
        return state[..., (L - 1) * P: L * P]

    def unpack_state(self, state: Tensor):
        """``(batch, state_size)`` -> torch's ``h_n (L, batch, P)`` (LSTM: ``(h_n, c_n)``).

        For a cell, ``h (batch, H)`` (``(h, c)``), as the cell takes it.
        """
        hs, cs = self._split(state)
        if self.cell:
            return (hs[0], cs[0]) if cs else hs[0]
        h = torch.stack(hs, 0)
        return (h, torch.stack(cs, 0)) if cs else h

    def pack_state(self, hx) -> Tensor:
        """Torch's ``h_n`` (or ``(h_n, c_n)``; for a cell ``h`` or ``(h, c)``) -> ``(batch, state_size)``."""
        parts = list(hx) if isinstance(hx, (tuple, list)) else [hx]
        if len(parts) != (2 if self.kind == "lstm" else 1):
            raise OptionError(f"{self.label}: the state is {'(h, c)' if self.kind == 'lstm' else 'h'}, "
                              f"got {len(parts)} tensors")
        if self.cell:
            return torch.cat(parts, -1)
        return torch.cat([p.transpose(0, 1).flatten(1) for p in parts], -1)

    # --- the step map -------------------------------------------------------------------------
    def _advance(self, state: Tensor, x: Tensor, tangents: Tensor | None):
        hs, cs = self._split(state)
        if tangents is not None:
            dhs, dcs = self._split(tangents.transpose(-1, -2))
            dhs = [d.transpose(-1, -2) for d in dhs]
            dcs = [d.transpose(-1, -2) for d in dcs]
        u, du, new_h, new_c, new_dh, new_dc = x, None, [], [], [], []
        for k, w in enumerate(self._layers):
            dh = None if tangents is None else dhs[k]
            if self.kind == "lstm":
                (h, c), d = lstm_layer(w, u, hs[k], cs[k], du, dh, None if tangents is None else dcs[k])
                new_c.append(c)
                if d is not None:
                    new_dc.append(d[1])
                    d = d[0]
            elif self.kind == "gru":
                h, d = gru_layer(w, u, hs[k], du, dh)
            else:
                h, d = rnn_layer(w, u, hs[k], du, dh, relu=self.relu)
            new_h.append(h)
            new_dh.append(d)
            u, du = h, d
        nxt = torch.cat(new_h + new_c, -1)
        return nxt, (None if tangents is None else torch.cat(new_dh + new_dc, -2))

    def step(self, state: Tensor, x: Tensor) -> Tensor:
        return self._advance(state, x, None)[0]

    def tangent_step(self, state: Tensor, x: Tensor, tangents: Tensor) -> tuple[Tensor, Tensor]:
        """Analytic ``J Q`` layer by layer (`dynalysis.models._cells`); ``J`` is never formed."""
        return self._advance(state, x, tangents)

    def readout(self, state: Tensor) -> Tensor:
        if self._readout is None:
            return super().readout(state)
        return self._readout(self.top_hidden(state))

    def run(self, x: Tensor, hx=None):
        """The module's own call, computed with the step map: ``(output, h_n)`` or
        ``(output, (h_n, c_n))`` in the module's layout (``batch_first`` as the module's).

        A cell takes a sequence ``(batch, time, input)`` and returns ``(h_t for every t,
        final hx)``. Refuses a ``PackedSequence``: its sequences end at different times, which
        a step map advancing every trajectory together cannot represent; pad them instead.
        """
        if isinstance(x, nn.utils.rnn.PackedSequence):
            raise StepMapError(f"{self.label}: packed sequences are not a step map's input (each "
                               "sequence ends at its own time); pass a padded (batch, time, "
                               "input) tensor, one length at a time")
        batch_first = self.cell or self.module.batch_first
        seq = x if batch_first else x.transpose(0, 1)
        h = self.initial_state(seq.shape[0], dtype=seq.dtype, device=seq.device) if hx is None \
            else self.pack_state(hx)
        out = []
        for x_t in seq.unbind(1):
            h = self.step(h, x_t)
            out.append(self.top_hidden(h))
        output = torch.stack(out, 1)
        return (output if batch_first else output.transpose(0, 1)), self.unpack_state(h)

    # --- matrices ------------------------------------------------------------------------------
    def recurrent_matrix(self) -> Tensor | None:
        """RNN: the Jacobian where ``φ' = 1`` (``W_hh`` for one layer); None for GRU/LSTM."""
        if not self.has_recurrent_matrix:
            return None
        H, S = self.hidden_size, self.state_size
        rows, below = [], None
        for k, w in enumerate(self._layers):  # ∂h_k'/∂h = W_hh,k e_k + W_ih,k ∂h_{k−1}'/∂h
            block = w.w_hh.new_zeros(H, S)
            block[:, k * H:(k + 1) * H] = w.w_hh
            if below is not None:
                block = block + w.w_ih @ below
            rows.append(block)
            below = block
        return torch.cat(rows, 0).detach()

    def gate_matrices(self) -> dict[str, Tensor]:
        """Hidden-to-hidden blocks ``{gate: (H, H)}`` in torch's order (``{gate}_l{k}`` for
        several layers); empty for a projected LSTM, whose blocks are not square."""
        if self.proj_size != self.hidden_size:
            return {}
        names = _GATES[self.kind]
        out = {}
        for k, w in enumerate(self._layers):
            for gate, block in zip(names, w.w_hh.chunk(len(names), 0)):
                out[gate if self.num_layers == 1 else f"{gate}_l{k}"] = block.detach()
        return out

    # --- conversion ----------------------------------------------------------------------------
    def to(self, *, dtype=None, device=None) -> "TorchRNNSystem":
        ref = self._reference_tensor()
        dtype = dtype or ref.dtype
        device = ref.device if device is None else torch.device(device)
        if dtype == ref.dtype and (device == ref.device or (device.index is None and device.type == ref.device.type)):
            return self
        layers = tuple(w.to(dtype=dtype, device=device) for w in self._layers)
        readout = None if self._readout is None else self._readout.to(dtype=dtype, device=device)
        converted = TorchRNNSystem(self.module, name=self.metadata["name"], live=self.live, _layers_=layers,
                                   _readout_=readout)
        converted.metadata = dict(self.metadata)  # provenance added after construction travels too
        return converted

    def _reference_tensor(self) -> Tensor:
        return self._layers[0].w_hh
