"""The step map: the one contract between trained networks and every analysis.

A step map is a batched discrete-time system ``h_t = F(h_{t-1}, x_t)`` with
``state (batch, state_size)`` and ``x (batch, input_size)``. Analyses need only
`System.step`; they use `System.tangent_step` (J·Q products) and `System.jacobian` when
available, which default to automatic differentiation of `step`.

What a system can do beyond `step` is declared, not probed: `System.analytic_tangent`,
`System.has_readout`, `System.has_recurrent_matrix` (with
`System.recurrent_matrix_description`). `dynalysis.testing.check_system` checks that a
system keeps the contract and that its declarations match its behaviour.

Convention (docs/science.md): ``J[i, j] = ∂h_t[i] / ∂h_{t-1}[j]`` (row = output unit).
"""
from __future__ import annotations

import abc
import contextlib
import contextvars
import warnings
from typing import Callable, Iterator

import torch
from torch import Tensor

from ..errors import DynalysisError, StepMapError

__all__ = ["System", "jacobian_reverse", "differentiable_tangents"]

_REVERSE_MODE_MAX_STATE = 64  # default J·Q: reverse-mode full J up to this size, JVPs beyond

_NOT_TORCH = ("{label}: step_fn's output does not depend on the state through torch operations "
              "(numpy or .detach() inside?); write it with torch ops")
# what torch says when a step leaves torch for numpy under autograd / forward-mode AD
_NUMPY_SIGNS = ("numpy()", "doesn't have storage")


def _not_torch(label: str, cause: BaseException | None = None) -> StepMapError:
    error = StepMapError(_NOT_TORCH.format(label=label))
    error.__cause__ = cause
    return error


def _step_in_torch(step, h: Tensor, x: Tensor, label: str) -> Tensor:
    """``step(h, x)``, with torch's complaint about numpy inside a differentiated step turned
    into the `StepMapError` that says what to do."""
    try:
        return step(h, x)
    except RuntimeError as error:
        if any(sign in str(error) for sign in _NUMPY_SIGNS):
            raise _not_torch(label, error) from error
        raise


def jacobian_reverse(step: Callable[[Tensor, Tensor], Tensor], state: Tensor, x: Tensor, *,
                     label: str = "step") -> tuple[Tensor, Tensor]:
    """``step(state, x)`` and its state Jacobian ``(B, S, S)`` from one reverse-mode pass.

    Row ``i`` of ``J_b`` is the vector-Jacobian product ``e_iᵀ J_b``; all ``B·S`` of them come
    from one backward pass through ``step`` on the state repeated ``S`` times (batch
    ``B·S``), seeded with the tiled identity. Needs independent batch rows.

    Raises `dynalysis.StepMapError` when the output does not depend on the state through
    torch operations (numpy or ``.detach()`` inside the step): its Jacobian would silently be
    zero, giving exponents of −∞. A map that truly ignores its state is not a step map any
    analysis is for. ``label`` names the map in that message.

    >>> import torch
    >>> nxt, J = jacobian_reverse(lambda h, x: torch.stack([h[:, 0] * h[:, 1], 2 * h[:, 0]], 1),
    ...                           torch.tensor([[3.0, 5.0]]), torch.zeros(1, 0))
    >>> J.tolist()
    [[[5.0, 3.0], [2.0, 0.0]]]
    """
    B, S = state.shape
    with torch.enable_grad():
        h = state.detach().repeat_interleave(S, 0).requires_grad_(True)
        out = _step_in_torch(step, h, x.repeat_interleave(S, 0), label)
        if not out.requires_grad:
            raise _not_torch(label)
        seed = torch.eye(S, dtype=out.dtype, device=out.device).repeat(B, 1)
        (grad,) = torch.autograd.grad(out, h, seed, allow_unused=True)
    if grad is None:  # the output needs gradients, but not through the state (e.g. weights)
        raise _not_torch(label)
    return out.detach().reshape(B, S, S)[:, 0], grad.reshape(B, S, S)


def _depends_on_state(step, state: Tensor, x: Tensor, label: str) -> bool:
    """Whether one row of ``step(state, x)`` reaches the state through torch operations."""
    with torch.enable_grad():
        h = state[:1].detach().requires_grad_(True)
        out = _step_in_torch(step, h, x[:1], label)
        if not out.requires_grad:
            return False
        (grad,) = torch.autograd.grad(out.sum(), h, allow_unused=True)
    return grad is not None


_DIFFERENTIABLE = contextvars.ContextVar("dynalysis_differentiable_tangents", default=False)


@contextlib.contextmanager
def differentiable_tangents() -> Iterator[None]:
    """Inside this context the default `System.tangent_step` keeps the autograd graph to the
    state and to every tensor the step reads (forward-mode JVPs for every state size), so
    ``J·Q`` can be backpropagated; `dynalysis.lyapunov_exponents` runs in it. Outside, the
    small-state default is a detached reverse-mode Jacobian (faster, no graph)."""
    token = _DIFFERENTIABLE.set(True)
    try:
        yield
    finally:
        _DIFFERENTIABLE.reset(token)


def _jvp_columns(step, state: Tensor, x: Tensor, tangents: Tensor) -> tuple[Tensor, Tensor]:
    """``(step(state, x), J·tangents)``: forward-mode JVPs of all columns in one vmap call.

    A fused cuDNN kernel (an ``nn.LSTM`` inside a user's step, on a GPU) has no forward-mode
    derivative; then the columns are pushed through torch's unfused kernels instead (cuDNN
    switched off for this call), with a `RuntimeWarning` that says so."""

    def column(v):
        return torch.func.jvp(lambda h: step(h, x), (state,), (v,))

    try:
        return torch.func.vmap(column, in_dims=2, out_dims=(None, 2))(tangents)
    except RuntimeError as error:  # torch reports missing forward-mode rules as RuntimeErrors
        text = str(error)
        if not (torch.backends.cudnn.enabled and "forward AD" in text and "cudnn" in text.lower()):
            raise
    warnings.warn("J·Q by forward-mode AD: a cuDNN kernel in the step has no forward-mode derivative "
                  "(cuDNN does not implement it); running the step's unfused torch kernels instead "
                  "(cuDNN off for these calls; slower, same result)", RuntimeWarning, stacklevel=4)
    with torch.backends.cudnn.flags(enabled=False):
        return torch.func.vmap(column, in_dims=2, out_dims=(None, 2))(tangents)


class System(abc.ABC):
    """Abstract step map.

    Subclasses set ``state_size`` and ``input_size`` and implement `step`. They may override
    `tangent_step` with an analytic J·Q product (then set ``analytic_tangent = True``),
    `readout` (with ``output_size > 0``), `recurrent_matrix` (with
    ``has_recurrent_matrix = True`` and a ``recurrent_matrix_description``),
    `gate_matrices` and `to`.

    Attributes
    ----------
    state_size : int
        Dimension ``S`` of the state ``h``.
    input_size : int
        Dimension ``d`` of the input ``x`` (0 for autonomous maps).
    output_size : int
        Width of `readout` (0: no readout).
    metadata : dict
        JSON-serialisable description (model class, hyper-parameters, checkpoint path) that
        analyses copy into the provenance attributes of their results.
    analytic_tangent : bool
        `tangent_step` is a hand-written J·Q product, not automatic differentiation.
    has_recurrent_matrix : bool
        `recurrent_matrix` returns an ``(S, S)`` matrix (else None).
    recurrent_matrix_description : str
        What `recurrent_matrix` is, in words, for results and plot labels.
    time_step, time_unit
        ``None`` and ``"step"`` for a discrete-time map; the integration step ``dt`` and its
        unit for a flow (results then report rates per unit time).
    """

    state_size: int
    input_size: int
    output_size: int = 0
    metadata: dict
    analytic_tangent: bool = False
    has_recurrent_matrix: bool = False
    recurrent_matrix_description: str = ""
    #: None for a discrete-time map; the integration step ``dt`` of a flow (results then report
    #: rates per unit time, see `dynalysis._core.result`)
    time_step: float | None = None
    #: unit of time of the results: "step" for maps, e.g. "time" or "ms" for flows
    time_unit: str = "step"
    _state_dependence_checked: bool = False

    @abc.abstractmethod
    def step(self, state: Tensor, x: Tensor) -> Tensor:
        """Advance one step: ``(batch, state_size), (batch, input_size) -> (batch, state_size)``."""

    @property
    def has_readout(self) -> bool:
        """`readout` maps states to ``output_size > 0`` outputs."""
        return self.output_size > 0

    @property
    def label(self) -> str:
        """How error messages name this system."""
        return type(self).__name__

    def readout(self, state: Tensor) -> Tensor:
        """Map states ``(batch, state_size)`` to outputs ``(batch, output_size)``."""
        raise DynalysisError(f"{self.label} has no readout (output_size = 0)")

    def initial_state(self, batch: int, *, dtype=None, device=None) -> Tensor:
        """Initial state ``(batch, state_size)``; zeros unless a subclass knows better."""
        p = self._reference_tensor()
        return torch.zeros(batch, self.state_size, dtype=dtype or p.dtype, device=device or p.device)

    def recurrent_matrix(self) -> Tensor | None:
        """The recurrent matrix ``(state_size, state_size)`` (see
        ``recurrent_matrix_description``), or None where ``has_recurrent_matrix`` is False."""
        return None

    def gate_matrices(self) -> dict[str, Tensor]:
        """Hidden-to-hidden blocks of a gated cell ``{gate: (N, N)}`` (empty if there are none)."""
        return {}

    def states(self, state: Tensor, inputs: Tensor) -> Tensor:
        """The states ``h_1 … h_T`` ``(batch, T, state_size)`` driven by ``inputs (batch, T,
        input_size)`` from ``state (batch, state_size)``: `step` applied ``T`` times.

        A subclass with a faster path for whole sequences (a fused kernel) overrides it; it must
        equal ``T`` calls of `step` to round-off (`dynalysis.testing.check_system` checks).
        Analyses call it on bounded chunks of time, without gradients.
        """
        out = torch.empty(inputs.shape[0], inputs.shape[1], self.state_size, dtype=state.dtype, device=state.device)
        h = state
        for t in range(inputs.shape[1]):
            h = self.step(h, inputs[:, t])
            out[:, t] = h
        return out

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

        Raises
        ------
        StepMapError
            If `step` does not depend on the state through torch operations.

        Notes
        -----
        The default differentiates `step` automatically. For ``state_size > 64`` it takes one
        forward-mode JVP per column, all columns in one `torch.func.vmap` call, so ``J`` is
        never formed (``2 S² k`` flops for a dense layer). For ``state_size <= 64`` the
        per-call overhead of torch.func (~1 ms) dominates, so it forms ``J`` by one batched
        reverse-mode pass instead (`jacobian_reverse`) and multiplies, except inside
        `differentiable_tangents`, where forward mode keeps the graph for every size. Rows of
        the batch must be independent trajectories, as the step-map contract says.
        """
        if self.state_size <= _REVERSE_MODE_MAX_STATE and not _DIFFERENTIABLE.get():
            nxt, J = jacobian_reverse(self.step, state, x, label=self.label)
            return nxt, torch.matmul(J, tangents)
        if not self._state_dependence_checked:  # forward mode would silently give J Q = 0
            if not _depends_on_state(self.step, state, x, self.label):
                raise _not_torch(self.label)
            self._state_dependence_checked = True
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
