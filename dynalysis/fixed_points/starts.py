"""Where the fixed-point search starts: trajectory states, explicit states, or noise.

Also the constant input ``x*`` and the PCA frame used to draw fixed points with trajectories.
The checks (`constant_input_for`, `as_starts`) run before any step of the map; `sample_starts`
does the work.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import OptionError
from .._core.inputs import as_initial_state
from .._core.trajectory import run_kept, thin_indices
from .crosscheck import spread_picks

__all__ = ["constant_input_for", "as_starts", "drive", "sample_starts", "state_scale", "pca_frame", "VISITED_CAP"]


def constant_input_for(system, constant_input, x, *, dtype, device) -> torch.Tensor:
    """The constant input ``x*`` as a ``(1, input_size)`` tensor.

    ``None``/``"zero"``: zeros; ``"mean"``: mean of the checked inputs ``x`` over trajectories
    and time; an array of shape ``(input_size,)``: as given.
    """
    d = system.input_size
    if constant_input is None or (isinstance(constant_input, str) and constant_input == "zero"):
        return torch.zeros(1, d, dtype=dtype, device=device)
    if isinstance(constant_input, str):
        if constant_input != "mean":
            raise OptionError(f"invalid constant_input={constant_input!r}; allowed values: "
                              f"'zero', 'mean', or an array of shape ({d},)")
        if x is None:
            raise OptionError("constant_input='mean' needs inputs to average")
        return x.mean((0, 1)).reshape(1, d)
    x_star = torch.as_tensor(np.asarray(constant_input), dtype=dtype, device=device)
    if x_star.shape != (d,) or not torch.isfinite(x_star).all():
        raise OptionError(f"constant_input must be finite with shape ({d},), got shape {tuple(x_star.shape)}")
    return x_star.reshape(1, d)


def as_starts(starts, state_size: int, *, dtype, device) -> torch.Tensor | None:
    """Explicit starting states as a ``(n, state_size)`` tensor (None stays None)."""
    if starts is None:
        return None
    h0 = torch.as_tensor(np.asarray(starts), dtype=dtype, device=device)
    if h0.ndim != 2 or h0.shape[1] != state_size or h0.shape[0] < 1 or not torch.isfinite(h0).all():
        raise OptionError(f"starts must be finite with shape (n, state_size={state_size}), got {tuple(h0.shape)}")
    return h0.clone()


#: states kept from the driving trajectories, all trajectories together (a uniform stride in
#: time): the starts, the cross-check and the PCA frame use these, so memory is flat in T
VISITED_CAP = 4096


def drive(sys_, x, *, trace_points: int, dtype):
    """Run the driven map on ``x (B, T, d)`` keeping only some states.

    Returns ``kept (B, K, S)`` (numpy), the 0-based times ``(K,)`` kept (a uniform stride of at
    most ``VISITED_CAP // B`` per trajectory, united with the ``trace_points`` times drawn),
    the positions of the drawn times in ``kept`` and ``diverged (B,)`` (a trajectory that was
    ever not finite). Memory grows with ``K``, not with ``T``.
    """
    B, T = x.shape[:2]
    trace = thin_indices(T, trace_points)
    times = np.union1d(trace, thin_indices(T, max(1, VISITED_CAP // B)))
    h = as_initial_state(sys_, None, B, dtype=dtype, device=x.device)
    kept, bad = run_kept(sys_, x, h, times)
    return kept.cpu().numpy(), times, np.searchsorted(times, trace), bad.cpu().numpy()


def sample_starts(sys_, x, starts, *, n_starts, noise, initial_fraction, extreme_fraction, transient,
                  seed, dtype, device, settle_fraction=0.0, trace_points=300):
    """Starting states ``(n, S)``, kept trajectory states ``(B, K, S)`` (or None) and a description.

    ``x``: checked inputs or None; ``starts``: checked explicit starts or None. Explicit starts
    win. Otherwise, of ``n_starts``:

    - ``round(initial_fraction · n)`` lie around the system's initial state;
    - ``round(extreme_fraction · n)`` at *extremes* of the visited states: a visited state with
      each coordinate pushed to the largest (or smallest) value that coordinate takes along the
      trajectories, on the side of the mean it lies on — the corners of the visited box, where
      tanh units and gates saturate and derivative-based searches from the cloud's middle
      rarely arrive;
    - ``round(settle_fraction · n)`` visited states spread over the cloud (`spread_picks`),
      without noise: the search *settles* them by forward simulation at each condition before
      solving (rows ``info["settle_rows"]``), which reaches attractors that lie far from every
      visited state — a trained flip-flop GRU's memories lie ~1 unit from the closest state
      its trajectories visit, in basins the other starts leave for saddles;
    - the rest are visited states (after ``transient``, of the trajectories that stay finite),
      picked at random (seeded).

    All but the settled get Gaussian noise scaled to the trajectory spread: start ``k`` gets
    ``noise[k % len(noise)]`` × the per-dimension standard deviation of the visited states
    (absolute units without trajectories, when every start lies around the initial state). A
    ladder of scales (default 0.05, 0.25, 1) lets some starts stay in the basin they came from
    and others leave a saturated region. When every trajectory diverged, the starts meant to
    lie on trajectories are NaN (the search skips them and flags them diverged).

    ``info`` holds ``source`` (a description), ``times`` (1-based steps of the kept states, see
    `drive`), ``trace`` (positions of the drawn times among them), ``trajectory_diverged``
    (``(B,)`` bool, or None), ``visited`` (the kept finite visited states after ``transient``,
    ``(M, S)`` tensor with ``M ≤ VISITED_CAP``, or None) and ``settle_rows`` (indices).
    """
    S = sys_.state_size
    g = torch.Generator().manual_seed(int(seed))
    traj = None
    info = {"times": None, "trace": None, "trajectory_diverged": None, "visited": None,
            "settle_rows": np.zeros(0, dtype=int)}
    if x is not None:
        traj, times, info["trace"], info["trajectory_diverged"] = drive(sys_, x, trace_points=trace_points,
                                                                         dtype=dtype)
        info["times"] = times + 1
        finite = ~info["trajectory_diverged"]  # a diverging trajectory's (even finite) states are no starts
        info["visited"] = torch.as_tensor(traj[finite][:, times >= transient].reshape(-1, S), dtype=dtype)
    if starts is not None:
        info["source"] = "given"
        return starts, traj, info
    n = n_starts
    noise = torch.as_tensor(noise, dtype=dtype)
    scale = noise[torch.arange(n) % len(noise)][:, None]
    if traj is None:
        base = sys_.initial_state(n, dtype=dtype).cpu()
        info["source"] = f"initial state + noise {noise.tolist()}"
        return (base + scale * torch.randn(n, S, generator=g, dtype=dtype)).to(device), traj, info
    n_init = int(round(initial_fraction * n))
    n_ext = min(int(round(extreme_fraction * n)), n - n_init)
    n_set = min(int(round(settle_fraction * n)), n - n_init - n_ext)
    flat = info["visited"]
    base = [sys_.initial_state(n_init, dtype=dtype).cpu()]
    sigma = torch.ones(S, dtype=dtype)
    if flat.shape[0]:
        pick = flat[torch.randint(flat.shape[0], (n - n_init - n_set,), generator=g)]
        lo, hi, mid = flat.min(0).values, flat.max(0).values, flat.mean(0)
        ext = torch.where(pick[:n_ext] > mid, hi, lo)
        base += [ext, pick[n_ext:], spread_picks(flat, n_set, seed=seed)]
    else:
        base.append(torch.full((n - n_init, S), float("nan"), dtype=dtype))
    if flat.shape[0] > 1:
        sigma = flat.std(0)
        sigma = torch.where(sigma > 0, sigma, torch.ones_like(sigma))
    scale[n - n_set:] = 0.0
    h0 = torch.cat(base) + scale * sigma * torch.randn(n, S, generator=g, dtype=dtype)
    info["settle_rows"] = np.arange(n - n_set, n)
    info["source"] = (f"{n_init} around the initial state, {n_ext} at extremes of the visited states, "
                      f"{n - n_init - n_ext - n_set} visited states; noise {noise.tolist()} x state std; "
                      f"{n_set} spread visited states settled by forward simulation")
    return h0.to(device), traj, info


def state_scale(visited, h0) -> float:
    """The state's scale: RMS distance of the visited states from their mean (of the starts
    without trajectories); 1 where that is 0 or not finite. Tolerances on distances are
    relative to it."""
    states = visited if visited is not None and visited.shape[0] > 1 else h0
    states = states[torch.isfinite(states).all(1)] if states is not None else states
    if states is None or states.shape[0] < 2:
        return 1.0
    s = float((states - states.mean(0)).pow(2).sum(1).mean().sqrt())
    return s if np.isfinite(s) and s > 0 else 1.0


def pca_frame(states: np.ndarray, *, n_pc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean ``(S,)``, principal axes ``(k, S)`` and variances ``(k,)`` of the finite rows of
    ``states (M, S)``; axes signed so that their largest-magnitude entry is positive. With no
    finite row: mean NaN, the first ``k`` unit vectors, variances NaN.

    >>> mean, axes, var = pca_frame(np.array([[0.0, 0.0], [2.0, 0.0], [np.nan, 1.0]]), n_pc=1)
    >>> mean.tolist(), axes.tolist(), var.round(12).tolist()
    ([1.0, 0.0], [[1.0, 0.0]], [2.0])
    """
    states = np.asarray(states, dtype=np.float64)
    states = states[np.isfinite(states).all(1)]
    S = states.shape[1]
    if states.shape[0] == 0:
        k = min(n_pc, S)
        return np.full(S, np.nan), np.eye(k, S), np.full(k, np.nan)
    mean = states.mean(0)
    centred = states - mean
    if centred.shape[0] > centred.shape[1]:  # the right singular vectors of R in centred = QR: a small SVD
        centred = np.linalg.qr(centred, mode="r")
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(n_pc, vt.shape[0])
    vt = vt[:k]
    sign = np.sign(vt[np.arange(k), np.abs(vt).argmax(1)])
    sign = np.where(sign == 0, 1.0, sign)
    var = s[:k] ** 2 / max(states.shape[0] - 1, 1)
    return mean, vt * sign[:, None], var
