"""Covariant Lyapunov vectors by Ginelli's algorithm (docs/science.md §6).

Ginelli et al. 2007: the forward QR pass of `dynalysis.lyapunov_spectrum` (the same engine,
`dynalysis.lyapunov.qr`, one QR per step) gives ``J_t Q_{t-1} = Q_t R_t``; the columns of
``Q_t`` converge to the backward (Gram–Schmidt) Lyapunov vectors. The covariant vectors are
``v_i(t) = Q_t c_i(t)`` with ``C_t`` upper triangular, found by iterating backwards

    C_{t-1} = R_t^{-1} C_t,   columns renormalised,   from a random upper-triangular C_T,

which converges (the backward transient) because ``R^{-1}`` expands the most contracting
directions fastest. Only the triangular ``R_t (k × k)`` are stored for every step
(`dynalysis.lyapunov._rstore`: chunked, spilled to a temporary file beyond ``max_memory``);
``Q_t`` and the state are kept only at the sampled times of the valid window
``transient <= t <= T − backward_transient``. Since ``Q_t`` is orthonormal, inner products of
CLVs are those of the columns of ``C_t``: angles need no ``Q``.

Covariance: ``J_{t+1} v_i(t) = Q_{t+1} R_{t+1} c_i(t) = v_i(t+1) / n_{t+1,i}`` where
``n_{t+1,i} = ‖R_{t+1}^{-1} c_i(t+1)‖`` is the backward normalisation, so the time mean of
``−ln n`` over the window is each CLV's own growth rate (``clv_growth_rate``), which must
equal its exponent.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import torch

from .._core.divergence import DIVERGED_FLAGS, finite_mean, warn_diverged
from .._core.inputs import as_initial_state, as_inputs
from .._core.options import check_option, check_positive_int, resolve_dtype
from .._core.result import Schema, Var, build_result
from ..errors import NumericalReliabilityWarning, OptionError
from ._rstore import RStore
from .method import choose_method
from .qr import Frame, LogRAccumulator, initial_frame, run_jacobian, run_tangent

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

    from ..system import System

__all__ = ["covariant_lyapunov_vectors", "SCHEMA", "subspace_angle", "participation_ratio"]

CLV_METHODS = ("auto", "tangent", "jacobian")
CLV_GAP_STEPS = 5.0  # gap x transient needed: contamination by a neighbouring direction <= e^-5


def gap_steps(exponent, steps: int):
    """``min(λ_{i−1} − λ_i, λ_i − λ_{i+1}) · steps`` per exponent (neighbours among the computed
    ones): a CLV converges like ``exp(−gap · t)`` in each of Ginelli's passes, so it is determined
    where this is large (`CLV_GAP_STEPS`).

    >>> gap_steps(np.array([0.5, 0.0, -0.01]), 100).tolist()
    [50.0, 1.0, 1.0]
    """
    e = np.asarray(exponent, dtype=float)
    gaps = np.full(e.shape, np.inf)
    d = np.abs(np.diff(e))
    gaps[:-1] = np.minimum(gaps[:-1], d)
    gaps[1:] = np.minimum(gaps[1:], d)
    return gaps * steps


def subspace_angle(C, m: int):
    """Smallest principal angle (radians) between ``span C[..., :m]`` and ``span C[..., m:]``.

    ``atan2(σ_min((I − P_U) Q_V), σ_max(Q_Uᵀ Q_V))`` (Björck & Golub 1973): accurate for
    near-tangent (small) and near-orthogonal angles alike. ``C`` is ``(..., n, k)``.

    >>> C = torch.tensor([[1.0, 1.0], [0.0, 1e-9]], dtype=torch.float64)
    >>> float(subspace_angle(C, 1))  # two vectors 1e-9 rad apart
    1e-09
    """
    Qu = torch.linalg.qr(C[..., :m]).Q
    Qv = torch.linalg.qr(C[..., m:]).Q
    cos = torch.linalg.matrix_norm(Qu.mT @ Qv, ord=2)
    rest = Qv - Qu @ (Qu.mT @ Qv)
    sin = torch.linalg.svdvals(rest)[..., -1]
    return torch.atan2(sin, cos)


def participation_ratio(v):
    """``(Σ_s v_s²)² / Σ_s v_s⁴`` over the state axis (−2) of ``v (..., S, k)``: 1 for a vector
    on one unit, ``S`` for one spread evenly over all.

    >>> participation_ratio(torch.tensor([[1.0], [1.0], [0.0], [0.0]]))
    tensor([2.])
    """
    sq = v * v
    return sq.sum(-2) ** 2 / (sq * sq).sum(-2)


def covariant_lyapunov_vectors(system: System, inputs, *, n_vectors: int | None = None, transient: int = 100,
                               backward_transient: int | None = None, n_times: int | None = None,
                               n_unstable: int | None = None, initial_state=None, seed: int = 0,
                               dtype=torch.float64, device=None, method: str = "auto",
                               max_memory: int = 2**28) -> xr.Dataset:
    """Covariant Lyapunov vectors (Ginelli's algorithm) along driven trajectories.

    Parameters
    ----------
    system : System
        Any step map: only ``J·Q`` products (``tangent_step``) or batched Jacobians are used.
    inputs : Tensor or ndarray, shape (trajectory, time, input_size)
        Driving inputs (`dynalysis.zero_inputs` for autonomous maps), ``T`` steps; needs
        ``T >= transient + backward_transient + 1``.
    n_vectors : int, optional
        Number ``k`` of leading CLVs (default: all, ``state_size``). The leading ``k`` CLVs
        need only the leading ``k`` Gram–Schmidt vectors, so ``k < S`` is exact and cheaper.
    transient : int, default 100
        Forward transient: steps before the frame ``Q_t`` is used (it converges to the
        Gram–Schmidt vectors like ``exp(−(λ_i − λ_{i+1}) t)``).
    backward_transient : int, optional
        Steps of the backward iteration before ``C_t`` is used (default: ``transient``).
    n_times : int, optional
        Sampled times, evenly spaced over the valid window ``transient .. T −
        backward_transient`` (at most its ``T − backward_transient − transient + 1`` steps;
        that many: every step). Default: 100, or every step of a shorter window.
    n_unstable : int, optional
        Dimension of the "unstable" subspace for ``min_subspace_angle``: the span of the
        first ``n_unstable`` CLVs against that of the others. Default: the number of
        positive exponents (NaN angles when that is 0 or ``k``).
    initial_state : Tensor, optional
        ``(state_size,)`` or ``(trajectory, state_size)``; the system's initial state if None.
    seed : int, default 0
        Seed of the random orthonormal frame and of the random upper-triangular ``C_T``.
    dtype : torch.dtype or str, default float64
    device : optional
    method : {"auto", "tangent", "jacobian"}, default "auto"
        How ``J_t Q`` is obtained, as in `dynalysis.lyapunov_spectrum`.
    max_memory : int, default 2**28
        Bytes of ``R_t`` factors (``8 k² B`` per step in float64) held in host memory;
        beyond that they go to a temporary file (``TMPDIR``), read back chunk by chunk.

    Returns
    -------
    xarray.Dataset
        ``clv (trajectory, time, state, exponent_index)``: unit CLVs ``v_i(t)`` (sign
        arbitrary) at the sampled times; ``trajectory_state (trajectory, time, state)``: the
        state ``h_t`` they belong to (``J_{t+1} v_i(t) ∝ v_i(t+1)``, ``J_{t+1}`` the
        Jacobian at ``h_t`` with input ``x_{t+1}``); ``exponent (exponent_index)``: Lyapunov
        exponents of the forward pass (frame-column order, descending once converged);
        ``clv_growth_rate (exponent_index)``: time mean of ``ln‖J_{t+1} v_i(t)‖`` over the
        window (equals ``exponent`` up to finite-time error); ``min_subspace_angle
        (trajectory, time)``: smallest principal angle between the unstable and stable CLV
        subspaces (radians; near 0 at tangencies, the mark of non-hyperbolicity);
        ``participation_ratio (trajectory, time, exponent_index)``: ``1/Σ_s v_s⁴``, how many
        units carry each CLV (1 to ``S``), and its mean over time and finite trajectories
        ``mean_participation_ratio (exponent_index)``; ``n_unstable``, the split used;
        ``diverged (trajectory)`` (NaN/inf state, exponent or vector; also a singular
        Jacobian product, exponent −∞, where CLVs are undefined).

    Notes
    -----
    Memory: the ``R_t`` of all ``T − transient`` steps (``max_memory`` in RAM, the rest on
    disk), plus ``Q_t`` and ``C_t`` at the ``n_times`` sampled times; never all ``Q_t``. Cost:
    the forward pass of `dynalysis.lyapunov_spectrum` with one QR per step, plus one batched
    ``k × k`` triangular solve per step backwards. Exponents that are equal (a complex pair of
    a linear map, a neutral direction shared with another) have no individual CLVs: their
    vectors then span the common Oseledets subspace but are not unique.

    References
    ----------
    F. Ginelli, P. Poggi, A. Turchi, H. Chaté, R. Livi, A. Politi, "Characterizing dynamics
    with covariant Lyapunov vectors", Phys. Rev. Lett. 99 (2007) 130601.
    P. V. Kuptsov, U. Parlitz, "Theory and computation of covariant Lyapunov vectors",
    J. Nonlinear Sci. 22 (2012) 727–762.

    Examples
    --------
    >>> import numpy as np, torch, dynalysis
    >>> A = np.array([[0.9, 2.0], [0.0, 0.5]])  # non-normal: eigenvectors (1, 0) and (-0.98, 0.196)
    >>> lin = dynalysis.testing.linear_map(A)
    >>> ds = dynalysis.covariant_lyapunov_vectors(lin, dynalysis.zero_inputs(lin, 1, 300),
    ...                                           initial_state=torch.ones(2), n_times=3)
    >>> np.abs(ds.clv[0, 1].values).round(3)  # columns: eigenvectors of |eig| 0.9, then 0.5
    array([[1.   , 0.981],
           [0.   , 0.196]])
    >>> np.exp(ds.exponent.values).round(6)
    array([0.9, 0.5])
    """
    dtype = resolve_dtype(dtype)
    S = system.state_size
    k = S if n_vectors is None else check_positive_int("n_vectors", n_vectors, maximum=S)
    transient = check_positive_int("transient", transient, minimum=0)
    back = transient if backward_transient is None else check_positive_int(
        "backward_transient", backward_transient, minimum=0)
    if n_times is not None:
        n_times = check_positive_int("n_times", n_times)
    if n_unstable is not None:
        n_unstable = check_positive_int("n_unstable", n_unstable, minimum=0, maximum=k)
    max_memory = check_positive_int("max_memory", max_memory, minimum=0)
    check_option("method", method, CLV_METHODS)
    x = as_inputs(system, inputs, dtype=dtype, device=device, min_steps=transient + back + 1,
                  needed_for=f"transient={transient} + backward_transient={back} + 1")
    B, T, _ = x.shape
    window = T - back - transient + 1  # times transient .. T - back
    if n_times is None:
        n_times = min(100, window)
    elif n_times > window:
        raise OptionError(f"n_times={n_times} exceeds the {window} times of the valid window "
                          f"{transient}..{T - back}; allowed: n_times <= {window}")
    sys_ = system.to(dtype=dtype, device=device)
    h = as_initial_state(sys_, initial_state, B, dtype=dtype, device=x.device)
    if method == "auto":  # as lyapunov_spectrum: a close call probed on the run's state and inputs
        method, _ = choose_method(sys_, batch=B, n_exponents=k, steps=T, dtype=dtype, device=x.device,
                                  initial_state=h, inputs=x, reortho_every=1)
    times = np.round(np.linspace(transient, T - back, n_times)).astype(int)
    row = {int(t): i for i, t in enumerate(times)}

    g = torch.Generator().manual_seed(int(seed))  # Q_0 drawn as in lyapunov_spectrum, then C_T
    Q = initial_frame(B, S, k, generator=g, dtype=dtype, device=x.device)
    C_T = torch.randn(B, k, k, generator=g, dtype=dtype).triu().to(x.device)

    Qs = torch.full((n_times, B, S, k), torch.nan, dtype=dtype, device=x.device)
    hs = torch.full((n_times, B, S), torch.nan, dtype=dtype, device=x.device)
    store = RStore(B, k, first_step=transient + 1, max_memory=max_memory, dtype=dtype, device=x.device)

    def on_qr(t, Q_t, R_t):
        if t in row:
            Qs[row[t]].copy_(Q_t)
        if t > transient:
            store.push(R_t)

    acc = LogRAccumulator(B, k, T - transient, 1, dtype=dtype, device=x.device)
    frame = Frame(Q, acc, T=T, transient=transient, reortho_every=1, on_qr=on_qr)
    if 0 in row:
        Qs[0].copy_(Q)
        hs[0].copy_(h)
    tap = _StateTap(sys_, row, hs)
    try:
        with torch.no_grad():
            h = (run_tangent if method == "tangent" else run_jacobian)(tap, h, x, frame, None)
            acc.flush()
            Cs, log_growth = _backward(store, C_T, row, transient, T - back, n_times)
    finally:
        spilled = store.spilled_bytes
        store.close()
    options = dict(n_vectors=k, transient=transient, backward_transient=back, n_times=n_times,
                   n_unstable=n_unstable, seed=int(seed), dtype=dtype, method=method, max_memory=max_memory,
                   steps=T, trajectories=B, initial_state="given" if initial_state is not None else "system")
    return _to_dataset(system, acc, h, Qs, Cs, hs, log_growth, times, options,
                       spilled=spilled, window_steps=T - back - transient)


class _StateTap:
    """The analysed map, keeping ``h_t`` at the sampled ``t``: the engine's runners call
    ``step`` (or ``tangent_step``) once per step, in order; ``jacobian`` passes through."""

    def __init__(self, inner, row: dict, out):
        self.inner, self.row, self.out, self.t = inner, row, out, 0
        self.state_size = inner.state_size

    def _keep(self, h):
        self.t += 1
        if self.t in self.row:
            self.out[self.row[self.t]].copy_(h)
        return h

    def step(self, h, x):
        return self._keep(self.inner.step(h, x))

    def tangent_step(self, h, x, Q):
        h, Z = self.inner.tangent_step(h, x, Q)
        return self._keep(h), Z

    def jacobian(self, h, x):
        return self.inner.jacobian(h, x)


def _backward(store: RStore, C, row: dict, t_lo: int, t_hi: int, n_times: int):
    """``C_{t-1} = R_t^{-1} C_t`` from ``C_T`` down to ``C_{t_lo}``; ``C`` at the sampled times
    and ``Σ ln‖J_t v_i(t−1)‖`` over the window steps ``t_lo < t <= t_hi``."""
    B, k, _ = C.shape
    C = C / torch.linalg.vector_norm(C, dim=-2, keepdim=True)
    Cs = torch.full((n_times, B, k, k), torch.nan, dtype=C.dtype, device=C.device)
    log_growth = torch.zeros(B, k, dtype=C.dtype, device=C.device)
    for t0, R in store.reversed_chunks():
        for j in range(R.shape[0] - 1, -1, -1):
            t = t0 + j
            if t in row:
                Cs[row[t]].copy_(C)
            C = torch.linalg.solve_triangular(R[j], C, upper=True)  # C_{t-1}, unnormalised
            norm = torch.linalg.vector_norm(C, dim=-2, keepdim=True)
            C = C / norm
            if t_lo < t <= t_hi:
                log_growth -= norm[:, 0].log()
    if t_lo in row:
        Cs[row[t_lo]].copy_(C)
    return Cs, log_growth


SCHEMA = Schema("clv", description="covariant Lyapunov vectors (Ginelli's algorithm) along the driven "
                                   "trajectories", variables={
    "clv": Var(("trajectory", "time", "state", "exponent_index"), "covariant Lyapunov vector v_i(t) "
               "(unit norm, sign arbitrary)"),
    "trajectory_state": Var(("trajectory", "time", "state"), "state h_t at which the CLVs are given"),
    "exponent": Var(("exponent_index",), "Lyapunov exponent of the forward QR pass (mean over finite "
                    "trajectories)", "1/step", time="rate"),
    "clv_growth_rate": Var(("exponent_index",), "time mean of ln||J_{t+1} v_i(t)|| over the valid window "
                           "(mean over finite trajectories)", "1/step", time="rate"),
    "min_subspace_angle": Var(("trajectory", "time"), "smallest principal angle between the unstable "
                              "(first n_unstable CLVs) and the stable (other) CLV subspaces", "rad"),
    "participation_ratio": Var(("trajectory", "time", "exponent_index"), "participation ratio "
                               "(sum v^2)^2 / sum v^4 of the CLV: number of units carrying it"),
    "mean_participation_ratio": Var(("exponent_index",), "participation ratio of the CLV, mean over the "
                                    "sampled times and finite trajectories"),
    "n_unstable": Var((), "number of leading CLVs spanning the unstable subspace of min_subspace_angle"),
    "clv_converged": Var(("exponent_index",), "CLV determined: the gap to its neighbouring exponents times "
                         "min(transient, backward_transient) is at least 5 (contamination <= e^-5)",
                         flags=("not_converged", "converged")),
    "subspace_angle_determined": Var((), "min_subspace_angle determined: the exponent gap at the "
                                     "unstable/stable split times min(transient, backward_transient) is at "
                                     "least 5", flags=("not_converged", "converged")),
    "diverged": Var(("trajectory",), "trajectory diverged (NaN/inf state, exponent or vector, or a "
                    "singular Jacobian product)", flags=DIVERGED_FLAGS),
}, coords={
    "trajectory": Var(("trajectory",), "trajectory index"),
    "time": Var(("time",), "step t of the state h_t (0 = initial state)", "step", time="duration"),
    "state": Var(("state",), "state component (unit)"),
    "exponent_index": Var(("exponent_index",), "exponent rank (0 = largest)"),
})


def _to_dataset(system, acc, h, Qs, Cs, hs, log_growth, times, options, *, spilled, window_steps):
    B, k = acc.log_sum.shape
    exps = (acc.log_sum / acc.n_avg).cpu().numpy()
    growth = (log_growth / window_steps).cpu().numpy() if window_steps else np.full((B, k), np.nan)
    clv = (Qs @ Cs).permute(1, 0, 2, 3)  # (B, n, S, k)
    pr = participation_ratio(clv)  # (B, n, k)
    diverged = (~torch.isfinite(h).all(1) | ~torch.isfinite(clv).all(-1).all(-1).all(-1)).cpu().numpy()
    diverged |= ~np.isfinite(exps).all(1)
    ok = ~diverged
    warn_diverged(diverged, analysis="covariant_lyapunov_vectors", stacklevel=4)
    exponent = finite_mean(exps, diverged)
    m = options["n_unstable"]
    if m is None:
        m = int((exponent > 0).sum()) if np.isfinite(exponent).all() else 0
    if 0 < m < k:  # LAPACK never sees NaN/inf: diverged trajectories get NaN below
        C = Cs.permute(1, 0, 2, 3)
        C = torch.where(torch.isfinite(C).all(-1).all(-1)[..., None, None], C, torch.eye(k, dtype=C.dtype,
                                                                                      device=C.device))
        angle = subspace_angle(C, m).cpu().numpy()
    else:
        angle = np.full((B, len(times)), np.nan)
    # Ginelli's passes converge like exp(-gap t): vectors and the split need gap x transient >> 1
    settle = min(options["transient"], options["backward_transient"])
    with np.errstate(invalid="ignore"):
        clv_converged = gap_steps(exponent, settle) >= CLV_GAP_STEPS
        split = (exponent[m - 1] - exponent[m]) * settle if 0 < m < k else np.nan
    split_ok = bool(split >= CLV_GAP_STEPS)
    if 0 < m < k and not split_ok:
        need = int(np.ceil(CLV_GAP_STEPS / max(exponent[m - 1] - exponent[m], 1e-300)))
        warnings.warn(f"covariant_lyapunov_vectors: min_subspace_angle is not determined: the exponent gap "
                      f"{exponent[m - 1] - exponent[m]:.3g} at the unstable/stable split needs transients of "
                      f"about {need} steps, got {settle}; see subspace_angle_determined",
                      NumericalReliabilityWarning, stacklevel=4)
    clv, pr, states = clv.cpu().numpy(), pr.cpu().numpy(), hs.permute(1, 0, 2).cpu().numpy()
    for a in (clv, pr, states, angle):
        a[diverged] = np.nan
    with np.errstate(invalid="ignore"):
        mean_pr = pr[ok].mean((0, 1)) if ok.any() else np.full(k, np.nan)
    data = {"clv": clv, "trajectory_state": states, "exponent": exponent,
            "clv_growth_rate": finite_mean(growth, diverged), "min_subspace_angle": angle,
            "participation_ratio": pr, "mean_participation_ratio": mean_pr, "n_unstable": m,
            "clv_converged": clv_converged, "subspace_angle_determined": split_ok,
            "diverged": diverged}
    coords = {"trajectory": np.arange(B), "time": times, "state": np.arange(system.state_size),
              "exponent_index": np.arange(k)}
    unit = getattr(system, "time_unit", "step") or "step"
    return build_result(SCHEMA, data, coords, system=system, options=options,
                        attrs={"units_note": f"exponents in nats (natural log) per {unit}",
                               "algorithm": "Ginelli et al. 2007: forward QR (Householder), backward "
                                            "C_{t-1} = R_t^-1 C_t with column normalisation",
                               "r_factors_spilled_to_disk_bytes": int(spilled)})
