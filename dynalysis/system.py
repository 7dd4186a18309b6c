"""The step map: the one contract between trained networks and every analysis.

A step map is a batched discrete-time system ``h_t = F(h_{t-1}, x_t)`` with
``state (batch, state_size)`` and ``x (batch, input_size)``. Analyses need only
`System.step`; they use `System.tangent_step` (J·Q products) and `System.jacobian` when
available, which default to forward-mode `torch.func` on `step`.

Convention (docs/science.md): ``J[i, j] = ∂h_t[i] / ∂h_{t-1}[j]`` (row = output unit).
"""
from __future__ import annotations

import abc
import copy
from typing import Callable

import torch
from torch import Tensor

from .errors import DynalysisError

__all__ = ["System", "MapSystem", "jacobian_reverse"]

_REVERSE_MODE_MAX_STATE = 64  # default J·Q: reverse-mode full J up to this size, JVPs beyond


def jacobian_reverse(step: Callable[[Tensor, Tensor], Tensor], state: Tensor,
                     x: Tensor) -> tuple[Tensor, Tensor]:
    """``step(state, x)`` and its state Jacobian ``(B, S, S)`` from one reverse-mode pass.

    Row ``i`` of ``J_b`` is the vector-Jacobian product ``e_iᵀ J_b``; all ``B·S`` of them come
    from one backward pass through ``step`` on the state repeated ``S`` times (batch
    ``B·S``), seeded with the tiled identity. Needs independent batch rows.

    >>> import torch
    >>> nxt, J = jacobian_reverse(lambda h, x: torch.stack([h[:, 0] * h[:, 1], 2 * h[:, 0]], 1),
    ...                           torch.tensor([[3.0, 5.0]]), torch.zeros(1, 0))
    >>> J.tolist()
    [[[5.0, 3.0], [2.0, 0.0]]]
    """
    B, S = state.shape
    with torch.enable_grad():
        h = state.detach().repeat_interleave(S, 0).requires_grad_(True)
        out = step(h, x.repeat_interleave(S, 0))
        if not out.requires_grad:  # the map does not depend on the state
            J = torch.zeros(B, S, S, dtype=state.dtype, device=state.device)
            return out.reshape(B, S, S)[:, 0], J
        seed = torch.eye(S, dtype=out.dtype, device=out.device).repeat(B, 1)
        (grad,) = torch.autograd.grad(out, h, seed, allow_unused=True, materialize_grads=True)
    return out.detach().reshape(B, S, S)[:, 0], grad.reshape(B, S, S)


def _jvp_columns(step, state: Tensor, x: Tensor, tangents: Tensor) -> tuple[Tensor, Tensor]:
    """``(step(state, x), J·tangents)``: forward-mode JVPs of all columns in one vmap call."""

    def column(v):
        return torch.func.jvp(lambda h: step(h, x), (state,), (v,))

    return torch.func.vmap(column, in_dims=2, out_dims=(None, 2))(tangents)


class System(abc.ABC):
    """Abstract step map.

    Subclasses set ``state_size`` and ``input_size`` and implement `step`. They may override
    `tangent_step` with an analytic J·Q product, `readout`, `recurrent_matrix` and `to`.

    Attributes
    ----------
    state_size : int
        Dimension ``S`` of the state ``h``.
    input_size : int
        Dimension ``d`` of the input ``x`` (0 for autonomous maps).
    metadata : dict
        JSON-serialisable description (model class, hyper-parameters, checkpoint path) that
        analyses copy into the provenance attributes of their results.
    """

    state_size: int
    input_size: int
    output_size: int = 0
    metadata: dict
    #: None for a discrete-time map; the integration step ``dt`` of a flow (results then report
    #: rates per unit time, see `dynalysis._core.result`)
    time_step: float | None = None
    #: unit of time of the results: "step" for maps, e.g. "time" or "ms" for flows
    time_unit: str = "step"

    @abc.abstractmethod
    def step(self, state: Tensor, x: Tensor) -> Tensor:
        """Advance one step: ``(batch, state_size), (batch, input_size) -> (batch, state_size)``."""

    @property
    def has_readout(self) -> bool:
        return self.output_size > 0

    def readout(self, state: Tensor) -> Tensor:  # pragma: no cover - overridden where present
        """Map states ``(batch, state_size)`` to outputs ``(batch, output_size)``."""
        raise DynalysisError(f"{type(self).__name__} has no readout")

    def initial_state(self, batch: int, *, dtype=None, device=None) -> Tensor:
        """Initial state ``(batch, state_size)``; zeros unless a subclass knows better."""
        p = self._reference_tensor()
        return torch.zeros(batch, self.state_size, dtype=dtype or p.dtype, device=device or p.device)

    def recurrent_matrix(self) -> Tensor | None:
        """The recurrent weight matrix (``state_size × state_size``), or None if there is none."""
        return None

    def gate_matrices(self) -> dict[str, Tensor]:
        """Hidden-to-hidden blocks of a gated cell ``{gate: (N, N)}`` (empty if there are none)."""
        return {}

    def tangent_step(self, state: Tensor, x: Tensor, tangents: Tensor) -> tuple[Tensor, Tensor]:
        """Advance the state and push tangent vectors through the Jacobian.

        Parameters
        ----------
        state : Tensor, shape (batch, state_size)
        x : Tensor, shape (batch, input_size)
        tangents : Tensor, shape (batch, state_size, k)
            Columns ``Q[b, :, j]`` to multiply by ``J_b``.

        Returns
        -------
        next_state : Tensor, shape (batch, state_size)
        JQ : Tensor, shape (batch, state_size, k)
            ``J_b Q_b`` with ``J_b = ∂F(h_b, x_b)/∂h_b``.

        Notes
        -----
        The default differentiates `step` automatically. For ``state_size > 64`` it takes one
        forward-mode JVP per column, all columns in one `torch.func.vmap` call, so ``J`` is
        never formed (``2 S² k`` flops for a dense layer). For ``state_size <= 64`` the
        per-call overhead of torch.func (~1 ms) dominates, so it forms ``J`` by one batched
        reverse-mode pass instead (`jacobian_reverse`) and multiplies. Rows of the batch must
        be independent trajectories, as the step-map contract says.
        """
        if self.state_size <= _REVERSE_MODE_MAX_STATE:
            nxt, J = jacobian_reverse(self.step, state, x)
            return nxt, torch.matmul(J, tangents)
        return _jvp_columns(self.step, state, x, tangents)

    def jacobian(self, state: Tensor, x: Tensor) -> Tensor:
        """Full state Jacobian ``(batch, state_size, state_size)``, ``J[b, i, j] = ∂h'_i/∂h_j``.

        ``tangent_step`` applied to the identity, so an analytic J·Q is used where a subclass
        defines one.
        """
        eye = torch.eye(self.state_size, dtype=state.dtype, device=state.device)
        return self.tangent_step(state, x, eye.expand(state.shape[0], -1, -1))[1]

    def to(self, *, dtype: torch.dtype | None = None, device=None) -> "System":
        """Return a copy whose parameters live in ``dtype``/``device`` (self if unchanged)."""
        return self

    def _reference_tensor(self) -> Tensor:
        return torch.empty(0, dtype=torch.get_default_dtype())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(state_size={self.state_size}, input_size={self.input_size})"


class MapSystem(System):
    """Wrap any batched torch callable ``step_fn(state, x) -> state`` as a step map.

    Parameters
    ----------
    step_fn : callable
        ``(batch, state_size), (batch, input_size) -> (batch, state_size)``; must be written
        with out-of-place torch operations so `torch.func` can differentiate it.
    state_size : int
    input_size : int, default 0
        Zero for autonomous maps; analyses then take inputs of shape ``(trajectory, time, 0)``.
    readout : callable, optional
        ``(batch, state_size) -> (batch, output_size)``.
    output_size : int, optional
        Width of ``readout``'s output (probed with a zero state when omitted).
    initial_state : callable, optional
        ``batch -> (batch, state_size)``; zeros by default.
    name : str, optional
        Recorded in results' provenance.

    Examples
    --------
    >>> import torch, dynalysis
    >>> henon = dynalysis.MapSystem(
    ...     lambda h, x: torch.stack([1 - 1.4 * h[:, 0] ** 2 + h[:, 1], 0.3 * h[:, 0]], 1), 2)
    >>> henon.step(torch.zeros(1, 2, dtype=torch.float64), torch.zeros(1, 0)).tolist()
    [[1.0, 0.0]]
    """

    def __init__(self, step_fn: Callable[[Tensor, Tensor], Tensor], state_size: int,
                 input_size: int = 0, readout: Callable[[Tensor], Tensor] | None = None, *,
                 output_size: int | None = None,
                 initial_state: Callable[[int], Tensor] | None = None, name: str | None = None):
        if not callable(step_fn):
            raise DynalysisError(f"step_fn must be callable, got {type(step_fn).__name__}")
        if int(state_size) < 1 or int(input_size) < 0:
            raise DynalysisError(
                f"state_size must be >= 1 and input_size >= 0, got {state_size}, {input_size}")
        self._step_fn = step_fn
        self._readout_fn = readout
        self._initial_state_fn = initial_state
        self.state_size = int(state_size)
        self.input_size = int(input_size)
        if readout is not None and output_size is None:
            probe = readout(torch.zeros(1, self.state_size, dtype=torch.float64))
            output_size = probe.shape[-1]
        self.output_size = int(output_size or 0) if readout is not None else 0
        self.metadata = {"system": "MapSystem", "name": name or getattr(step_fn, "__name__", "step_fn"),
                         "state_size": self.state_size, "input_size": self.input_size}

    def step(self, state: Tensor, x: Tensor) -> Tensor:
        return self._step_fn(state, x)

    def readout(self, state: Tensor) -> Tensor:
        if self._readout_fn is None:
            return super().readout(state)
        return self._readout_fn(state)

    def initial_state(self, batch: int, *, dtype=None, device=None) -> Tensor:
        if self._initial_state_fn is None:
            return super().initial_state(batch, dtype=dtype or torch.float64, device=device)
        h = self._initial_state_fn(batch)
        return h.to(dtype=dtype or h.dtype, device=device or h.device)


class ModuleSystem(System):
    """Step map of a `dynalysis.models.RecurrentNet` (a trained network).

    The network's own `step` and `tangent_step` are used, so analytic J·Q products defined by a
    cell (e.g. the WCRNN) are picked up automatically.
    """

    def __init__(self, net: torch.nn.Module, metadata: dict | None = None):
        self.net = net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.state_size = int(net.state_size)
        self.input_size = int(net.input_size)
        self.output_size = int(getattr(net, "output_size", 0) or 0)
        self.metadata = dict(metadata or {})

    def step(self, state: Tensor, x: Tensor) -> Tensor:
        return self.net.step(state, x)

    def tangent_step(self, state, x, tangents):
        analytic = getattr(self.net, "tangent_step", None)
        if analytic is not None:
            return analytic(state, x, tangents)
        return super().tangent_step(state, x, tangents)

    def readout(self, state: Tensor) -> Tensor:
        if not self.output_size:
            return super().readout(state)
        return self.net.readout(state)

    def initial_state(self, batch, *, dtype=None, device=None):
        p = self._reference_tensor()
        return torch.zeros(batch, self.state_size, dtype=dtype or p.dtype, device=device or p.device)

    def recurrent_matrix(self):
        fn = getattr(self.net, "recurrent_matrix", None)
        return None if fn is None else fn()

    def gate_matrices(self):
        fn = getattr(self.net, "gate_matrices", None)
        return {} if fn is None else dict(fn())

    def to(self, *, dtype=None, device=None):
        p = self._reference_tensor()
        if (dtype is None or dtype == p.dtype) and (device is None or torch.device(device) == p.device):
            return self
        net = copy.deepcopy(self.net).to(dtype=dtype or p.dtype, device=device or p.device)
        return ModuleSystem(net, self.metadata)

    def _reference_tensor(self):
        for p in self.net.parameters():
            return p
        for b in self.net.buffers():
            return b
        return super()._reference_tensor()
