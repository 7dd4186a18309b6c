"""Continuous-time systems ``dh/dt = f(h, x)`` as the step maps of their integrators.

A flow integrated with a fixed step ``dt`` by an explicit Runge–Kutta scheme *is* a step map
``Φ_dt`` (docs/science.md §6): every analysis runs on it unchanged, and differentiating the
integrator step itself gives the exact tangent of the scheme (not an approximation of the
flow's). With stages ``k_i = f(h + dt Σ_j a_ij k_j, x)`` the tangent ``Q`` follows the same
tableau through the stage Jacobians:

    K_i = ∂f(h_i, x) · (Q + dt Σ_j a_ij K_j),      Φ'(h) Q = Q + dt Σ_i b_i K_i

so a step costs one ``∂f · Q`` product per stage (`torch.func` JVPs, a batched reverse-mode
Jacobian for small states, or the user's ``f_tangent``) and never forms ``∂Φ``. The input
``x`` is held constant over each step (zero-order hold): every stage sees the same ``x_t``.

Methods (Butcher tableaus, `METHODS`): ``"euler"`` (order 1) and ``"rk4"`` (the classical
fourth-order scheme). Results are per unit time: a `FlowSystem` declares ``time_step = dt``
and ``time_unit``, and `dynalysis._core.result.build_result` divides rates (exponents) by
``dt`` and writes their units as ``1/<time_unit>``.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from .errors import DynalysisError, OptionError, first_line
from ._core.options import check_option
from .system import MapSystem, jacobian_reverse

__all__ = ["FlowSystem", "METHODS"]

# explicit Runge–Kutta tableaus: (a, b) with a[i] the coefficients of stage i on stages < i
METHODS: dict[str, tuple[tuple[tuple[float, ...], ...], tuple[float, ...]]] = {
    "euler": (((),), (1.0,)),
    "rk4": (((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), (1 / 6, 1 / 3, 1 / 3, 1 / 6)),
}
_REVERSE_MODE_MAX_STATE = 64  # ∂f·Q from one batched reverse-mode Jacobian up to this size


def _jvp_columns(f, h: Tensor, x: Tensor, Q: Tensor) -> tuple[Tensor, Tensor]:
    """``(f(h, x), ∂f(h, x) Q)``: one forward-mode JVP per column of ``Q``, all in one vmap."""

    def column(v):
        return torch.func.jvp(lambda s: f(s, x), (h,), (v,))

    return torch.func.vmap(column, in_dims=2, out_dims=(None, 2))(Q)


class FlowSystem(MapSystem):
    """The step map ``Φ_dt`` of the flow ``dh/dt = f(h, x)`` integrated with step ``dt``.

    A `dynalysis.MapSystem` whose step is one step of the scheme and whose tangent is that
    step's exact derivative.

    Parameters
    ----------
    f : callable
        The vector field, batched: ``(batch, state_size), (batch, input_size) -> (batch,
        state_size)``, written with out-of-place torch operations (it is differentiated with
        `torch.func` unless ``f_tangent`` is given).
    state_size : int
    input_size : int, default 0
        Zero for autonomous flows (inputs of shape ``(trajectory, time, 0)``).
    dt : float
        Integration step, in ``time_unit``; ``> 0``.
    method : {"rk4", "euler"}, default "rk4"
        Explicit Runge–Kutta scheme (`METHODS`).
    time_unit : str, default "time"
        Unit of ``t`` (e.g. ``"s"``, ``"ms"``, ``"tau"``): results report exponents in
        ``1/<time_unit>`` and durations in ``<time_unit>``.
    name : str, optional
        Recorded in results' provenance.
    readout : callable, optional
        ``(batch, state_size) -> (batch, output_size)``.
    output_size : int, optional
        Width of ``readout``'s output (probed with a zero state when omitted).
    f_tangent : callable, optional
        ``f_tangent(h, x, Q) -> ∂f(h, x) Q`` for ``Q (batch, state_size, k)``: an analytic
        Jacobian product of the vector field, used in every stage instead of `torch.func`.
    initial_state : callable, optional
        ``batch -> (batch, state_size)``; zeros (float64) by default.

    Notes
    -----
    ``step`` is one step of the scheme with ``x`` held constant over ``[t, t + dt)``;
    ``tangent_step`` is its exact derivative (module notes), so analyses measure the
    integrator's map, whose exponents converge to the flow's as ``dt → 0`` (``O(dt⁴)`` for
    RK4, ``O(dt)`` for Euler). `vector_field` and `vector_field_jacobian` expose ``f`` and
    ``∂f/∂h`` themselves: equilibria solve ``f(h*, x*) = 0``, and at an equilibrium the
    step's Jacobian is the scheme's stability polynomial of ``dt ∂f`` (``I + dt ∂f`` for
    Euler, the degree-4 Taylor polynomial of ``exp(dt ∂f)`` for RK4), so ``Re λ(∂f) < 0``
    and ``|λ(∂Φ)| < 1`` agree for small ``dt``.

    Examples
    --------
    The Lorenz flow; exponents come out per unit time (reference 0.9056, 0, −14.5723):

    >>> import torch, dynalysis
    >>> def lorenz(h, x, s=10.0, r=28.0, b=8 / 3):
    ...     u, v, w = h.unbind(-1)
    ...     return torch.stack([s * (v - u), u * (r - w) - v, u * v - b * w], -1)
    >>> flow = dynalysis.FlowSystem(lorenz, 3, dt=0.01, name="Lorenz")
    >>> ds = dynalysis.lyapunov_spectrum(flow, dynalysis.zero_inputs(flow, 1, 3000),
    ...                                  initial_state=torch.tensor([1.0, 1.0, 20.0]), transient=500)
    >>> round(float(ds.exponent[0]), 1), ds.exponent.attrs["units"]
    (0.9, '1/time')
    >>> round(float(ds.exponent_sum), 3)  # −(σ + 1 + β): the trace of ∂f is constant
    -13.667
    """

    def __init__(self, f: Callable[[Tensor, Tensor], Tensor], state_size: int, input_size: int = 0,
                 *, dt: float, method: str = "rk4", time_unit: str = "time", name: str | None = None,
                 readout: Callable[[Tensor], Tensor] | None = None, output_size: int | None = None,
                 f_tangent: Callable[[Tensor, Tensor, Tensor], Tensor] | None = None,
                 initial_state: Callable[[int], Tensor] | None = None):
        for label, fn in (("f", f), ("f_tangent", f_tangent), ("readout", readout),
                          ("initial_state", initial_state)):
            if fn is not None and not callable(fn):
                raise OptionError(f"{label} must be callable, got {type(fn).__name__}")
        if f is None:
            raise OptionError("f must be callable: the vector field (h, x) -> dh/dt")
        check_option("method", method, tuple(METHODS))
        if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not math.isfinite(dt) or dt <= 0:
            raise OptionError(f"dt must be a finite number > 0, got {dt!r}")
        if not isinstance(time_unit, str) or not time_unit.strip() or time_unit == "step":
            raise OptionError(f"time_unit must name a unit of time other than 'step', got {time_unit!r}")
        if int(state_size) < 1 or int(input_size) < 0:  # before MapSystem: one OptionError
            raise OptionError(f"state_size must be >= 1 and input_size >= 0, got {state_size}, {input_size}")
        super().__init__(f, state_size, input_size, readout, output_size=output_size,
                         initial_state=initial_state, name=name)
        self._f, self._f_tangent = f, f_tangent
        self.time_step, self.time_unit, self.method = float(dt), time_unit.strip(), method
        self._a, self._b = METHODS[method]
        self.metadata = {**self.metadata, "system": "FlowSystem", "dt": self.time_step,
                         "method": method, "time_unit": self.time_unit}

    # --- the vector field ----------------------------------------------------------------
    def vector_field(self, state: Tensor, x: Tensor) -> Tensor:
        """``f(h, x)``: ``(batch, state_size), (batch, input_size) -> (batch, state_size)``."""
        return self._f(state, x)

    def vector_field_jacobian(self, state: Tensor, x: Tensor) -> Tensor:
        """``∂f/∂h`` ``(batch, state_size, state_size)``, ``[b, i, j] = ∂f_i/∂h_j``."""
        if self._f_tangent is not None:
            eye = torch.eye(self.state_size, dtype=state.dtype, device=state.device)
            return self._f_tangent(state, x, eye.expand(state.shape[0], -1, -1))
        return jacobian_reverse(self._f, state, x)[1]

    def _f_and_tangent(self, h: Tensor, x: Tensor, Q: Tensor) -> tuple[Tensor, Tensor]:
        """``(f(h, x), ∂f(h, x) Q)`` by the cheapest available route."""
        if self._f_tangent is not None:
            return self._f(h, x), self._f_tangent(h, x, Q)
        if self.state_size <= _REVERSE_MODE_MAX_STATE:  # torch.func's per-call overhead dominates
            value, J = jacobian_reverse(self._f, h, x)
            return value, torch.matmul(J, Q)
        return _jvp_columns(self._f, h, x, Q)

    # --- the step map --------------------------------------------------------------------
    def step(self, state: Tensor, x: Tensor) -> Tensor:
        """One step of the scheme, ``x`` held constant over it."""
        dt, ks = self.time_step, []
        for a_i in self._a:
            ks.append(self._f(_combine(state, ks, a_i, dt), x))
        return _combine(state, ks, self._b, dt)

    def tangent_step(self, state: Tensor, x: Tensor, tangents: Tensor) -> tuple[Tensor, Tensor]:
        """``(Φ(h, x), ∂Φ(h, x) Q)``: the stages and their tangents through the same tableau."""
        dt, ks, Ks = self.time_step, [], []
        for a_i in self._a:
            k, K = self._f_and_tangent(_combine(state, ks, a_i, dt), x, _combine(tangents, Ks, a_i, dt))
            ks.append(k)
            Ks.append(K)
        return _combine(state, ks, self._b, dt), _combine(tangents, Ks, self._b, dt)

    # --- the rest of the System contract (readout, initial_state: MapSystem's) ----------
    def to(self, *, dtype: torch.dtype | None = None, device=None) -> "FlowSystem":
        """Self, once ``f`` is seen to run in ``dtype`` on ``device`` (a closure cannot be
        converted: write ``f`` for the dtype and device the analysis uses)."""
        if dtype is None and device is None:
            return self
        h = torch.zeros(1, self.state_size, dtype=dtype or torch.float64, device=device)
        x = torch.zeros(1, self.input_size, dtype=h.dtype, device=h.device)
        where = f"{h.dtype} on {h.device}"
        try:
            out = self._f(h, x)
        except RuntimeError as e:
            raise DynalysisError(f"the vector field f of {self.metadata['name']!r} does not run in "
                                 f"{where} ({first_line(e)}); build f from tensors of that dtype "
                                 "and device, or pass dtype= to the analysis") from None
        if not isinstance(out, Tensor) or out.shape != h.shape or out.dtype != h.dtype:
            got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise DynalysisError(f"the vector field f of {self.metadata['name']!r} must return a "
                                 f"(batch, {self.state_size}) tensor in {h.dtype}, got "
                                 f"{got} {getattr(out, 'dtype', '')}".rstrip())
        return self

    def __repr__(self) -> str:
        return (f"FlowSystem({self.metadata['name']!r}, state_size={self.state_size}, "
                f"input_size={self.input_size}, dt={self.time_step}, method={self.method!r})")


def _combine(base: Tensor, terms: list[Tensor], weights, dt: float) -> Tensor:
    """``base + dt Σ_j w_j terms_j`` over the non-zero weights (the first stage: ``base``)."""
    out = base
    for w, term in zip(weights, terms):
        if w:
            out = out + (dt * w) * term
    return out
