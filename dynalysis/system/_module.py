"""`ModuleSystem`: the step map of a network from `dynalysis.models`."""
from __future__ import annotations

import copy

import torch
from torch import Tensor

from ..errors import DynalysisError
from ._base import System

__all__ = ["ModuleSystem"]


class ModuleSystem(System):
    """Step map of a `dynalysis.models.RecurrentNet` (a trained network).

    The network's own `step` is used, and its hand-written ``tangent_step`` where the cell
    declares one (``analytic_tangent``: every shipped cell, GRU and LSTM included); a cell
    without one falls back to automatic differentiation. The capabilities (readout,
    recurrent matrix and its description) are the network's declarations.

    The network is never modified: no parameter is frozen, its training mode and dtype stay
    as they are. The step map computes with a frozen view of it (a copy of the module in
    eval mode whose parameters share the network's storage, without gradients), so
    in-place updates of the weights (optimizer steps, ``load_state_dict``) are seen and no
    graph is ever built through them. `to` converts a private copy when the dtype or device
    changes. `recurrent_matrix` and `gate_matrices` return detached tensors.

    With ``live=True`` the step map computes with ``net`` itself instead: its parameters
    keep ``requires_grad`` and its training mode, so a loss built from the step map (e.g.
    `dynalysis.lyapunov_exponents` for gradient flossing) backpropagates into the network's
    weights. Use it for training-time regularisers only; analyses want the frozen view.

    Parameters
    ----------
    net : RecurrentNet
    metadata : dict, optional
        Provenance (checkpoint path, model record) copied into results.
    live : bool, default False
        Compute with the network's own parameters (gradients kept) rather than a frozen view.

    Examples
    --------
    >>> import dynalysis
    >>> from dynalysis.models import build_model
    >>> system = dynalysis.ModuleSystem(build_model("wcrnn", input_size=1, hidden_size=4, seed=0))
    >>> system.analytic_tangent, system.has_recurrent_matrix, system.recurrent_matrix_description
    (True, True, 'R + eps*W (the Jacobian at zero pre-activation)')
    """

    def __init__(self, net: torch.nn.Module, metadata: dict | None = None, *, live: bool = False):
        from ..models import RecurrentNet

        if not isinstance(net, RecurrentNet):
            raise DynalysisError(f"ModuleSystem takes a dynalysis.models network, got "
                                 f"{type(net).__name__}; use dynalysis.from_module for other "
                                 "torch modules")
        self.net = net
        self.live = bool(live)
        self._net = net if self.live else frozen_view(net)
        self.state_size = int(net.state_size)
        self.input_size = int(net.input_size)
        self.output_size = int(net.output_size)
        self.analytic_tangent = bool(net.analytic_tangent)
        self.has_recurrent_matrix = bool(net.has_recurrent_matrix)
        self.recurrent_matrix_description = str(net.recurrent_matrix_description)
        self.time_step = net.time_step  # a continuous-time cell (ctrnn) reports per unit time
        self.time_unit = net.time_unit
        self.metadata = dict(metadata or {})

    @property
    def label(self) -> str:
        return f"ModuleSystem({type(self.net).__name__})"

    def step(self, state: Tensor, x: Tensor) -> Tensor:
        return self._net.step(state, x)

    def states(self, state: Tensor, inputs: Tensor) -> Tensor:
        """The network's own sequence path (``net.sequence``: torch's fused kernels)."""
        return self._net.sequence(inputs, state)

    def tangent_step(self, state, x, tangents):
        if self.analytic_tangent:
            return self._net.tangent_step(state, x, tangents)
        return super().tangent_step(state, x, tangents)

    def jacobian(self, state: Tensor, x: Tensor) -> Tensor:
        if self.analytic_tangent:
            return self._net.jacobian(state, x)
        return super().jacobian(state, x)

    def readout(self, state: Tensor) -> Tensor:
        if not self.has_readout:
            return super().readout(state)
        return self._net.readout(state)

    def recurrent_matrix(self) -> Tensor | None:
        if not self.has_recurrent_matrix:
            return None
        matrix = self._net.recurrent_matrix()
        return matrix.detach() if self.live and matrix is not None else matrix

    def gate_matrices(self) -> dict[str, Tensor]:
        return {k: v.detach() for k, v in self._net.gate_matrices().items()}

    def to(self, *, dtype=None, device=None):
        p = self._reference_tensor()
        if (dtype is None or dtype == p.dtype) and (device is None or torch.device(device) == p.device):
            return self
        net = copy.deepcopy(self.net).to(dtype=dtype or p.dtype, device=device or p.device)
        return ModuleSystem(net.requires_grad_(False), self.metadata)  # the copy is ours

    def _reference_tensor(self):
        for p in self._net.parameters():
            return p
        for b in self._net.buffers():
            return b
        return super()._reference_tensor()


def frozen_view(net: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``net`` in eval mode whose parameters are gradient-free aliases of ``net``'s
    (same storage) and whose buffers are ``net``'s own: nothing is copied but the structure."""
    memo = {id(p): torch.nn.Parameter(p.detach(), requires_grad=False) for p in net.parameters()}
    memo.update({id(b): b for b in net.buffers()})
    return copy.deepcopy(net, memo).eval()
