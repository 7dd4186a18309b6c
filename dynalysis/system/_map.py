"""`MapSystem`: a hand-written batched torch function as a step map."""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Callable

import torch
from torch import Tensor

from ..errors import DynalysisError, OptionError, StepMapError, first_line
from ._base import System

__all__ = ["MapSystem"]


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


class MapSystem(System):
    """Wrap any batched torch callable ``step_fn(state, x) -> state`` as a step map.

    Parameters
    ----------
    step_fn : callable
        ``(batch, state_size), (batch, input_size) -> (batch, state_size)``, written with
        out-of-place torch operations so that it can be differentiated (numpy, ``.item()``
        or ``.detach()`` inside break the Jacobian; analyses then raise
        `dynalysis.StepMapError`). Rows of the batch are independent trajectories.
    state_size : int
    input_size : int, default 0
        Zero for autonomous maps; analyses then take inputs of shape ``(trajectory, time, 0)``.
    readout : callable, optional
        ``(batch, state_size) -> (batch, output_size)``.
    output_size : int, optional
        Width of ``readout``'s output (probed with a zero state when omitted).
    initial_state : callable, optional
        ``batch -> (batch, state_size)``; zeros by default.
    parameters : mapping of str to tensor or array, optional
        The tensors the map computes with. MapSystem converts them in `to` (an analysis'
        ``dtype`` and ``device``), which it cannot do for tensors a closure captured. When
        given, ``step_fn``, ``readout`` and a callable ``recurrent_matrix`` receive the
        converted mapping as their last argument: ``step_fn(state, x, parameters)``.
    recurrent_matrix : tensor, array or callable, optional
        The map's recurrent matrix ``(state_size, state_size)`` (e.g. ``W`` of
        ``h ← tanh(W h + U x)``), so that `dynalysis.nonnormality` and the Jacobian plots
        work; a callable returns it (``recurrent_matrix()`` or
        ``recurrent_matrix(parameters)``). A tensor is converted by `to` too.
    recurrent_matrix_description : str, optional
        What that matrix is, in words (recorded with results and used in plot labels).
    name : str, optional
        Recorded in results' provenance and used in error messages.

    Notes
    -----
    The map computes in the dtype and device of its ``parameters`` (float64 on the CPU
    without any). `to` converts the parameters and then runs ``step_fn`` once on a state of
    the requested dtype and device: a map that cannot run there (a closure over float32
    tensors asked for float64, say) raises `dynalysis.OptionError` at once, naming the fix,
    instead of failing deep inside an analysis.

    Examples
    --------
    >>> import torch, dynalysis
    >>> henon = dynalysis.MapSystem(
    ...     lambda h, x: torch.stack([1 - 1.4 * h[:, 0] ** 2 + h[:, 1], 0.3 * h[:, 0]], 1), 2)
    >>> henon.step(torch.zeros(1, 2, dtype=torch.float64), torch.zeros(1, 0)).tolist()
    [[1.0, 0.0]]

    Parameters that follow the analysis' dtype, and a declared recurrent matrix:

    >>> W = 0.5 * torch.eye(3, dtype=torch.float32)
    >>> rnn = dynalysis.MapSystem(lambda h, x, p: torch.tanh(h @ p["W"].T), 3,
    ...                           parameters={"W": W}, recurrent_matrix=lambda p: p["W"])
    >>> rnn64 = rnn.to(dtype=torch.float64)
    >>> rnn64.recurrent_matrix().dtype, rnn64.has_recurrent_matrix
    (torch.float64, True)
    """

    def __init__(self, step_fn: Callable[..., Tensor], state_size: int, input_size: int = 0,
                 readout: Callable[..., Tensor] | None = None, *, output_size: int | None = None,
                 initial_state: Callable[[int], Tensor] | None = None,
                 parameters: Mapping[str, object] | None = None,
                 recurrent_matrix=None, recurrent_matrix_description: str | None = None,
                 name: str | None = None):
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
        self._parameters = None if parameters is None else _as_parameters(parameters)
        self._recurrent = _as_recurrent(recurrent_matrix, self.state_size)
        self._dtype, self._device = _home(self._parameters, self._recurrent)
        self._runs_here = False  # set once `to` has seen step_fn run in _dtype on _device
        self.has_recurrent_matrix = recurrent_matrix is not None
        if self.has_recurrent_matrix:
            self.recurrent_matrix_description = (recurrent_matrix_description
                                                 or "recurrent matrix given to MapSystem")
        self.metadata = {"system": "MapSystem", "name": name or getattr(step_fn, "__name__", "step_fn"),
                         "state_size": self.state_size, "input_size": self.input_size}
        if readout is not None and output_size is None:
            output_size = self.readout(self.initial_state(1)).shape[-1]
        self.output_size = int(output_size or 0) if readout is not None else 0

    @property
    def label(self) -> str:
        return f"MapSystem {self.metadata['name']!r}"

    @property
    def parameters(self) -> dict[str, Tensor]:
        """The map's parameters in its current dtype and device (empty if none were given)."""
        return dict(self._parameters or {})

    def _call(self, fn, *args):
        return fn(*args) if self._parameters is None else fn(*args, self._parameters)

    def step(self, state: Tensor, x: Tensor) -> Tensor:
        return self._call(self._step_fn, state, x)

    def readout(self, state: Tensor) -> Tensor:
        if self._readout_fn is None:
            return super().readout(state)
        return self._call(self._readout_fn, state)

    def initial_state(self, batch: int, *, dtype=None, device=None) -> Tensor:
        if self._initial_state_fn is None:
            return super().initial_state(batch, dtype=dtype, device=device)
        h = self._initial_state_fn(batch)
        return h.to(dtype=dtype or self._dtype, device=device or self._device)

    def recurrent_matrix(self) -> Tensor | None:
        if self._recurrent is None:
            return None
        if isinstance(self._recurrent, Tensor):
            return self._recurrent
        return self._call(self._recurrent)

    def to(self, *, dtype: torch.dtype | None = None, device=None) -> "MapSystem":
        """A copy with the parameters (and a tensor ``recurrent_matrix``) in ``dtype`` on
        ``device``, after checking that ``step_fn`` runs there.

        Raises
        ------
        OptionError
            If ``step_fn`` fails on a state of that dtype and device, or returns another
            dtype or device (it closes over tensors that cannot be converted).
        """
        dtype = self._dtype if dtype is None else dtype
        device = self._device if device is None else torch.device(device)
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        if dtype == self._dtype and device == self._device:
            new = self
        else:
            new = copy.copy(self)

            def move(t: Tensor) -> Tensor:
                return t.to(dtype=dtype if t.is_floating_point() else t.dtype, device=device)

            new._parameters = None if self._parameters is None else {
                k: move(v) for k, v in self._parameters.items()}
            if isinstance(self._recurrent, Tensor):
                new._recurrent = move(self._recurrent)
            new._dtype, new._device, new._runs_here = dtype, device, False
            new._state_dependence_checked = False
        if not new._runs_here:
            new._check_runs_here()
        return new

    def _check_runs_here(self) -> None:
        dtype, device, S = self._dtype, self._device, self.state_size
        where = f"a {_dtype_name(dtype)} state on {device}"
        fix = (f"build the tensors step_fn uses in {_dtype_name(dtype)} on {device}, or pass them "
               "as MapSystem(..., parameters={...}) so that MapSystem converts them (a closure's "
               "tensors cannot be converted)")
        h = self.initial_state(1)
        x = torch.zeros(1, self.input_size, dtype=dtype, device=device)
        with torch.no_grad():
            try:
                out = self.step(h, x)
            except Exception as error:  # the map's own failure, reported with the fix
                raise OptionError(f"{self.label} cannot run in {_dtype_name(dtype)}: step_fn fails "
                                  f"on {where} ({first_line(error)}); {fix}") from error
        if not isinstance(out, Tensor) or out.shape != (1, S):
            got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise StepMapError(f"{self.label}: step_fn must return a tensor of shape (batch, {S}); "
                               f"for a state of shape (1, {S}) it returned {got}")
        if out.dtype != dtype or out.device != device:
            raise OptionError(f"{self.label} cannot run in {_dtype_name(dtype)}: step_fn returns "
                              f"{_dtype_name(out.dtype)} on {out.device} for {where}; {fix}")
        self._runs_here = True

    def _reference_tensor(self) -> Tensor:
        return torch.empty(0, dtype=self._dtype, device=self._device)


def _as_parameters(parameters) -> dict[str, Tensor]:
    if not isinstance(parameters, Mapping) or not all(isinstance(k, str) for k in parameters):
        raise OptionError(f"parameters must be a mapping of names to tensors, got "
                          f"{type(parameters).__name__}")
    return {k: torch.as_tensor(v).detach() for k, v in parameters.items()}


def _as_recurrent(matrix, n: int):
    if matrix is None or callable(matrix):
        return matrix
    W = torch.as_tensor(matrix).detach()
    if W.shape != (n, n):
        raise OptionError(f"recurrent_matrix must be a (state_size, state_size) = ({n}, {n}) "
                          f"matrix or a callable returning one, got shape {tuple(W.shape)}")
    return W


def _home(parameters, recurrent) -> tuple[torch.dtype, torch.device]:
    """Dtype and device the map computes in: its first floating tensor's, else float64/CPU."""
    tensors = list((parameters or {}).values()) + ([recurrent] if isinstance(recurrent, Tensor) else [])
    for t in tensors:
        if t.is_floating_point():
            return t.dtype, t.device
    return torch.float64, (tensors[0].device if tensors else torch.device("cpu"))
