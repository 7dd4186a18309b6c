"""Jaeger's linear short-term memory capacity (Jaeger 2001; docs/science.md §5).

Drive the network with an i.i.d. scalar signal ``s_t`` in one input channel, read the
delayed signal ``s_{t−k}`` out of the state ``h_t`` with a ridge regression per lag, and
score the fit on held-out time steps:

    MC_k = corr²(s_{t−k}, ŝ_k(t)),        MC = Σ_{k=0}^{max_lag} MC_k ≤ N
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import xarray as xr

from ..errors import OptionError
from .._core.options import check_option, check_positive_int
from .._core.provenance import provenance_attrs, set_var_attrs
from ..system import System
from .._core.trajectory import run_states
from .._core.options import resolve_dtype

__all__ = ["memory_capacity"]


def _positive(name, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
        raise OptionError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _signal(distribution, scale, shape, seed) -> np.ndarray:
    g = np.random.default_rng(int(seed))
    if distribution == "uniform":
        return g.uniform(-scale, scale, shape)
    return scale * g.standard_normal(shape)


def _ridge_r2(X: np.ndarray, Y: np.ndarray, n_train: int, ridge: float) -> np.ndarray:
    """Fit ``Y ≈ X w`` (centred, ridge) on the first ``n_train`` rows; squared correlation on the rest.

    ``X (trajectory, time, S)``, ``Y (trajectory, time, K)``; returns ``(K,)``.
    """
    Xtr, Ytr = X[:, :n_train].reshape(-1, X.shape[-1]), Y[:, :n_train].reshape(-1, Y.shape[-1])
    Xte, Yte = X[:, n_train:].reshape(-1, X.shape[-1]), Y[:, n_train:].reshape(-1, Y.shape[-1])
    peak = np.abs(Xtr).max(0)
    peak = np.where(peak > 0, peak, 1.0)
    Xtr, Xte = Xtr / peak, Xte / peak  # first to O(1): squares of huge (growing) states overflow
    mx, my = Xtr.mean(0), Ytr.mean(0)
    sx = Xtr.std(0)
    sx = np.where(sx > 0, sx, 1.0)  # standardised features: no overflow for large states
    Ztr, Zte = (Xtr - mx) / sx, (Xte - mx) / sx
    G = Ztr.T @ Ztr
    lam = ridge * max(np.trace(G) / G.shape[0], np.finfo(float).tiny)
    w = np.linalg.solve(G + lam * np.eye(G.shape[0]), Ztr.T @ (Ytr - my))
    pred = Zte @ w
    pc, yc = pred - pred.mean(0), Yte - Yte.mean(0)
    denom = (pc * pc).sum(0) * (yc * yc).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(denom > 0, (pc * yc).sum(0) ** 2 / denom, 0.0)
    return r2


def memory_capacity(system: System, *, max_lag: int, steps: int = 2000, washout: int = 100,
                    n_trajectories: int = 1, input_channel: int = 0, distribution: str = "uniform",
                    input_scale: float = 0.5, ridge: float = 1e-8, train_fraction: float = 0.7,
                    seed: int = 0, dtype=torch.float64, device=None) -> xr.Dataset:
    """Linear memory capacity per lag and in total (Jaeger 2001).

    Parameters
    ----------
    system : System
        A step map with inputs.
    max_lag : int
        Largest delay ``k``.
    steps : int, default 2000
        Time steps scored per trajectory (after the washout).
    washout : int, default 100
        Initial steps discarded (at least ``max_lag`` are always discarded so that every
        delayed target exists).
    n_trajectories : int, default 1
        Independent driven trajectories pooled in the regression.
    input_channel : int, default 0
        Channel that carries the signal; the others are held at 0.
    distribution : {"uniform", "gaussian"}, default "uniform"
        ``s_t ~ U(−input_scale, input_scale)`` or ``N(0, input_scale²)``, i.i.d., seeded.
    input_scale : float, default 0.5
    ridge : float, default 1e-8
        Ridge penalty relative to the mean eigenvalue of the Gram matrix of the standardised
        states.
    train_fraction : float, default 0.7
        Leading fraction of each trajectory's scored steps used for fitting; the rest scores.
    seed : int, default 0
    dtype : torch.dtype or str, default float64
    device : optional

    Returns
    -------
    xarray.Dataset
        ``capacity (lag)``: ``MC_k``, the squared correlation between ``s_{t−k}`` and its
        ridge read-out from ``h_t`` on held-out steps; ``memory_capacity``: ``Σ_k MC_k``.

    Notes
    -----
    Lag 0 (the current input) is included, so a shift register of N units has ``MC_k = 1``
    for ``k = 0..N−1`` and ``MC = N``. Readouts see the state (plus a bias), not the system's
    own readout.

    References
    ----------
    H. Jaeger, "Short term memory in echo state networks", GMD Report 152 (2001).

    Examples
    --------
    >>> import torch, dynalysis
    >>> shift = dynalysis.MapSystem(lambda h, x: torch.cat([x, h[:, :-1]], 1), 4, 1)
    >>> ds = dynalysis.memory_capacity(shift, max_lag=6)
    >>> ds.capacity.values[:4].round(6).tolist(), bool(ds.capacity.values[4:].max() < 0.05)
    ([1.0, 1.0, 1.0, 1.0], True)
    """
    dtype = resolve_dtype(dtype)
    L = check_positive_int("max_lag", max_lag, minimum=0)
    steps = check_positive_int("steps", steps, minimum=2)
    washout = max(check_positive_int("washout", washout, minimum=0), L)
    n_traj = check_positive_int("n_trajectories", n_trajectories)
    if system.input_size < 1:
        raise OptionError("memory_capacity needs a system with inputs (input_size > 0)")
    channel = check_positive_int("input_channel", input_channel, minimum=0, maximum=system.input_size - 1)
    check_option("distribution", distribution, ("uniform", "gaussian"))
    scale, ridge = _positive("input_scale", input_scale), _positive("ridge", ridge)
    if not (isinstance(train_fraction, float) and 0 < train_fraction < 1):
        raise OptionError(f"train_fraction must be a float in (0, 1), got {train_fraction!r}")
    n_train = int(round(train_fraction * steps))
    if not 1 <= n_train < steps:
        raise OptionError(f"train_fraction={train_fraction} leaves no train or test steps of {steps}")

    T = washout + steps
    s = _signal(distribution, scale, (n_traj, T), seed)
    x = torch.zeros(n_traj, T, system.input_size, dtype=dtype, device=device)
    x[:, :, channel] = torch.as_tensor(s, dtype=dtype)
    sys_ = system.to(dtype=dtype, device=device)
    h = sys_.initial_state(n_traj, dtype=dtype, device=x.device)
    H = run_states(sys_, x, h).cpu().numpy()[:, washout:]  # h_t after x_t, t = washout..T-1
    if not np.isfinite(H).all():
        raise OptionError("the driven states diverged (NaN/inf); lower input_scale")
    tenth = max(1, H.shape[1] // 10)
    growth = np.abs(H[:, -tenth:]).max() / max(np.abs(H[:, :tenth]).max(), np.finfo(float).tiny)
    if growth > 1e6:
        warnings.warn(f"the driven states grow without bound (x{growth:.3g} over the run): the "
                      "readouts see mostly the fastest-growing mode and the capacity is not meaningful",
                      RuntimeWarning, stacklevel=2)
    lags = np.arange(L + 1)
    t_idx = np.arange(washout, T)
    Y = s[:, t_idx[:, None] - lags[None, :]]  # (trajectory, time, lag): s_{t−k}
    r2 = _ridge_r2(H, Y, n_train, ridge)
    ds = xr.Dataset({"capacity": ("lag", r2), "memory_capacity": ((), float(r2.sum()))},
                    coords={"lag": lags})
    set_var_attrs(ds, {
        "capacity": ("memory capacity MC_k: squared correlation of s_{t-k} with its readout", "1"),
        "memory_capacity": ("total linear memory capacity sum_k MC_k", "1"),
        "lag": ("delay k of the reconstructed input s_{t-k}", "step"),
    })
    ds.attrs.update(provenance_attrs("memory_capacity", system, dict(
        max_lag=L, steps=steps, washout=washout, n_trajectories=n_traj, input_channel=channel,
        distribution=distribution, input_scale=scale, ridge=ridge, train_fraction=train_fraction,
        seed=int(seed), dtype=str(dtype).replace("torch.", ""))))
    return ds
