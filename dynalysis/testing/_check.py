"""`check_system`: the step-map contract every analysis relies on, as one runnable check."""
from __future__ import annotations

import json

import torch
from torch import Tensor

from ..errors import OptionError, StepMapError, first_line
from ..system import System, jacobian_reverse

__all__ = ["check_system"]

# default (atol, rtol) per dtype; the finite-difference check sets the scale
_TOLERANCES = {torch.float64: (1e-6, 1e-5), torch.float32: (2e-3, 2e-3)}
_FLOAT32_ROUND_TRIP = (1e-3, 1e-3)  # float32 vs float64 copies of one system, one step


class _Checker:
    """Runs the checks of `check_system`; every failure names the property."""

    def __init__(self, system: System, atol: float, rtol: float):
        self.label = system.label if isinstance(system, System) else type(system).__name__
        self.atol, self.rtol = atol, rtol

    def fail(self, prop: str, message: str, cause: BaseException | None = None):
        error = AssertionError(f"check_system({self.label}): {prop}: {message}")
        raise error from cause

    def call(self, prop: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AssertionError:
            raise
        except Exception as error:
            self.fail(prop, f"raised {type(error).__name__}: {first_line(error, 1000)}", error)

    def tensor(self, prop: str, value, shape: tuple, dtype: torch.dtype, device: torch.device):
        if not isinstance(value, Tensor):
            self.fail(prop, f"returned {type(value).__name__}, not a tensor")
        if tuple(value.shape) != shape:
            self.fail(prop, f"returned shape {tuple(value.shape)}, expected {shape}")
        if value.dtype != dtype:
            self.fail(prop, f"returned {value.dtype}, expected {dtype}")
        if value.device != device:
            self.fail(prop, f"returned a tensor on {value.device}, expected {device}")

    def close(self, prop: str, got: Tensor, expected: Tensor, what: str, tol=None):
        atol, rtol = tol or (self.atol, self.rtol)
        err = (got - expected).abs()
        bound = atol + rtol * expected.abs()
        if not bool(torch.all(err <= bound)):  # NaN fails too
            worst = float(torch.nan_to_num(err - bound, nan=float("inf")).max())
            self.fail(prop, f"{what} (max |difference| {float(err.max()):.3g}, "
                            f"exceeds atol + rtol·|expected| by {worst:.3g})")


def check_system(system: System, *, batch: int = 3, dtype: torch.dtype = torch.float64,
                 device=None, atol: float | None = None, rtol: float | None = None,
                 state: Tensor | None = None, x: Tensor | None = None, seed: int = 0) -> None:
    """Check that ``system`` keeps the step-map contract every analysis relies on.

    Like scikit-learn's ``check_estimator`` (and DynamicalSystemsBase's test function): run
    it on your own `dynalysis.System` before analysing it. The first property that fails
    raises an `AssertionError` whose message names it.

    Checked, at random states ``0.5·N(0, 1)`` and inputs ``N(0, 1)`` (or the ``state`` and
    ``x`` given):

    - **attributes**: ``state_size >= 1``, ``input_size >= 0``, ``output_size >= 0``
      (ints), JSON-serialisable ``metadata``, ``time_step``/``time_unit``;
    - **step**: ``(batch, S), (batch, d) -> (batch, S)`` in the input's dtype and device;
      deterministic;
    - **to**: ``system.to(dtype=..., device=...)`` computes in that dtype on that device
      (`step`, `initial_state`); converting to the other float dtype either works (and
      agrees to float32 accuracy) or is refused with a one-line `dynalysis.OptionError`;
    - **initial_state**: shape, dtype and device;
    - **batch independence**: row ``b`` of a batched `step`, `tangent_step` and `readout`
      equals the call on row ``b`` alone;
    - **states**: `states` over a few steps equals `step` applied as often;
    - **tangent_step**: shapes, ``next_state`` equal to `step`, ``J·Q`` equal to a central
      finite difference of `step` (and to autograd of `step` where
      ``analytic_tangent`` is declared);
    - **jacobian**: shape ``(batch, S, S)`` and ``J Q`` equal to `tangent_step`;
    - **readout**: ``(batch, output_size)`` where ``has_readout``, an error otherwise;
    - **recurrent_matrix**: an ``(S, S)`` matrix with a description exactly where
      ``has_recurrent_matrix`` is declared; `gate_matrices` square blocks.

    Parameters
    ----------
    system : System
    batch : int, default 3
    dtype : torch.dtype, default torch.float64
        Dtype of the checks (analyses run in float64).
    device : str or torch.device, optional
        Device of the checks (the system's own by default).
    atol, rtol : float, optional
        Tolerances of every comparison; default ``1e-6, 1e-5`` in float64 and
        ``2e-3, 2e-3`` in float32 (set by the finite-difference check).
    state, x : Tensor, optional
        States ``(batch, state_size)`` and inputs ``(batch, input_size)`` to check at, for
        maps defined on part of the state space only.
    seed : int, default 0
        Seed of the random states, inputs and tangent vectors.

    Raises
    ------
    AssertionError
        Naming the first property that fails.

    Examples
    --------
    >>> import torch, dynalysis
    >>> from dynalysis.testing import check_system, henon
    >>> check_system(henon())
    >>> mixing = dynalysis.MapSystem(lambda h, x: torch.tanh(h + h.mean(0)), 2, name="mixing")
    >>> check_system(mixing)
    Traceback (most recent call last):
    ...
    AssertionError: check_system(MapSystem 'mixing'): batch independence: row b of a batched step differs from step on row b alone (max |difference| ...)
    """
    atol0, rtol0 = _TOLERANCES.get(dtype, _TOLERANCES[torch.float32])
    c = _Checker(system, atol0 if atol is None else atol, rtol0 if rtol is None else rtol)
    if not isinstance(system, System):
        c.fail("type", f"{type(system).__name__} is not a dynalysis.System")
    if dtype not in _TOLERANCES:
        raise OptionError(f"invalid dtype={dtype}; allowed values: torch.float64, torch.float32")
    S, d, O = _check_attributes(c, system)
    with torch.no_grad():
        sys_ = c.call(f"to(dtype={dtype})", system.to, dtype=dtype, device=device)
        h0 = c.call("initial_state", sys_.initial_state, batch)
        dev = h0.device if device is None else torch.device(device)
        if dev.type == "cuda" and dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
        converted = f"to(dtype={dtype}, device={dev})"
        c.tensor(f"{converted} then initial_state", h0, (batch, S), dtype, dev)
        c.tensor("initial_state", sys_.initial_state(batch, dtype=dtype, device=dev), (batch, S),
                 dtype, dev)
        h, x = _points(c, batch, S, d, dtype, dev, seed, state, x)
        try:
            nxt = sys_.step(h, x)
        except Exception as error:  # the step's own bug, or a conversion that did not happen?
            _check_native_step(c, system, batch, S, d, seed)
            c.fail(converted, f"step fails on a {dtype} state on {dev} although it runs in the "
                              f"system's own dtype ({type(error).__name__}: {first_line(error, 1000)})",
                   error)
        if isinstance(nxt, Tensor) and (nxt.dtype, nxt.device) != (dtype, dev):
            c.fail(converted, f"did not convert: step returns {nxt.dtype} on {nxt.device} for a "
                              f"{dtype} state on {dev}")
        c.tensor("step", nxt, (batch, S), dtype, dev)
        if not bool(torch.isfinite(nxt).all()):
            c.fail("step", "returned NaN or inf at the checked states; pass state= (and x=) "
                           "inside the map's domain")
        c.close("step", c.call("step", sys_.step, h, x), nxt,
                "two calls on the same state differ (randomness, dropout in training mode?)")
        _check_batch_independence(c, sys_, h, x, nxt)
        _check_states(c, sys_, h, x, seed)
        _check_readout(c, sys_, h, O, dtype, dev)
        _check_tangents(c, sys_, h, x, nxt, seed)
        _check_matrices(c, sys_, S)
        _check_round_trip(c, system, h, x, nxt, dtype, dev)


def _check_attributes(c: _Checker, system: System) -> tuple[int, int, int]:
    sizes = {}
    for name, minimum in (("state_size", 1), ("input_size", 0), ("output_size", 0)):
        value = getattr(system, name, None)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            c.fail("attributes", f"{name} must be an int >= {minimum}, got {value!r}")
        sizes[name] = value
    if not isinstance(system.metadata, dict):
        c.fail("attributes", f"metadata must be a dict, got {type(system.metadata).__name__}")
    try:
        json.dumps(system.metadata)
    except (TypeError, ValueError) as error:
        c.fail("attributes", f"metadata is not JSON-serialisable ({first_line(error, 1000)})", error)
    if system.time_step is not None and not system.time_step > 0:
        c.fail("attributes", f"time_step must be None (a map) or > 0, got {system.time_step!r}")
    if not isinstance(system.time_unit, str) or not system.time_unit:
        c.fail("attributes", f"time_unit must be a non-empty string, got {system.time_unit!r}")
    if system.has_readout != (system.output_size > 0):
        c.fail("readout", f"has_readout is {system.has_readout} but output_size is "
                          f"{system.output_size}")
    return sizes["state_size"], sizes["input_size"], sizes["output_size"]


def _check_native_step(c: _Checker, system: System, batch: int, S: int, d: int, seed: int):
    """`step` in the system's own dtype and device, before any conversion."""
    ref = c.call("initial_state", system.initial_state, batch)
    if not isinstance(ref, Tensor):
        c.fail("initial_state", f"returned {type(ref).__name__}, not a tensor")
    g = torch.Generator().manual_seed(seed)
    h = (0.5 * torch.randn(batch, S, generator=g, dtype=torch.float64)).to(dtype=ref.dtype, device=ref.device)
    x = torch.randn(batch, d, generator=g, dtype=torch.float64).to(dtype=ref.dtype, device=ref.device)
    c.tensor("step", c.call("step", system.step, h, x), (batch, S), ref.dtype, ref.device)


def _points(c: _Checker, batch, S, d, dtype, dev, seed, state, x):
    g = torch.Generator().manual_seed(seed)
    h = 0.5 * torch.randn(batch, S, generator=g, dtype=torch.float64)
    u = torch.randn(batch, d, generator=g, dtype=torch.float64)
    h = h if state is None else torch.as_tensor(state, dtype=torch.float64)
    u = u if x is None else torch.as_tensor(x, dtype=torch.float64)
    if tuple(h.shape) != (batch, S) or tuple(u.shape) != (batch, d):
        raise OptionError(f"state and x must have shapes ({batch}, {S}) and ({batch}, {d}), got "
                          f"{tuple(h.shape)} and {tuple(u.shape)}")
    return h.to(dtype=dtype, device=dev), u.to(dtype=dtype, device=dev)


def _rows_alone(fn, *args: Tensor) -> Tensor:
    return torch.cat([fn(*(a[b:b + 1] for a in args)) for b in range(args[0].shape[0])])


def _check_batch_independence(c: _Checker, sys_: System, h: Tensor, x: Tensor, nxt: Tensor):
    alone = c.call("batch independence", _rows_alone, sys_.step, h, x)
    c.close("batch independence", nxt, alone,
            "row b of a batched step differs from step on row b alone")


def _check_states(c: _Checker, sys_: System, h: Tensor, x: Tensor, seed: int, steps: int = 4):
    """`System.states` over a few steps equals `step` applied that many times."""
    g = torch.Generator().manual_seed(seed + 2)
    noise = torch.randn(h.shape[0], steps, x.shape[1], generator=g, dtype=torch.float64)
    xs = x.unsqueeze(1) + 0.1 * noise.to(dtype=x.dtype, device=x.device)
    states = c.call("states", sys_.states, h, xs)
    c.tensor("states", states, (h.shape[0], steps, h.shape[1]), h.dtype, h.device)
    expected, state = [], h
    for t in range(steps):
        state = sys_.step(state, xs[:, t])
        expected.append(state)
    expected = torch.stack(expected, 1)
    finite = torch.isfinite(expected)  # a map defined on part of the space may leave it
    if not bool((torch.isfinite(states) == finite).all()):
        c.fail("states", f"states over {steps} steps is not finite where step applied {steps} times is, or "
                         "the other way round")
    c.close("states", torch.where(finite, states, 0.0), torch.where(finite, expected, 0.0),
            f"states over {steps} steps differs from step applied {steps} times")


def _check_readout(c: _Checker, sys_: System, h: Tensor, O: int, dtype, dev):
    if not sys_.has_readout:
        try:
            out = sys_.readout(h)
        except Exception:  # no readout, as declared
            return
        c.fail("readout", f"readout returns {type(out).__name__} but output_size is 0: declare "
                          "output_size (has_readout)")
    y = c.call("readout", sys_.readout, h)
    c.tensor("readout", y, (h.shape[0], O), dtype, dev)
    c.close("batch independence", y, c.call("readout", _rows_alone, sys_.readout, h),
            "row b of a batched readout differs from readout on row b alone")


def _check_tangents(c: _Checker, sys_: System, h: Tensor, x: Tensor, nxt: Tensor, seed: int):
    B, S = h.shape
    k = min(S, 3)
    g = torch.Generator().manual_seed(seed + 1)
    Q = torch.randn(B, S, k, generator=g, dtype=torch.float64).to(dtype=h.dtype, device=h.device)
    Q = Q / torch.linalg.vector_norm(Q, dim=1, keepdim=True)  # unit columns: one FD step size
    out = c.call("tangent_step", sys_.tangent_step, h, x, Q)
    if not isinstance(out, tuple) or len(out) != 2:
        c.fail("tangent_step", f"must return (next_state, JQ), got {type(out).__name__}")
    h1, JQ = out
    c.tensor("tangent_step", h1, (B, S), h.dtype, h.device)
    c.tensor("tangent_step", JQ, (B, S, k), h.dtype, h.device)
    c.close("tangent_step", h1, nxt, "next_state differs from step")
    alone = c.call("batch independence", _rows_alone,
                   lambda *a: sys_.tangent_step(*a)[1], h, x, Q)
    c.close("batch independence", JQ, alone,
            "row b of a batched tangent_step differs from tangent_step on row b alone")
    if sys_.analytic_tangent:
        try:
            J_auto = jacobian_reverse(sys_.step, h, x, label=sys_.label)[1]
        except StepMapError:  # step is not differentiable by torch: the finite difference decides
            J_auto = None
        if J_auto is not None:
            c.close("tangent_step", JQ, J_auto @ Q,
                    "the analytic tangent_step (analytic_tangent = True) differs from automatic "
                    "differentiation of step")
    delta = torch.finfo(h.dtype).eps ** (1 / 3)
    hk = h.unsqueeze(1) + delta * Q.transpose(1, 2)  # (B, k, S)
    xk = x.repeat_interleave(k, 0)
    plus = c.call("step", sys_.step, hk.reshape(B * k, S), xk)
    minus = c.call("step", sys_.step, (hk - 2 * delta * Q.transpose(1, 2)).reshape(B * k, S), xk)
    fd = ((plus - minus) / (2 * delta)).reshape(B, k, S).transpose(1, 2)
    c.close("tangent_step", JQ, fd, "J·Q differs from a central finite difference of step")
    J = c.call("jacobian", sys_.jacobian, h, x)
    c.tensor("jacobian", J, (B, S, S), h.dtype, h.device)
    c.close("jacobian", J @ Q, JQ, "jacobian(h, x) @ Q differs from tangent_step's J·Q")


def _check_matrices(c: _Checker, sys_: System, S: int):
    W = c.call("recurrent_matrix", sys_.recurrent_matrix)
    if sys_.has_recurrent_matrix:
        if not isinstance(W, Tensor) or tuple(W.shape) != (S, S):
            got = tuple(W.shape) if isinstance(W, Tensor) else type(W).__name__
            c.fail("recurrent_matrix", f"has_recurrent_matrix is True but recurrent_matrix() "
                                       f"returned {got}, not a ({S}, {S}) tensor")
        if not bool(torch.isfinite(W).all()):
            c.fail("recurrent_matrix", "contains NaN or inf")
        if not isinstance(sys_.recurrent_matrix_description, str) or not sys_.recurrent_matrix_description:
            c.fail("recurrent_matrix", "has_recurrent_matrix is True but "
                                       "recurrent_matrix_description is empty")
    elif W is not None:
        c.fail("recurrent_matrix", "recurrent_matrix() returns a matrix but has_recurrent_matrix "
                                   "is False")
    blocks = c.call("gate_matrices", sys_.gate_matrices)
    if not isinstance(blocks, dict):
        c.fail("gate_matrices", f"must return a dict, got {type(blocks).__name__}")
    for name, M in blocks.items():
        if not isinstance(M, Tensor) or M.ndim != 2 or M.shape[0] != M.shape[1]:
            c.fail("gate_matrices", f"block {name!r} is not a square matrix")


def _check_round_trip(c: _Checker, system: System, h, x, nxt, dtype, dev):
    """The other float dtype: converted (and agreeing to float32 accuracy) or refused in one line."""
    other = torch.float32 if dtype == torch.float64 else torch.float64
    prop = f"to(dtype={other})"
    try:
        s2 = system.to(dtype=other, device=dev)
    except OptionError as error:
        if "\n" in str(error).strip():
            c.fail(prop, "a refusal must be a one-line OptionError", error)
        return
    except Exception as error:
        c.fail(prop, f"raised {type(error).__name__} ({first_line(error, 1000)}); convert, or refuse "
                     "with a one-line OptionError", error)
    out = c.call(prop, s2.step, h.to(other), x.to(other))
    c.tensor(f"{prop} then step", out, tuple(nxt.shape), other, dev)
    c.tensor(f"{prop} then initial_state", s2.initial_state(h.shape[0]), tuple(h.shape), other, dev)
    c.close(prop, out.to(dtype), nxt, "the converted system's step differs from the original's "
            "beyond float32 accuracy", tol=_FLOAT32_ROUND_TRIP)
    back = c.call(f"{prop}.to(dtype={dtype})", s2.to, dtype=dtype, device=dev)
    c.close(f"{prop}.to(dtype={dtype})", c.call("step", back.step, h, x), nxt,
            "converting there and back changes step beyond float32 accuracy",
            tol=_FLOAT32_ROUND_TRIP)
