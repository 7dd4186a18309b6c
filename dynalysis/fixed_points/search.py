"""Fixed points and slow points of a step map at constant inputs (Sussillo & Barak 2013).

    q(h) = ½ ‖F(h, x*) − h‖²        fixed point: q = 0;  slow point: a local minimum with small q

searched once per *input condition* ``x*`` (`conditions.py`), minimised from many starts at once
by Levenberg–Marquardt (`solver.py`) from starts drawn around the visited states (`starts.py`);
end states are split into fixed / slow / unconverged and de-duplicated relative to the state's
scale (`classify.py`), and forward simulation checks that no attractor was missed
(`crosscheck.py`).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import xarray as xr

from .._core.divergence import warn_diverged
from .._core.inputs import as_inputs
from .._core.options import (check_fraction, check_positive_float, check_positive_int,
                             resolve_dtype)
from .._core.result import build_result
from ..errors import MissedAttractorWarning, OptionError
from ..system import System
from .classify import KIND, STABILITY, STATUS, classify
from .conditions import resolve_conditions
from .crosscheck import count_missed, settle, simulate_attractors
from .schema import SCHEMA
from .solver import levenberg_marquardt
from .starts import as_starts, pca_frame, sample_starts, state_scale

__all__ = ["find_fixed_points", "SCHEMA", "KIND", "STABILITY", "STATUS"]

#: the defaults before the search was tuned on trained GRU/LSTM flip-flops (for comparisons)
OLD_DEFAULTS = dict(n_starts=64, start_noise=0.1, initial_fraction=0.25, extreme_fraction=0.0, settle_fraction=0.0,
                    max_iter=200)


def _check_noise(start_noise) -> tuple[float, ...]:
    values = start_noise if isinstance(start_noise, (list, tuple)) else [start_noise]
    if not values:
        raise OptionError("start_noise is empty; give a float >= 0 or a list of them, e.g. (0.05, 0.25, 1.0)")
    return tuple(check_positive_float("start_noise", v, allow_zero=True) for v in values)


def find_fixed_points(system: System, inputs=None, *, conditions=None, constant_input=None, starts=None,
                      n_starts: int = 128, start_noise=(0.05, 0.25, 1.0), initial_fraction: float = 0.1,
                      extreme_fraction: float = 0.125, settle_fraction: float = 0.25, transient: int = 0,
                      max_iter: int = 200,
                      tol: float = 1e-12, slow_tol: float = 1e-6, dedupe_tol: float = 1e-3,
                      manifold_tol: float = 0.05, marginal_tol: float = 1e-6, check_starts: int = 64,
                      check_steps: int = 10_000, seed: int = 0, dtype=torch.float64, device=None,
                      trace_points: int = 300) -> xr.Dataset:
    """Fixed points and slow points of the step map at constant inputs, one search per condition.

    Parameters
    ----------
    system : System
        A step map (`dynalysis.load_checkpoint`, `dynalysis.MapSystem`, ...).
    inputs : Tensor or ndarray, shape (trajectory, time, input_size), optional
        Driving inputs; starts are drawn around the states that the trajectories which stay
        finite visit (after ``transient``). At most `starts.VISITED_CAP` states (a uniform
        stride in time) are kept: they define the PCA frame, the starts and the cross-check,
        so memory does not grow with the number of steps.
    conditions : str, array, mapping or list, default "zero"
        The constant inputs ``x*`` to search at, each a ``condition`` of the result: ``"zero"``
        (the autonomous dynamics), ``"mean"`` (the mean of ``inputs``), ``"symbols"`` (each
        distinct one-hot vector of ``inputs``, named ``onehot_k``), a vector of shape
        ``(input_size,)``, a ``(C, input_size)`` array, a ``{name: vector}`` mapping (e.g. a
        task's ``input_conditions()``), or a list of these.
    constant_input : optional
        One condition (``"zero"``, ``"mean"`` or a vector); the same as ``conditions=[...]``.
        Give one of ``conditions`` and ``constant_input``.
    starts : array, shape (n, state_size), optional
        Explicit starting states, used for every condition (then ``inputs`` only provide the
        PCA frame and the cross-check).
    n_starts : int, default 128
        Starts drawn per condition when ``starts`` is not given.
    start_noise : float or sequence of floats, default (0.05, 0.25, 1.0)
        Gaussian noise added to the starts in units of the per-dimension standard deviation of
        the visited states (absolute units without ``inputs``); with several values, start ``k``
        gets the ``k mod len``-th (a ladder of scales).
    initial_fraction : float, default 0.1
        Fraction of the starts placed around the system's initial state.
    extreme_fraction : float, default 0.125
        Fraction of the starts at extremes of the visited states (each coordinate pushed to its
        visited maximum or minimum: where units and gates saturate).
    settle_fraction : float, default 0.25
        Fraction of the starts that are visited states spread over the cloud, *settled* at each
        condition by forward simulation (at most ``check_steps`` steps, extrapolated along the
        slowest mode) before solving: attractors far from every visited state, in basins the
        noisy starts leave, are reached this way.
    transient : int, default 0
        Trajectory steps not used as starts (they still enter the PCA frame).
    max_iter : int, default 200
        Levenberg–Marquardt iterations (each start stops as soon as it has converged).
    tol : float, default 1e-12
        ``q < tol``: a fixed point.
    slow_tol : float, default 1e-6
        A local minimum of q with ``tol ≤ q < slow_tol``: a slow point; other end states are
        unconverged and not reported as points.
    dedupe_tol : float, default 1e-3
        End states closer than ``dedupe_tol × scale`` are one point (scale: RMS distance of
        the visited states from their mean, `state_scale`).
    manifold_tol : float, default 0.05
        Slow and marginal points closer than ``manifold_tol × scale`` (transitively) are one
        entry, with its ``extent``: a slow manifold is summarised, not listed point by point.
    marginal_tol : float, default 1e-6
        ``|ρ − 1| ≤ marginal_tol`` is marginal; ``ρ`` the spectral radius of ``J(h*)``.
    check_starts, check_steps : int, default 64 and 10 000
        Cross-check: the map is iterated at each condition from ``check_starts`` visited states
        (other than the settled starts) for at most ``check_steps`` steps, extrapolated along
        the slowest mode and stopped when the remaining distance is below the de-duplication
        radius; 0 turns it off (``check_steps=0`` also leaves the settled starts where they are).
    seed : int, default 0
        Seed of the choice of starts and of the noise.
    dtype : torch.dtype or str, default float64
    device : optional
    trace_points : int, default 300
        Time points of the trajectories kept (in PCA coordinates) for plots.

    Returns
    -------
    xarray.Dataset
        Over ``fixed_point`` (all conditions, fixed points first within each): ``state
        (fixed_point, state_dim)``, ``q``, ``kind`` (flag: fixed, slow),
        ``fixed_point_condition``, ``extent``, ``start_count``, ``eigenvalue (fixed_point,
        eigen_index)`` (complex, decreasing modulus), ``spectral_radius``, ``n_unstable``,
        ``stability`` (flag: stable, marginal, unstable) and ``unstable_direction
        (fixed_point, state_dim)``. Over ``start`` (condition-major): ``start_q``,
        ``start_assignment`` (-1: no point), ``start_status`` (flag: fixed, slow, unconverged,
        diverged), ``start_condition``, ``diverged``. Over ``condition`` (coordinate: the
        names): ``constant_input (condition, input_dim)``, ``n_fixed_points``, ``n_stable``,
        ``n_saddles``, ``n_slow``, ``n_unconverged``, ``simulated_attractors`` and
        ``missed_attractors`` (-1: not checked), ``unsettled_simulations`` (simulations that
        ended on no fixed point; -1: not checked) and ``simulated_period`` (the shortest period
        ≤ 8 of a periodic orbit a simulation ended on; 0: none). PCA frame ``pca_mean``, ``pca_components (pc,
        state_dim)``, ``pca_explained_variance (pc)``, ``pca_total_variance``,
        ``fixed_point_pc (fixed_point, pc)`` and, with ``inputs``, ``trajectory_pc
        (trajectory, time, pc)`` and ``trajectory_diverged (trajectory)``.

    Warns
    -----
    MissedAttractorWarning
        Forward simulation reached a stable fixed point the search did not report, or ended
        on a periodic orbit (an attracting or marginal cycle: no fixed point).
    DivergenceWarning
        Driving trajectories or starts became NaN/inf (flagged; they find nothing).

    Notes
    -----
    ``q(h) = ½‖F(h, x*) − h‖²`` is minimised by Levenberg–Marquardt on ``G = F − h`` (the
    Gauss–Newton matrix ``AᵀA`` with ``A = J − I`` and Levenberg damping), so unstable fixed
    points are found as readily as stable ones. Stability: ``ρ(J(h*)) < 1 − marginal_tol``
    stable, ``> 1 + marginal_tol`` unstable, otherwise marginal. For a flow integrated with
    step ``dt`` (`dynalysis.FlowSystem`) the fixed points of the step are the zeros of ``f``
    and ``|λ(∂Φ)| < 1 ⇔ Re λ(∂f) < 0``. The defaults were tuned on trained flip-flop GRUs,
    LSTMs and WCRNNs; the GRUs' attractors contract by only ~1e-4 a step and lie ~1 state unit
    from every visited state, which the settled starts reach (`OLD_DEFAULTS` are the earlier
    ones, which missed some of them).

    References
    ----------
    D. Sussillo, O. Barak, "Opening the black box: low-dimensional dynamics in
    high-dimensional recurrent neural networks", Neural Computation 25 (2013) 626–649.
    M. D. Golub, D. Sussillo, "FixedPointFinder", JOSS 3 (2018) 1003.

    Examples
    --------
    >>> import torch, dynalysis
    >>> bistable = dynalysis.MapSystem(lambda h, x: torch.tanh(2 * h), 1)
    >>> ds = dynalysis.find_fixed_points(bistable, starts=torch.linspace(-2, 2, 9)[:, None])
    >>> sorted(ds.state.values[:, 0].round(4).tolist())
    [-0.9575, 0.0, 0.9575]
    >>> ds.stability.values[ds.state.values[:, 0].argsort()].tolist()  # stable, unstable, stable
    [0, 2, 0]
    """
    # every option, input, condition and start is checked before the first step of the map
    dtype = resolve_dtype(dtype)
    max_iter = check_positive_int("max_iter", max_iter)
    trace_points = check_positive_int("trace_points", trace_points)
    n_starts = check_positive_int("n_starts", n_starts)
    transient = check_positive_int("transient", transient, minimum=0)
    check_starts = check_positive_int("check_starts", check_starts, minimum=0)
    check_steps = check_positive_int("check_steps", check_steps, minimum=0)
    tol, slow_tol, dedupe_tol, manifold_tol, marginal_tol = (check_positive_float(name, val) for name, val in (
        ("tol", tol), ("slow_tol", slow_tol), ("dedupe_tol", dedupe_tol), ("manifold_tol", manifold_tol),
        ("marginal_tol", marginal_tol)))
    noise = _check_noise(start_noise)
    initial_fraction = check_fraction("initial_fraction", initial_fraction, closed=True)
    extreme_fraction = check_fraction("extreme_fraction", extreme_fraction, closed=True)
    settle_fraction = check_fraction("settle_fraction", settle_fraction, closed=True)
    if initial_fraction + extreme_fraction > 1:
        raise OptionError(f"initial_fraction + extreme_fraction ({initial_fraction} + {extreme_fraction}) "
                          "must be <= 1")
    if initial_fraction + extreme_fraction + settle_fraction > 1:
        raise OptionError(f"initial_fraction + extreme_fraction + settle_fraction ({initial_fraction} + "
                          f"{extreme_fraction} + {settle_fraction}) must be <= 1")
    if slow_tol < tol:
        raise OptionError(f"slow_tol ({slow_tol}) must be >= tol ({tol})")
    if manifold_tol < dedupe_tol:
        raise OptionError(f"manifold_tol ({manifold_tol}) must be >= dedupe_tol ({dedupe_tol})")
    if conditions is not None and constant_input is not None:
        raise OptionError("give conditions=... or constant_input=..., not both (constant_input=v is "
                          "conditions=[v])")
    S = system.state_size
    x = None if inputs is None else as_inputs(system, inputs, dtype=dtype, device=device, min_steps=transient + 1,
                                              needed_for=f"transient={transient} + 1")
    if constant_input is not None:
        if isinstance(constant_input, str) and constant_input not in ("zero", "mean"):
            raise OptionError(f"invalid constant_input={constant_input!r}; allowed values: 'zero', 'mean', "
                              f"or an array of shape ({system.input_size},)")
        conditions = [constant_input] if isinstance(constant_input, str) else [np.asarray(constant_input)]
    option = "conditions" if constant_input is None else "constant_input"
    try:
        names, x_stars = resolve_conditions(system, conditions, x, dtype=dtype, device=device)
    except OptionError as e:
        raise (e if str(e).startswith(option) or f"{option}=" in str(e) else OptionError(f"{option}: {e}")) from None
    given = as_starts(starts, S, dtype=dtype, device=device)

    sys_ = system.to(dtype=dtype, device=device)
    h0, traj, info = sample_starts(sys_, x, given, n_starts=n_starts, noise=noise,
                                   initial_fraction=initial_fraction, extreme_fraction=extreme_fraction,
                                   transient=transient, seed=seed, dtype=dtype, device=device,
                                   settle_fraction=settle_fraction, trace_points=trace_points)
    scale = state_scale(info["visited"], h0.cpu())
    dedupe_radius, manifold_radius = dedupe_tol * scale, manifold_tol * scale
    n = h0.shape[0]
    parts, missed, simulated, unsettled, periods = [], [], [], [], []
    for c, name in enumerate(names):
        x_star = x_stars[c:c + 1]
        h_c, rows = h0.clone(), torch.as_tensor(info["settle_rows"], device=h0.device)
        if len(rows):
            h_c[rows] = settle(sys_, h0[rows], x_star.expand(len(rows), -1), steps=check_steps,
                               radius=dedupe_radius, max_jump=scale)
        h, q, stop = levenberg_marquardt(sys_, h_c, x_star.expand(n, -1), max_iter=max_iter, tol=tol)
        part = classify(sys_, h.cpu().numpy(), q.cpu().numpy(), stop.cpu().numpy(), x_star, tol=tol,
                        slow_tol=slow_tol, dedupe_radius=dedupe_radius, manifold_radius=manifold_radius,
                        marginal_tol=marginal_tol)
        part["start_q"] = q.cpu().numpy()
        parts.append(part)
        if info["visited"] is None or check_starts == 0 or check_steps == 0:
            simulated.append(-1), missed.append(-1), unsettled.append(-1), periods.append(0)
            continue
        attractors, n_unsettled, period = simulate_attractors(
            sys_, info["visited"], x_star, n_starts=check_starts, steps=check_steps, tol=tol, radius=dedupe_radius,
            marginal_tol=marginal_tol, seed=seed, max_jump=scale)
        unsettled.append(n_unsettled), periods.append(period)
        stable = part["state"][(part["stability"] == 0) & (part["kind"] == 0)]
        simulated.append(len(attractors))
        missed.append(count_missed(attractors, stable, max(dedupe_radius, manifold_radius * 0.1)))
    if any(m > 0 for m in missed):
        which = ", ".join(f"{m} at {nm!r}" for m, nm in zip(missed, names) if m > 0)
        warnings.warn(f"find_fixed_points: forward simulation reached stable fixed points the search did not "
                      f"report ({which}); they are counted in 'missed_attractors'. More starts (n_starts) or "
                      "iterations (max_iter) may find them", MissedAttractorWarning, stacklevel=2)
    if any(p > 0 for p in periods):
        which = ", ".join(f"period {p} at {nm!r}" for p, nm in zip(periods, names) if p > 0)
        warnings.warn(f"find_fixed_points: forward simulation ended on periodic orbits ({which}): cycles, "
                      "attracting or marginal (a rotation), that are not fixed points and that this search cannot "
                      "report; 'unsettled_simulations' counts the simulations that ended on no fixed point",
                      MissedAttractorWarning, stacklevel=2)

    def cat(key, dims=1):
        arrays = [p[key] for p in parts]
        return np.concatenate(arrays) if arrays else np.zeros((0,) * dims)

    status = cat("status")
    start_diverged = status == 3
    traj_diverged = info["trajectory_diverged"]
    warn_diverged({"trajectories": traj_diverged if traj_diverged is not None else [], "starts": start_diverged},
                  analysis="find_fixed_points")
    offsets = np.cumsum([0] + [len(p["q"]) for p in parts])
    assignment = np.concatenate([np.where(p["assignment"] >= 0, p["assignment"] + o, -1)
                                 for p, o in zip(parts, offsets)])
    points = cat("state").reshape(-1, S)
    use_traj = traj is not None and not traj_diverged.all()
    frame_states = traj[~traj_diverged].reshape(-1, S) if use_traj else h0.cpu().numpy()
    mean, comps, var = pca_frame(frame_states, n_pc=min(3, S))
    finite_frame = frame_states[np.isfinite(frame_states).all(1)]
    total_var = float(finite_frame.var(0, ddof=1).sum()) if len(finite_frame) > 1 else float("nan")
    per_cond = lambda f: np.array([f(p) for p in parts], dtype=np.int32)  # noqa: E731
    data = {
        "state": points, "q": cat("q"), "kind": cat("kind").astype(np.int8),
        "fixed_point_condition": np.repeat(np.arange(len(names)), np.diff(offsets)).astype(np.int32),
        "extent": cat("extent"), "start_count": cat("start_count").astype(np.int32),
        "eigenvalue": cat("eigenvalue").reshape(-1, S), "spectral_radius": cat("spectral_radius"),
        "n_unstable": cat("n_unstable").astype(np.int32), "stability": cat("stability").astype(np.int8),
        "unstable_direction": cat("unstable_direction").reshape(-1, S),
        "start_q": np.where(start_diverged, np.nan, cat("start_q")), "start_assignment": assignment.astype(np.int32),
        "start_status": status.astype(np.int8),
        "start_condition": np.repeat(np.arange(len(names)), n).astype(np.int32), "diverged": start_diverged,
        "constant_input": x_stars.cpu().numpy(),
        "n_fixed_points": per_cond(lambda p: (p["kind"] == 0).sum()),
        "n_stable": per_cond(lambda p: ((p["kind"] == 0) & (p["stability"] == 0)).sum()),
        "n_saddles": per_cond(lambda p: ((p["kind"] == 0) & (p["stability"] == 2)).sum()),
        "n_slow": per_cond(lambda p: (p["kind"] == 1).sum()),
        "n_unconverged": per_cond(lambda p: (p["status"] == 2).sum()),
        "simulated_attractors": np.array(simulated, dtype=np.int32), "missed_attractors": np.array(missed, np.int32),
        "unsettled_simulations": np.array(unsettled, np.int32), "simulated_period": np.array(periods, np.int32),
        "pca_mean": mean, "pca_components": comps, "pca_explained_variance": var,
        "pca_total_variance": total_var, "fixed_point_pc": (points - mean) @ comps.T,
    }
    coords = {"fixed_point": np.arange(len(points)), "condition": np.array(names, dtype=object),
              "state_dim": np.arange(S), "eigen_index": np.arange(S), "start": np.arange(n * len(names)),
              "input_dim": np.arange(system.input_size), "pc": np.arange(comps.shape[0])}
    if traj is not None:
        idx = info["trace"]
        with np.errstate(invalid="ignore", over="ignore"):
            pc = (traj[:, idx] - mean) @ comps.T
        data["trajectory_pc"] = np.where(np.isfinite(pc), pc, np.nan)
        data["trajectory_diverged"] = traj_diverged
        coords.update(trajectory=np.arange(traj.shape[0]), time=info["times"][idx])
    options = dict(conditions=names, starts=info["source"], n_starts=n, start_noise=list(noise),
                   initial_fraction=initial_fraction, extreme_fraction=extreme_fraction,
                   settle_fraction=settle_fraction, transient=transient,
                   max_iter=max_iter, tol=tol, slow_tol=slow_tol, dedupe_tol=dedupe_tol, manifold_tol=manifold_tol,
                   state_scale=scale, marginal_tol=marginal_tol, check_starts=check_starts,
                   check_steps=check_steps, seed=int(seed), dtype=dtype)
    return build_result(SCHEMA, data, coords, system=system, options=options)
