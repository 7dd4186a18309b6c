"""Jaeger's linear short-term memory capacity (Jaeger 2001; docs/science.md §5).

Drive the network with an i.i.d. scalar signal ``s_t`` in one input channel, read the
delayed signal ``s_{t−k}`` out of the state ``h_t`` with a least-squares readout per lag, and
score the fit on held-out time steps:

    MC_k = corr²(s_{t−k}, ŝ_k(t)),        MC = Σ_{k=0}^{max_lag} MC_k ≤ N

The bound ``N`` (the state size) holds for the exact correlations. The held-out estimate has
two finite-sample biases, both checked before any work: readouts of ``N + 1`` weights fitted
on too few steps overfit (capacity biased low), and every lag the state knows nothing about
still scores ``E[MC_k] = 1/(n_test − 1)`` by chance (``capacity_chance_level``), so summing
many lags over few test steps inflates ``MC``.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import xarray as xr

from ..errors import NumericalReliabilityWarning, OptionError
from .._core.divergence import DIVERGED_FLAGS, not_finite, warn_diverged
from .._core.options import (check_fraction, check_option, check_positive_float, check_positive_int,
                             renamed_option, resolve_dtype)
from .._core.result import Schema, Var, build_result
from .._core.trajectory import run_states
from ..system import System
from .kernel import LAG

__all__ = ["memory_capacity", "SCHEMA"]

_DEFAULT_STEPS, _DEFAULT_TRANSIENT = 2000, 100
_MIN_ROWS_PER_WEIGHT, _GOOD_ROWS_PER_WEIGHT = 2, 10  # training steps per readout weight
_CHANCE_SHARE = 0.05  # warn when chance could add more than this fraction of the bound N
_TARGET_ELEMENTS = 2**22  # delayed-signal targets built per chunk of steps (32 MiB in float64)
_ROWS_PER_CHUNK = 256  # state rows per chunk of the run (at least 4 (S + 1): the QR update's
#                        stacked factor is a small part of it)
_CONSTANT_STD = 1e3 * np.finfo(float).eps  # a column's std (units of its peak) below this: constant


def _signal(distribution, scale, shape, seed) -> np.ndarray:
    g = np.random.default_rng(int(seed))
    if distribution == "uniform":
        return g.uniform(-scale, scale, shape)
    return scale * g.standard_normal(shape)


def _as_signal(inputs) -> np.ndarray:
    """The user's signal series as ``(trajectory, time)`` float64."""
    s = inputs.detach().cpu().numpy() if isinstance(inputs, torch.Tensor) else np.asarray(inputs)
    if s.ndim == 3 and s.shape[2] == 1:
        s = s[..., 0]
    if s.ndim != 2 or s.shape[0] < 1 or s.shape[1] < 2 or not np.issubdtype(s.dtype, np.number):
        raise OptionError(f"inputs (the signal s_t) must have shape (trajectory, time) or (trajectory, "
                          f"time, 1), got shape {np.shape(inputs)}")
    s = s.astype(np.float64)
    if not np.isfinite(s).all():
        raise OptionError("inputs (the signal s_t) contain NaN or inf values")
    return s


class _Fit:
    """Streamed least squares of targets ``Y (rows, K)`` on ``[1, X]`` (``X (rows, S)``): the
    triangular factor ``R`` of ``[1, X]`` and ``b = Qᵀ Y``, updated a chunk of rows at a time
    by the QR of ``[[R, b], [1, X_c, Y_c]]`` (tall-skinny QR: memory ``(S + 1)(S + 1 + K)``
    whatever the number of rows, and the conditioning of ``X`` itself, not squared as in the
    normal equations). Because the first column is the constant, ``R[1:, 1:]`` is the factor
    of the *centred* ``X`` and ``b[1:]`` its part of ``Y``: ``X − x̄ = Q₁ R[1:, 1:]``,
    ``Q₁ᵀ Y = b[1:]``. Columns are kept scaled by ``scale`` (a running peak, so squares of huge
    states do not overflow; rescaling a column of ``X`` rescales that column of ``R`` only)."""

    def __init__(self, S: int, K: int):
        self.R, self.b, self.n = np.zeros((0, S + 1)), np.zeros((0, K)), 0
        self.scale = np.ones(S)

    def rescale(self, scale: np.ndarray) -> None:
        self.R[:, 1:] *= self.scale / scale
        self.scale = scale

    def add(self, X: np.ndarray, Y: np.ndarray) -> None:
        A = np.concatenate([self.R, np.concatenate([np.ones((len(X), 1)), X / self.scale], 1)])
        Q, self.R = np.linalg.qr(A)
        self.b = Q.T @ np.concatenate([self.b, Y])
        self.n += len(X)


def _weights(fit: _Fit, ridge: float) -> np.ndarray:
    """Readout weights ``(S, K)`` on the centred states (in ``fit.scale`` units), as
    `numpy.linalg.lstsq` on the standardised states ``Z = (X − x̄)/σ``: ``Z = Q₁ R_z`` with
    ``R_z = R[1:, 1:]/σ`` has the singular values and right vectors of ``Z``; those below
    ``eps · max(n, S) · s_max`` are dropped, ``ridge > 0`` adds ``ridge · mean(s²)`` to ``s²``.
    A column whose std is below ``1e3 · eps`` of its peak is constant up to round-off and left
    out (as an exactly constant one, whose std is 0)."""
    Rx, n = fit.R[1:, 1:], fit.n
    sx = np.linalg.norm(Rx, axis=0) / np.sqrt(n)  # the training std of each (scaled) column
    flat = sx <= _CONSTANT_STD  # a constant column (in units of its peak): no information
    sx = np.where(flat, 1.0, sx)
    Rz = np.where(flat, 0.0, Rx / sx)
    U, sv, Vt = np.linalg.svd(Rz)
    keep = sv > np.finfo(float).eps * max(n, Rz.shape[1]) * (sv[0] if sv.size else 0.0)
    lam = ridge * float(np.mean(sv ** 2)) if sv.size else 0.0
    gain = np.zeros_like(sv)
    gain[keep] = sv[keep] / (sv[keep] ** 2 + lam)
    return (Vt.T @ (gain[:, None] * (U.T @ fit.b[1:]))) / sx[:, None]


class _Pass:
    """One driven run of the network for `memory_capacity`, chunk by chunk: the training fit,
    the held-out fit, held-out target sums, divergence and the growth of the states."""

    def __init__(self, sys_, s: np.ndarray, c: dict):
        B, T, S = s.shape[0], c["steps"], sys_.state_size
        K, start = c["L"] + 1, c["transient"]
        self.sys_, self.s, self.c, self.lags = sys_, s, c, np.arange(K)
        self.train, self.test = _Fit(S, K), _Fit(S, K)
        self.split = start + c["n_train"]  # the first held-out time
        self.shift = float(s.mean())  # targets summed about this: no cancellation
        self.ysum, self.ysq = np.zeros(K), np.zeros(K)
        self.diverged, self.peak = np.zeros(B, bool), np.zeros(S)
        tenth = max(1, (T - start) // 10)
        self.head, self.tail = (start, start + tenth), (T - tenth, T)
        self.head_max, self.tail_max = np.zeros(B), np.zeros(B)
        self.chunk = max(1, min(-(-max(_ROWS_PER_CHUNK, 4 * (S + 1)) // B), _TARGET_ELEMENTS // (B * K)))

    def run(self) -> "_Pass":
        c, s = self.c, self.s
        B, T = s.shape
        sys_ = self.sys_
        h = sys_.initial_state(B, dtype=c["dtype"], device=c["device"])
        for a in range(0, T, self.chunk):
            e = min(T, a + self.chunk)
            x = torch.zeros(B, e - a, sys_.input_size, dtype=c["dtype"], device=h.device)
            x[:, :, c["channel"]] = torch.as_tensor(s[:, a:e], dtype=c["dtype"])
            states = run_states(sys_, x, h)
            h = states[:, -1]
            H = states.cpu().numpy()
            self.diverged |= not_finite(H)
            for (lo, hi), peak in ((self.head, self.head_max), (self.tail, self.tail_max)):
                if lo < e and hi > a:
                    np.maximum(peak, np.abs(H[:, max(lo, a) - a:min(hi, e) - a]).max((1, 2)), out=peak)
            for lo, hi, fit in ((c["transient"], self.split, self.train), (self.split, T, self.test)):
                lo, hi = max(lo, a), min(hi, e)
                if lo < hi:
                    self._add(fit, H[:, lo - a:hi - a], np.arange(lo, hi))
        return self

    def _add(self, fit: _Fit, H: np.ndarray, t: np.ndarray) -> None:
        X = H.reshape(-1, H.shape[2])
        if fit is self.train:  # the running peak of the training states, as the scale
            peak = np.abs(X).max(0)
            self.peak = np.maximum(self.peak, np.where(np.isfinite(peak), peak, 0.0))
            fit.rescale(np.where(self.peak > 0, self.peak, 1.0))
        elif fit.n == 0:  # every training row came before: the held-out ones in its units
            fit.scale = self.train.scale.copy()
        Y = self.s[:, t[:, None] - self.lags[None, :]].reshape(-1, len(self.lags))  # s_{t−k}
        fit.add(X, Y)
        if fit is self.test:
            self.ysum += (Y - self.shift).sum(0)
            self.ysq += ((Y - self.shift) ** 2).sum(0)

    def r2(self, ridge: float) -> np.ndarray:
        """Squared held-out correlation per lag of the training fit's readout."""
        w = _weights(self.train, ridge)
        pred = self.test.R[1:, 1:] @ w  # Q₁ᵀ (centred held-out predictions)
        cross, pp = (pred * self.test.b[1:]).sum(0), (pred * pred).sum(0)
        yy = self.ysq - self.ysum ** 2 / self.test.n
        denom = pp * yy
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denom > 0, cross ** 2 / denom, 0.0)


def check_capacity_options(system: System, *, max_lag: int, steps: int | None = None,
                           transient: int | None = None, n_trajectories: int | None = None,
                           input_channel: int = 0, distribution: str = "uniform", input_scale: float = 0.5,
                           ridge: float = 0.0, train_fraction: float = 0.7, seed: int = 0,
                           dtype=torch.float64, device=None, inputs=None, washout: int | None = None,
                           stacklevel: int = 4) -> dict:
    """Checked options of `memory_capacity` and the signal (nothing is run)."""
    dtype = resolve_dtype(dtype)
    L = check_positive_int("max_lag", max_lag, minimum=0)
    if washout is not None:
        washout = check_positive_int("washout", washout, minimum=0)
    transient = renamed_option("washout", washout, "transient", transient, default=None,
                               analysis="memory_capacity", stacklevel=stacklevel)
    if system.input_size < 1:
        raise OptionError("memory_capacity needs a system with inputs (input_size > 0)")
    channel = check_positive_int("input_channel", input_channel, minimum=0, maximum=system.input_size - 1)
    check_option("distribution", distribution, ("uniform", "gaussian"))
    scale = check_positive_float("input_scale", input_scale)
    ridge = check_positive_float("ridge", ridge, allow_zero=True)
    train_fraction = check_fraction("train_fraction", train_fraction)
    if inputs is not None:
        s = _as_signal(inputs)
        for name, value, own in (("steps", steps, s.shape[1]), ("n_trajectories", n_trajectories, s.shape[0])):
            if value is not None and check_positive_int(name, value) != own:
                raise OptionError(f"{name}={value} disagrees with the given inputs ({own}); leave {name} "
                                  "out when passing inputs")
        n_traj, steps = s.shape
    else:
        n_traj = 1 if n_trajectories is None else check_positive_int("n_trajectories", n_trajectories)
        steps = _DEFAULT_STEPS if steps is None else check_positive_int("steps", steps, minimum=2)
        s = None
    if transient is None:
        transient = max(_DEFAULT_TRANSIENT, L)
    else:
        transient = check_positive_int("transient", transient, minimum=0)
        if transient < L:
            raise OptionError(f"transient ({transient}) must be >= max_lag ({L}) so that the delayed signal "
                              f"s_(t-k) of every scored step exists; raise transient to {L} or lower max_lag")
    scored = steps - transient
    n_train = int(round(train_fraction * scored))
    if scored < 2 or not 1 <= n_train < scored:
        raise OptionError(f"steps ({steps}) leave {max(scored, 0)} scored steps after transient ({transient}); "
                          f"raise steps to at least {transient + max(L + 2, 2 * _MIN_ROWS_PER_WEIGHT)}")
    if L >= scored:
        raise OptionError(f"max_lag ({L}) must be smaller than the scored steps (steps - transient = {scored}); "
                          f"raise steps to at least {transient + L + 1}")
    rows, weights = n_traj * n_train, system.state_size + 1
    if rows < _MIN_ROWS_PER_WEIGHT * weights:
        raise OptionError(f"memory_capacity: {rows} training steps (train_fraction x (steps - transient) x "
                          f"n_trajectories) for readouts of {weights} weights (state_size + 1); at least "
                          f"{_MIN_ROWS_PER_WEIGHT * weights} are needed ({_GOOD_ROWS_PER_WEIGHT * weights} for a "
                          "capacity that is not biased low): raise steps or n_trajectories")
    n_test = n_traj * (scored - n_train)
    chance = 1.0 / max(n_test - 1, 1)
    options = dict(max_lag=L, steps=steps, transient=transient, n_trajectories=n_traj, input_channel=channel,
                   signal="given" if s is not None else distribution,
                   distribution=distribution if s is None else "given", input_scale=scale if s is None else None,
                   ridge=ridge, train_fraction=train_fraction, seed=int(seed), dtype=dtype)
    return {"signal": s, "L": L, "steps": steps, "transient": transient, "n_traj": n_traj, "channel": channel,
            "distribution": distribution, "scale": scale, "ridge": ridge, "n_train": n_train,
            "rows": rows, "weights": weights, "chance": chance, "seed": seed, "dtype": dtype,
            "device": device, "options": options}


def _warn_unreliable(c: dict, state_size: int, stacklevel: int) -> None:
    if c["rows"] < _GOOD_ROWS_PER_WEIGHT * c["weights"]:
        warnings.warn(f"memory_capacity: {c['rows']} training steps for readouts of {c['weights']} weights "
                      f"overfit (fewer than {_GOOD_ROWS_PER_WEIGHT} per weight): the capacity is biased low; "
                      "raise steps or n_trajectories", NumericalReliabilityWarning, stacklevel=stacklevel)
    chance_total = (c["L"] + 1) * c["chance"]
    if chance_total > _CHANCE_SHARE * state_size:
        warnings.warn(f"memory_capacity: summed over {c['L'] + 1} lags, chance correlation on the held-out "
                      f"steps adds about {chance_total:.3g} to the capacity (1/(n_test - 1) = {c['chance']:.2g} "
                      f"per lag, bound N = {state_size}); raise steps or lower max_lag",
                      NumericalReliabilityWarning, stacklevel=stacklevel)


def capacity_data(system: System, c: dict, *, stacklevel: int = 4) -> tuple[dict, dict]:
    """``(data, coords)`` of the capacity result from `check_capacity_options`' output (the work)."""
    _warn_unreliable(c, system.state_size, stacklevel)
    L, T, n_traj = c["L"], c["steps"], c["n_traj"]
    s = c["signal"] if c["signal"] is not None else _signal(c["distribution"], c["scale"], (n_traj, T), c["seed"])
    sys_ = system.to(dtype=c["dtype"], device=c["device"])
    run = _Pass(sys_, s, c).run()  # h_t after x_t, t = 0..T-1, streamed: nothing of length T kept
    diverged = run.diverged
    warn_diverged(diverged, analysis="memory_capacity", stacklevel=stacklevel)
    ok = ~diverged
    lags = np.arange(L + 1)
    if ok.any():
        if diverged.any():  # the fits saw the diverged rows too: again on the finite trajectories
            run = _Pass(sys_, s[ok], c).run()
        growth = run.tail_max.max() / max(run.head_max.max(), np.finfo(float).tiny)
        if growth > 1e6:
            warnings.warn(f"memory_capacity: the driven states grow without bound (x{growth:.3g} over the run): "
                          "the readouts see mostly the fastest-growing mode and the capacity is not meaningful",
                          NumericalReliabilityWarning, stacklevel=stacklevel)
        r2 = run.r2(c["ridge"])
    else:
        r2 = np.full(L + 1, np.nan)
    total = float(r2.sum())
    if total > system.state_size * (1 + 1e-9):  # beyond round-off
        warnings.warn(f"memory_capacity: MC = {total:.4g} exceeds its bound N = {system.state_size} (the state "
                      f"size); lags the state knows nothing about score {c['chance']:.2g} each by chance on the "
                      "held-out steps: raise steps or lower max_lag", NumericalReliabilityWarning,
                      stacklevel=stacklevel)
    data = {"capacity": r2, "memory_capacity": total, "capacity_chance_level": c["chance"], "diverged": diverged}
    return data, {"lag": lags, "trajectory": np.arange(n_traj)}


def memory_capacity(system: System, *, max_lag: int, steps: int | None = None, transient: int | None = None,
                    n_trajectories: int | None = None, input_channel: int = 0, distribution: str = "uniform",
                    input_scale: float = 0.5, ridge: float = 0.0, train_fraction: float = 0.7,
                    seed: int = 0, dtype=torch.float64, device=None, inputs=None,
                    washout: int | None = None) -> xr.Dataset:
    """Linear memory capacity per lag and in total (Jaeger 2001).

    Parameters
    ----------
    system : System
        A step map with inputs.
    max_lag : int
        Largest delay ``k``.
    steps : int, optional
        Length of each driven trajectory, transient included (default 2000; the length of
        ``inputs`` when they are given). ``steps − transient`` steps are scored.
    transient : int, optional
        Steps run before scoring starts, at least ``max_lag`` (so that the delayed signal of
        every scored step exists). Default ``max(100, max_lag)``.
    n_trajectories : int, optional
        Independent driven trajectories pooled in the regression (default 1; the number of
        rows of ``inputs`` when they are given).
    input_channel : int, default 0
        Channel that carries the signal; the others are held at 0.
    distribution : {"uniform", "gaussian"}, default "uniform"
        ``s_t ~ U(−input_scale, input_scale)`` or ``N(0, input_scale²)``, i.i.d., seeded
        (unused when ``inputs`` are given).
    input_scale : float, default 0.5
    ridge : float, default 0.0
        Tikhonov penalty relative to the mean eigenvalue of the Gram matrix of the standardised
        states; 0 is ordinary least squares (Jaeger's Wiener–Hopf readout), solved through the
        QR of the states (updated chunk by chunk as the network runs, so memory does not grow
        with ``steps``) and the SVD of its triangular factor. Why 0: a linear network stores
        delay ``k`` in state directions of variance ``~ρ^{2k}``, so the state covariance is
        ill-conditioned by construction and any fixed relative ridge removes the far lags. On
        a random Gaussian reservoir (N = 20, ρ = 0.9, exact MC = 20, 40 000 steps) relative
        ridges of 1e-8 (the former default) and 1e-12 give 17.8 and 19.2 where least squares
        gives 20.0; on an orthogonal one all agree. QR and SVD keep least squares stable up to
        condition numbers of the states of ``~1/eps`` (the normal equations would square it).
    train_fraction : float, default 0.7
        Leading fraction of each trajectory's scored steps used for fitting; the rest scores.
    seed : int, default 0
        Seed of the signal.
    dtype : torch.dtype or str, default float64
    device : optional
    inputs : array or Tensor, shape (trajectory, time) or (trajectory, time, 1), optional
        Your own signal series ``s_t`` (fed into ``input_channel``) instead of the seeded i.i.d.
        one, e.g. to compare with another tool on the same data. The bound ``MC ≤ N`` and
        ``MC_k = 1`` for a shift register assume an i.i.d. signal.
    washout : int, optional
        Former name of ``transient`` (deprecated; same meaning).

    Returns
    -------
    xarray.Dataset
        ``capacity (lag)``: ``MC_k``, the squared correlation between ``s_{t−k}`` and its
        read-out from ``h_t`` on held-out steps; ``memory_capacity``: ``Σ_k MC_k`` (NaN when
        every trajectory diverged); ``capacity_chance_level``: ``1/(n_test − 1)``, the
        expected ``MC_k`` of a lag the state holds nothing about (``n_test`` held-out steps
        pooled over trajectories); ``diverged (trajectory)``: 1 where the driven state became
        NaN/inf (left out of the regression, with a `dynalysis.DivergenceWarning`).

    Raises
    ------
    OptionError
        Before any work: too few scored steps for ``max_lag`` (``max_lag < steps − transient``),
        or fewer than 2 training steps per readout weight (``state_size + 1``).

    Warns
    -----
    NumericalReliabilityWarning
        Fewer than 10 training steps per readout weight (capacity biased low); chance
        correlation summed over the lags above 5 % of the bound N; a total above N; states
        that grow without bound.

    Notes
    -----
    Lag 0 (the current input) is included, so a shift register of N units has ``MC_k = 1``
    for ``k = 0..N−1`` and ``MC = N``. Readouts see the state (plus a bias), not the system's
    own readout. Each lag's held-out score is an estimate: readouts fitted on ``n`` steps lose
    about ``(N + 1)/n`` per remembered lag, and each lag beyond the memory adds
    ``capacity_chance_level`` on average.

    References
    ----------
    H. Jaeger, "Short term memory in echo state networks", GMD Report 152 (2001).

    Examples
    --------
    >>> import torch, dynalysis
    >>> shift = dynalysis.MapSystem(lambda h, x: torch.cat([x, h[:, :-1]], 1), 4, 1)
    >>> ds = dynalysis.memory_capacity(shift, max_lag=3)
    >>> ds.capacity.values.round(12).tolist(), round(float(ds.memory_capacity), 9)
    ([1.0, 1.0, 1.0, 1.0], 4.0)
    """
    c = check_capacity_options(system, max_lag=max_lag, steps=steps, transient=transient,
                               n_trajectories=n_trajectories, input_channel=input_channel,
                               distribution=distribution, input_scale=input_scale, ridge=ridge,
                               train_fraction=train_fraction, seed=seed, dtype=dtype, device=device,
                               inputs=inputs, washout=washout)
    data, coords = capacity_data(system, c)
    return build_result(SCHEMA, data, coords, system=system, options=c["options"])


SCHEMA = Schema("memory_capacity", description="linear memory capacity (Jaeger)", variables={
    "capacity": Var(("lag",), "memory capacity MC_k: squared correlation of s_{t-k} with its readout"),
    "memory_capacity": Var((), "total linear memory capacity sum_k MC_k"),
    "capacity_chance_level": Var((), "expected MC_k of a lag the state holds no information about, "
                                     "1/(n_test - 1)"),
    "diverged": Var(("trajectory",), "driven trajectory diverged (NaN/inf state)", flags=DIVERGED_FLAGS),
}, coords={"lag": LAG, "trajectory": Var(("trajectory",), "trajectory index")})
