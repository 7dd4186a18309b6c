"""Lyapunov spectra by the QR (Benettin) method, streamed over time with J·Q products.

Algorithm (docs/science.md §5; Benettin et al. 1980, Shimada & Nagashima 1979):

    Q_0 = random orthonormal (S × k), seeded
    for t = 1..T:   h_t = F(h_{t-1}, x_t);   Z = J_t Q_{t-1}
                    every `reortho_every` steps: Q R = qr(Z), accumulate ln|diag R|
    λ_i = (Σ ln|R_ii| after the transient) / (T − transient)

The frame is evolved in the analysis dtype (float64 by default) and warms up during the
transient. Memory does not grow with T: ``diag R`` goes into a fixed-size buffer that is
folded into the running sums (and into a fixed number of time blocks, for the confidence
intervals of `dynalysis.lyapunov.confidence`) every 64 QR steps, and only a thinned
convergence trace (at most ``trace_points + 1`` rows) is kept. Apart from the adaptive
``reortho_every="auto"`` schedule (one per QR), nothing in the time loop synchronises with the
host (no ``.item()``/``.cpu()``). The engine lives in `dynalysis.lyapunov.qr`.

Two ways to get ``J_t Q``, picked by ``method="auto"`` (a cost model, and a short probe of
both where the model calls it close: `dynalysis.lyapunov.method`):

* ``"tangent"``: ``system.tangent_step`` per step, the analytic J·Q of a cell or forward-mode
  ``torch.func.jvp`` + ``vmap``; the Jacobian is never formed.
* ``"jacobian"``: run ``system.step`` over a chunk of steps, evaluate all the chunk's
  Jacobians in *one* batched ``system.jacobian`` call, then ``Z = J_t Q`` per step. For small
  generic maps the per-step cost of automatic differentiation (~1–2 ms in torch.func) is what
  dominates; batching it over time removes it (the Hénon example: 12 s → 0.3 s).
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import torch

from .._core.divergence import DIVERGED_FLAGS, finite_mean, warn_diverged
from .._core.inputs import as_initial_state, as_inputs
from .._core.options import (check_fraction, check_option, check_positive_float, check_positive_int,
                             check_reortho_every, resolve_dtype)
from .._core.result import Schema, Var, build_result
from ..errors import NumericalReliabilityWarning, OptionError
from .confidence import bootstrap_interval, converged, trace_drift
from .method import choose_method
from .qr import Frame, LogRAccumulator, initial_frame, run_jacobian, run_tangent

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

    from ..system import System

__all__ = ["lyapunov_spectrum", "kaplan_yorke_dimension", "LYAPUNOV_METHODS", "SCHEMA"]

LYAPUNOV_METHODS = ("auto", "tangent", "jacobian")


def kaplan_yorke_dimension(exponents, *, state_size: int | None = None) -> float:
    """Kaplan–Yorke (Lyapunov) dimension of a spectrum sorted in descending order.

    ``D = j + Σ_{i≤j} λ_i / |λ_{j+1}|`` with ``j`` the largest index whose partial sum is
    non-negative; 0 if ``λ_1 < 0``. If every partial sum is non-negative, phase-space volume
    does not contract: ``D`` is the full dimension when the spectrum is complete
    (``len(exponents) == state_size``) and NaN otherwise (more exponents would be needed).

    >>> kaplan_yorke_dimension([0.4192, -1.6232])
    1.258...
    >>> kaplan_yorke_dimension([0.1, 0.0]), kaplan_yorke_dimension([0.1, 0.0], state_size=2)
    (nan, 2.0)
    """
    lam = np.sort(np.asarray(exponents, dtype=float))[::-1]
    if not np.all(np.isfinite(lam)) or lam.size == 0:
        return float("nan")
    csum = np.cumsum(lam)
    if csum[0] < 0:
        return 0.0
    j = int(np.nonzero(csum >= 0)[0][-1]) + 1  # number of exponents with non-negative sum
    if j == lam.size:
        return float(lam.size) if state_size == lam.size else float("nan")
    return float(j + csum[j - 1] / abs(lam[j]))


def lyapunov_spectrum(system: System, inputs, *, n_exponents: int | None = None,
                      transient: int = 100, reortho_every: int | str = "auto", initial_state=None,
                      seed: int = 0, dtype=torch.float64, device=None, trace_points: int = 64,
                      progress: bool = False, method: str = "auto", confidence: float = 0.95,
                      ci_tol: float = 0.05, ci_atol: float = 1e-3) -> xr.Dataset:
    """Lyapunov spectrum of a step map driven by ``inputs`` (QR / Benettin method).

    Parameters
    ----------
    system : System
        A step map (`dynalysis.load_checkpoint`, `dynalysis.MapSystem`, ...).
    inputs : Tensor or ndarray, shape (trajectory, time, input_size)
        Driving inputs, one row per trajectory (open loop). Zero width for autonomous maps
        (`dynalysis.zero_inputs`). All trajectories run together as one batch.
    n_exponents : int, optional
        Number ``k`` of leading exponents (default: all, ``state_size``). The QR costs
        ``O(S k²)`` per step, so ``k ≪ S`` is much cheaper; the ``k`` values equal the
        leading ``k`` of the full spectrum.
    transient : int, default 100
        Steps run (state and frame) before averaging starts.
    reortho_every : int or "auto", default "auto"
        Re-orthonormalise every ``k`` steps (faster: one QR per ``k`` steps). Exact up to
        round-off while the ``k``-step product stays well conditioned, i.e. while
        ``k (λ_1 − λ_min) ≲ 15`` (relative round-off ``u·e^{k(λ_1−λ_min)}``, ``u`` the
        unit round-off of ``dtype``); beyond that the negative tail is lost first.
        ``"auto"`` picks ``k`` (1 to 16) after every QR from the largest per-step spread of
        ``ln|R_ii|`` met so far (not just the last block's: intermittent stretching, as in the
        Hénon map, would otherwise overshoot), so that a block's condition stays near
        ``u^{-1/4}`` and below ``u^{-1/2}`` (round-off ``≤ √u`` per block): large steps for
        near-isometric maps (rotational WCRNNs), every step for strongly contracting ones,
        and every step in float32 (whose round-off a block's ``diag R`` cannot bound for
        non-normal maps). The largest block condition reached is reported
        (``max_log_condition``) in every mode. Every schedule also takes a QR at each step the
        results are sampled at (the ``trace_points`` trace steps and the 33–64 confidence
        blocks), so the convergence trace, the confidence interval and ``converged`` equal the
        every-step ones to round-off (``benchmarks/reortho_auto_check.py``: ≤ 1e-11 on every
        reference case); trace steps and blocks nest (both every power of 2 of steps), so with
        the default 64 trace points that is one QR every ``≈ n/64`` of the ``n`` averaged steps,
        which limits ``"auto"``'s 16-step blocks only in runs under about 1 000 steps. ``1`` is
        every step (the textbook method).
    initial_state : Tensor, optional
        ``(state_size,)`` or ``(trajectory, state_size)``; the system's initial state if None.
    seed : int, default 0
        Seed of the random orthonormal initial frame.
    dtype : torch.dtype or str, default float64
        float32 halves the memory traffic but its round-off (``u ≈ 6e-8``) limits the
        resolvable spread of exponents; keep float64 with ``reortho_every > 1``.
    device : optional
    trace_points : int, default 64
        Largest number of points in the convergence trace (one every ``2^j`` averaged steps,
        the smallest power of 2 that keeps within it, plus the last step).
    progress : bool, default False
        Show a progress bar on stderr.
    method : {"auto", "tangent", "jacobian"}, default "auto"
        How ``J_t Q`` is obtained: ``"tangent"`` calls ``system.tangent_step`` every step
        (``J`` never formed); ``"jacobian"`` evaluates the Jacobians of a chunk of steps in
        one batched ``system.jacobian`` call and multiplies. ``"auto"`` picks the faster by a
        deterministic cost model (`dynalysis.lyapunov.method`: counted calls and
        matrix-product flops of both paths); where it prices them within 60 % of each other
        and the run is long enough, a short probe (at most about 3 % of the run) times both
        on this run's state, inputs and QR schedule and decides, and the process keeps that
        choice for this system and run shape. Both give the same result to round-off; the
        path taken is the attribute ``lyapunov_method`` (with ``lyapunov_method_reason``: the
        priced or measured times) and ``method`` in ``options``.
    confidence : float, default 0.95
        Coverage of the confidence interval ``exponent_ci_low .. exponent_ci_high``.
    ci_tol : float, default 0.05
        An exponent is ``converged`` when its interval's half-width is at most
        ``ci_tol · max(|λ_i|, max_j |λ_j| / 10)`` (relative to the exponent, or to a tenth of
        the largest magnitude in the computed spectrum for exponents near 0) and the
        convergence trace moves by less than that half-width over the last 20 % of the
        averaged steps.
    ci_atol : float, default 1e-3
        Absolute resolution (nats per step of the map) that also counts as converged: an
        exponent known to ``± ci_atol`` is converged even when the whole spectrum approaches
        0 (a near-isometric network, whose relative criterion is never met). Set 0 to require
        the relative criterion alone.

    Returns
    -------
    xarray.Dataset
        ``exponent (exponent_index)``: mean over finite trajectories, sorted descending, in
        nats per step; ``exponent_per_trajectory (trajectory, exponent_index)``;
        ``exponent_std (exponent_index)``: spread across trajectories;
        ``convergence (step, exponent_index)``: running estimate after ``step`` steps;
        ``diverged (trajectory)``: 1 where the state or an exponent became NaN/inf (those
        trajectories are left out of the mean, with a warning); scalars
        ``kaplan_yorke_dimension``, ``entropy_rate`` (sum of positive exponents),
        ``exponent_sum``, ``max_log_condition`` (largest ``ln(max|R_ii|/min|R_ii|)`` of one
        QR block: the smallest exponent's round-off is about ``u·e^{max_log_condition}``)
        and ``mean_reortho_interval`` (steps per QR after the transient).
        Confidence: ``exponent_ci_low`` and ``exponent_ci_high (exponent_index)``, the
        ``confidence`` interval of ``exponent``; ``converged (exponent_index)`` (flag) and
        ``all_converged`` (flag: every computed exponent converged). A leading exponent that
        has not converged is also reported by a `dynalysis.NumericalReliabilityWarning`.

    Notes
    -----
    Confidence (docs/science.md §6, `dynalysis.lyapunov.confidence`): the sums of
    ``ln|R_ii|`` are also kept over 33–64 consecutive time blocks per trajectory (their length
    a power of 2 fixed from the run's length, so memory stays independent of the number of
    steps); the interval comes from a bootstrap over trajectories and, within each, over time
    blocks (batch means). It measures the statistical error of a stationary estimate; a
    running estimate that still drifts (slow frame alignment, a slow transient) is caught by
    the drift condition of ``converged`` instead.

    ``J_t[i, j] = ∂h_t[i]/∂h_{t-1}[j]``; the frame is propagated with ``J·Q`` (never ``Jᵀ·Q``)
    from a random orthonormal start, in float64 by default. The QR is Householder (LAPACK
    ``geqrf`` + ``orgqr``; `torch.linalg.qr` for frames under 32 rows), batched over
    trajectories; only ``diag R`` is kept (the diagonal of geqrf's output). Cost per step:
    ``2 S² k`` flops for J·Q (one matrix product for the analytic cells) plus
    ``≈ 4 S k² − 4k³/3`` for the QR, which dominates for ``k = S`` (about 84 % of the
    matmul + QR time on a 2-core Xeon, see ``benchmarks/run.py``). Peak memory is
    independent of the number of steps.

    References
    ----------
    G. Benettin, L. Galgani, A. Giorgilli, J.-M. Strelcyn, Meccanica 15 (1980) 9–30.
    R. Engelken, F. Wolf, L. F. Abbott, "Lyapunov spectra of chaotic recurrent neural
    networks", Phys. Rev. Research 5 (2023) 043044.

    Examples
    --------
    >>> import torch, dynalysis
    >>> henon = dynalysis.MapSystem(
    ...     lambda h, x: torch.stack([1 - 1.4 * h[:, 0] ** 2 + h[:, 1], 0.3 * h[:, 0]], 1), 2)
    >>> ds = dynalysis.lyapunov_spectrum(henon, dynalysis.zero_inputs(henon, 4, 5000),
    ...                                  initial_state=torch.tensor([0.1, 0.1]))
    >>> ds.exponent.values.round(1)  # reference (0.4192, -1.6232)
    array([ 0.4, -1.6])
    >>> round(float(ds.exponent_sum), 3)  # ln 0.3 = -1.204 exactly (constant Jacobian determinant)
    -1.204
    """
    dtype = resolve_dtype(dtype)
    S = system.state_size
    k = S if n_exponents is None else check_positive_int("n_exponents", n_exponents, maximum=S)
    transient = check_positive_int("transient", transient, minimum=0)
    reortho_every = check_reortho_every(reortho_every)
    trace_points = check_positive_int("trace_points", trace_points)
    check_option("method", method, LYAPUNOV_METHODS)
    confidence = check_fraction("confidence", confidence)
    ci_tol = check_positive_float("ci_tol", ci_tol)
    if isinstance(ci_atol, bool) or not isinstance(ci_atol, (int, float)) or not np.isfinite(ci_atol) or ci_atol < 0:
        raise OptionError(f"ci_atol must be a number >= 0, got {ci_atol!r}")
    x = as_inputs(system, inputs, dtype=dtype, device=device, min_steps=transient + 1,
                  needed_for=f"transient={transient} + 1")
    B, T, _ = x.shape
    sys_ = system.to(dtype=dtype, device=device)
    h = as_initial_state(sys_, initial_state, B, dtype=dtype, device=x.device)  # checked before any step
    reason = f"method={method!r} given"
    if method == "auto":  # a close call is probed on the run's own state and inputs
        method, reason = choose_method(sys_, batch=B, n_exponents=k, steps=T, dtype=dtype,
                                       device=x.device, initial_state=h, inputs=x,
                                       reortho_every=reortho_every)

    Q = initial_frame(B, S, k, seed=seed, dtype=dtype, device=x.device)
    acc = LogRAccumulator(B, k, T - transient, trace_points, dtype=dtype, device=x.device)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=T, desc="lyapunov", unit="step", leave=False)
    frame = Frame(Q, acc, T=T, transient=transient, reortho_every=reortho_every)
    with torch.no_grad():
        if method == "tangent":
            h = run_tangent(sys_, h, x, frame, bar)
        else:
            h = run_jacobian(sys_, h, x, frame, bar)
    if bar is not None:
        bar.close()
    acc.flush()
    options = dict(n_exponents=k, transient=transient, reortho_every=reortho_every,
                   seed=int(seed), dtype=dtype, steps=T, trajectories=B, method=method,
                   initial_state="given" if initial_state is not None else "system",
                   confidence=confidence, ci_tol=ci_tol, ci_atol=float(ci_atol))
    return _to_dataset(system, acc, h, options, method_reason=reason)


SCHEMA = Schema("lyapunov", description="Lyapunov spectrum (QR method) along the driven trajectories", variables={
    "exponent": Var(("exponent_index",), "Lyapunov exponent (mean over finite trajectories)", "1/step", time="rate"),
    "exponent_per_trajectory": Var(("trajectory", "exponent_index"), "Lyapunov exponent of each trajectory",
                                   "1/step", time="rate"),
    "exponent_std": Var(("exponent_index",), "standard deviation of the exponent across trajectories",
                        "1/step", time="rate"),
    "exponent_ci_low": Var(("exponent_index",), "lower end of the confidence interval of the exponent "
                           "(bootstrap over trajectories and time blocks)", "1/step", time="rate"),
    "exponent_ci_high": Var(("exponent_index",), "upper end of the confidence interval of the exponent "
                            "(bootstrap over trajectories and time blocks)", "1/step", time="rate"),
    "converged": Var(("exponent_index",), "exponent converged (interval half-width within ci_tol "
                     "relative or ci_atol absolute, and no drift over the last 20 % of the run)", flags=("not_converged", "converged")),
    "all_converged": Var((), "every computed exponent converged", flags=("not_converged", "converged")),
    "convergence": Var(("step", "exponent_index"), "running estimate of the exponent (unsorted, by frame column)",
                       "1/step", time="rate"),
    "diverged": Var(("trajectory",), "trajectory diverged (NaN/inf state or exponent)", flags=DIVERGED_FLAGS),
    "kaplan_yorke_dimension": Var((), "Kaplan-Yorke (Lyapunov) dimension"),
    "kaplan_yorke_ci_low": Var((), "Kaplan-Yorke dimension of the lower ends of the exponents' intervals "
                               "(it is nondecreasing in every exponent)"),
    "kaplan_yorke_ci_high": Var((), "Kaplan-Yorke dimension of the upper ends of the exponents' intervals"),
    "entropy_rate": Var((), "sum of positive exponents (Kolmogorov-Sinai entropy bound)", "1/step", time="rate"),
    "exponent_sum": Var((), "sum of the computed exponents (phase-space contraction rate)", "1/step", time="rate"),
    "max_log_condition": Var((), "largest ln(max|R_ii|/min|R_ii|) of one QR block; the relative round-off of "
                                 "the smallest exponent's increments is about u*exp(this)"),
    "mean_reortho_interval": Var((), "mean number of steps between QR re-orthonormalisations (after the "
                                     "transient)", "step"),
}, coords={
    "exponent_index": Var(("exponent_index",), "exponent rank (0 = largest)"),
    "trajectory": Var(("trajectory",), "trajectory index"),
    "step": Var(("step",), "steps averaged since the end of the transient", "step", time="duration"),
})


def _to_dataset(system, acc: LogRAccumulator, h, options: dict, method_reason: str = ""):
    """Sort, flag diverged trajectories, average, attach confidence, and label everything."""
    B, k = acc.log_sum.shape
    raw = (acc.log_sum / acc.n_avg).cpu().numpy()
    order = np.argsort(-raw, axis=1, kind="stable")  # descending per trajectory, NaN last
    per_traj = np.take_along_axis(raw, order, axis=1)
    diverged = (~np.isfinite(h.cpu().numpy()).all(1) | np.isnan(per_traj).any(1)
                | np.isposinf(per_traj).any(1))
    ok = ~diverged
    warn_diverged(diverged, analysis="lyapunov_spectrum", stacklevel=4)
    trace_vals = acc.trace[: len(acc.trace_steps)].cpu().numpy()  # (steps, B, k), by frame column
    with np.errstate(invalid="ignore"):
        mean = finite_mean(per_traj, diverged)
        std = per_traj[ok].std(0) if ok.sum() > 1 else np.full(k, 0.0 if ok.any() else np.nan)
        trace = finite_mean(trace_vals.transpose(1, 0, 2), diverged)
        sorted_trace = finite_mean(np.take_along_axis(trace_vals, order[None], axis=2).transpose(1, 0, 2),
                                   diverged)
    block_sums, block_steps = acc.blocks.filled()
    block_sums = np.take_along_axis(block_sums, order[None], axis=2)[:, ok]
    low, high = bootstrap_interval(block_sums, block_steps, confidence=options["confidence"], seed=options["seed"])
    drift = trace_drift(sorted_trace, np.asarray(acc.trace_steps), acc.n_avg) if ok.any() else np.full(k, np.nan)
    conv = converged(mean, low, high, drift, ci_tol=options["ci_tol"], ci_atol=options["ci_atol"])
    dt, unit = getattr(system, "time_step", None) or 1.0, getattr(system, "time_unit", "step") or "step"
    if ok.any() and not conv[0]:
        warnings.warn(f"lyapunov_spectrum: the leading exponent has not converged after {acc.n_avg} steps: "
                      f"{mean[0] / dt:.4g} per {unit}, {options['confidence']:.0%} interval "
                      f"[{low[0] / dt:.4g}, {high[0] / dt:.4g}], "
                      f"drift {drift[0]:.2g} over the last 20 % of the run; run more steps (see 'converged')",
                      NumericalReliabilityWarning, stacklevel=4)
    pos = mean[mean > 0].sum() if np.all(np.isfinite(mean)) else np.nan
    data = {
        "exponent": mean, "exponent_per_trajectory": per_traj, "exponent_std": std,
        "exponent_ci_low": low, "exponent_ci_high": high, "converged": conv, "all_converged": bool(conv.all()),
        "convergence": trace, "diverged": diverged,
        "kaplan_yorke_dimension": kaplan_yorke_dimension(mean, state_size=system.state_size),
        "kaplan_yorke_ci_low": kaplan_yorke_dimension(low, state_size=system.state_size),
        "kaplan_yorke_ci_high": kaplan_yorke_dimension(high, state_size=system.state_size),
        "entropy_rate": float(pos), "exponent_sum": float(mean.sum()),
        "max_log_condition": float(acc.max_log_condition),
        "mean_reortho_interval": acc.n_avg / max(1, acc.n_qr),
    }
    coords = {"exponent_index": np.arange(k), "trajectory": np.arange(B), "step": np.asarray(acc.trace_steps)}
    return build_result(SCHEMA, data, coords, system=system, options=options,
                        attrs={"units_note": f"exponents in nats (natural log) per {unit}",
                               "lyapunov_method": options["method"],
                               "lyapunov_method_reason": method_reason})
