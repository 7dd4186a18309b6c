"""Lyapunov spectra by the QR (Benettin) method, streamed over time with J·Q products.

Algorithm (SCIENCE.md §5; Benettin et al. 1980, Shimada & Nagashima 1979):

    Q_0 = random orthonormal (S × k), seeded
    for t = 1..T:   h_t = F(h_{t-1}, x_t);   Z = J_t Q_{t-1}
                    every `reortho_every` steps: Q R = qr(Z), accumulate ln|diag R|
    λ_i = (Σ ln|R_ii| after the transient) / (T − transient)

The frame is evolved in the analysis dtype (float64 by default) and warms up during the
transient. Memory does not grow with T: only a thinned convergence trace is stored.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import xarray as xr

from ._errors import OptionError, check_positive_int
from ._provenance import provenance_attrs, set_var_attrs
from ._system import System
from ._validate import as_initial_state, as_inputs, resolve_dtype

__all__ = ["lyapunov_spectrum", "kaplan_yorke_dimension"]


def kaplan_yorke_dimension(exponents) -> float:
    """Kaplan–Yorke (Lyapunov) dimension of a spectrum sorted in descending order.

    ``D = j + Σ_{i≤j} λ_i / |λ_{j+1}|`` with ``j`` the largest index whose partial sum is
    non-negative; 0 if ``λ_1 < 0``; NaN if every partial sum is non-negative (more exponents
    are needed to close it).

    >>> kaplan_yorke_dimension([0.4192, -1.6232])
    1.258...
    """
    lam = np.sort(np.asarray(exponents, dtype=float))[::-1]
    if not np.all(np.isfinite(lam)) or lam.size == 0:
        return float("nan")
    csum = np.cumsum(lam)
    if csum[0] < 0:
        return 0.0
    j = int(np.nonzero(csum >= 0)[0][-1]) + 1  # number of exponents with non-negative sum
    if j == lam.size:
        return float("nan")
    return float(j + csum[j - 1] / abs(lam[j]))


def lyapunov_spectrum(system: System, inputs, *, n_exponents: int | None = None,
                      transient: int = 100, reortho_every: int = 1, initial_state=None,
                      seed: int = 0, dtype=torch.float64, device=None, trace_points: int = 200,
                      progress: bool = False) -> xr.Dataset:
    """Lyapunov spectrum of a step map driven by ``inputs`` (QR / Benettin method).

    Parameters
    ----------
    system : System
        A step map (`dynalysis.load_checkpoint`, `dynalysis.MapSystem`, ...).
    inputs : Tensor or ndarray, shape (trajectory, time, input_size)
        Driving inputs, one row per trajectory (open loop). Zero width for autonomous maps
        (`dynalysis.zero_inputs`).
    n_exponents : int, optional
        Number ``k`` of leading exponents (default: all, ``state_size``).
    transient : int, default 100
        Steps run (state and frame) before averaging starts.
    reortho_every : int, default 1
        Re-orthonormalise every ``k`` steps (faster; exact up to round-off while the frame
        stays well conditioned over ``k`` steps).
    initial_state : Tensor, optional
        ``(state_size,)`` or ``(trajectory, state_size)``; the system's initial state if None.
    seed : int, default 0
        Seed of the random orthonormal initial frame.
    dtype : torch.dtype or str, default float64
    device : optional
    trace_points : int, default 200
        Number of points in the convergence trace.
    progress : bool, default False
        Show a progress bar on stderr.

    Returns
    -------
    xarray.Dataset
        ``exponent (exponent_index)``: mean over finite trajectories, sorted descending, in
        nats per step; ``exponent_per_trajectory (trajectory, exponent_index)``;
        ``exponent_std (exponent_index)``: spread across trajectories;
        ``convergence (step, exponent_index)``: running estimate after ``step`` steps;
        ``diverged (trajectory)``: 1 where the state or an exponent became NaN/inf (those
        trajectories are left out of the mean, with a warning); scalars
        ``kaplan_yorke_dimension``, ``entropy_rate`` (sum of positive exponents) and
        ``exponent_sum``.

    Notes
    -----
    ``J_t[i, j] = ∂h_t[i]/∂h_{t-1}[j]``; the frame is propagated with ``J·Q`` (never ``Jᵀ·Q``)
    from a random orthonormal start, in float64 by default.

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
    >>> ds.exponent.values.round(2)
    array([ 0.42, -1.62])
    """
    dtype = resolve_dtype(dtype)
    S = system.state_size
    k = S if n_exponents is None else check_positive_int("n_exponents", n_exponents, maximum=S)
    transient = check_positive_int("transient", transient, minimum=0)
    reortho_every = check_positive_int("reortho_every", reortho_every)
    trace_points = check_positive_int("trace_points", trace_points)
    x = as_inputs(system, inputs, dtype=dtype, device=device, min_steps=transient + 1)
    B, T, _ = x.shape
    sys_ = system.to(dtype=dtype, device=device)
    h = as_initial_state(sys_, initial_state, B, dtype=dtype, device=x.device)

    g = torch.Generator().manual_seed(int(seed))
    Q = torch.linalg.qr(torch.randn(B, S, k, generator=g, dtype=dtype)).Q.to(x.device)
    log_sum = torch.zeros(B, k, dtype=dtype, device=x.device)
    n_avg = T - transient
    trace_every = max(1, n_avg // trace_points)
    trace_steps, trace_vals = [], []

    steps = range(1, T + 1)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="lyapunov", unit="step", leave=False)
    with torch.no_grad():
        for t in steps:
            h, Q = sys_.tangent_step(h, x[:, t - 1], Q)
            if t % reortho_every == 0 or t == T or t == transient:
                Q, R = torch.linalg.qr(Q)
                if t > transient:
                    log_sum += torch.diagonal(R, dim1=-2, dim2=-1).abs().log()
                    done = t - transient
                    if done % trace_every == 0 or t == T:
                        trace_steps.append(done)
                        trace_vals.append((log_sum / done).cpu())

    per_traj = (log_sum / n_avg).cpu().numpy()
    per_traj = -np.sort(-per_traj, axis=1)  # descending, NaN last
    diverged = ~np.isfinite(h.cpu().numpy()).all(1) | np.isnan(per_traj).any(1) | np.isposinf(per_traj).any(1)
    ok = ~diverged
    if diverged.any():
        warnings.warn(f"{int(diverged.sum())} of {B} trajectories diverged (NaN/inf state or exponent); "
                      "they are flagged in 'diverged' and left out of the mean", RuntimeWarning, stacklevel=2)
    with np.errstate(invalid="ignore"):
        mean = per_traj[ok].mean(0) if ok.any() else np.full(k, np.nan)
        std = per_traj[ok].std(0) if ok.sum() > 1 else np.zeros(k) * (np.nan if not ok.any() else 1)
        trace = np.stack([tv.numpy()[ok].mean(0) if ok.any() else np.full(k, np.nan) for tv in trace_vals])
    pos = mean[mean > 0].sum() if np.all(np.isfinite(mean)) else np.nan

    ds = xr.Dataset(
        {
            "exponent": ("exponent_index", mean),
            "exponent_per_trajectory": (("trajectory", "exponent_index"), per_traj),
            "exponent_std": ("exponent_index", std),
            "convergence": (("step", "exponent_index"), trace),
            "diverged": ("trajectory", diverged.astype(np.int8)),
            "kaplan_yorke_dimension": ((), kaplan_yorke_dimension(mean)),
            "entropy_rate": ((), float(pos)),
            "exponent_sum": ((), float(mean.sum())),
        },
        coords={"exponent_index": np.arange(k), "trajectory": np.arange(B),
                "step": np.asarray(trace_steps)},
    )
    set_var_attrs(ds, {
        "exponent": ("Lyapunov exponent (mean over finite trajectories)", "1/step"),
        "exponent_per_trajectory": ("Lyapunov exponent of each trajectory", "1/step"),
        "exponent_std": ("standard deviation of the exponent across trajectories", "1/step"),
        "convergence": ("running estimate of the exponent (unsorted, by frame column)", "1/step"),
        "diverged": ("trajectory diverged (NaN/inf state or exponent)", "1"),
        "kaplan_yorke_dimension": ("Kaplan-Yorke (Lyapunov) dimension", "1"),
        "entropy_rate": ("sum of positive exponents (Kolmogorov-Sinai entropy bound)", "1/step"),
        "exponent_sum": ("sum of the computed exponents (phase-space contraction rate)", "1/step"),
        "exponent_index": ("exponent rank (0 = largest)", "1"),
        "trajectory": ("trajectory index", "1"),
        "step": ("steps averaged since the end of the transient", "step"),
    })
    ds["diverged"].attrs.update(flag_values=np.array([0, 1], dtype=np.int8), flag_meanings="finite diverged")
    ds.attrs.update(provenance_attrs("lyapunov", system, dict(
        n_exponents=k, transient=transient, reortho_every=reortho_every, seed=int(seed),
        dtype=str(dtype).replace("torch.", ""), steps=T, trajectories=B,
        initial_state="given" if initial_state is not None else "system")))
    ds.attrs["units_note"] = "exponents in nats (natural log) per step"
    return ds
