"""Where the fixed-point search starts: trajectory states, explicit states, or noise.

Also the constant input ``x*`` and the PCA frame used to draw fixed points with trajectories.
The checks (`constant_input_for`, `as_starts`) run before any step of the map; `sample_starts`
does the work.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import OptionError
from .._core.divergence import not_finite
from .._core.inputs import as_initial_state
from .._core.trajectory import run_states

__all__ = ["constant_input_for", "as_starts", "sample_starts", "pca_frame"]


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


def sample_starts(sys_, x, starts, *, n_starts, noise, initial_fraction, transient, seed, dtype, device):
    """Starting states ``(n, S)``, trajectory states ``(B, T, S)`` (or None) and a description.

    ``x``: checked inputs or None; ``starts``: checked explicit starts or None. Explicit starts
    win. Otherwise ``round(initial_fraction · n_starts)`` starts lie around the system's initial
    state and the rest are states, after ``transient``, of the trajectories that stay finite,
    picked at random (seeded); all get Gaussian noise of ``noise`` × the per-dimension standard
    deviation of those states (of standard deviation ``noise`` without trajectories, when every
    start lies around the initial state). When every trajectory diverged, the starts meant to
    lie on trajectories are NaN (the search skips them and flags them diverged).

    ``info`` holds ``source`` (a description), ``times`` (1-based steps of the trajectory
    states) and ``trajectory_diverged`` (``(B,)`` bool, or None).
    """
    S = sys_.state_size
    g = torch.Generator().manual_seed(int(seed))
    traj, info = None, {"times": None, "trajectory_diverged": None}
    if x is not None:
        h = as_initial_state(sys_, None, x.shape[0], dtype=dtype, device=x.device)
        traj = run_states(sys_, x, h).cpu().numpy()
        info["times"] = np.arange(1, x.shape[1] + 1)
        info["trajectory_diverged"] = not_finite(traj)
    if starts is not None:
        info["source"] = "given"
        return starts, traj, info
    n = n_starts
    n_init = n if traj is None else int(round(initial_fraction * n))
    base = sys_.initial_state(n_init, dtype=dtype).cpu()
    sigma = torch.ones(S, dtype=dtype)
    if traj is not None:
        finite = ~info["trajectory_diverged"]  # a diverging trajectory's (even finite) states are no starts
        flat = torch.as_tensor(traj[finite, transient:].reshape(-1, S), dtype=dtype)
        if flat.shape[0]:
            pick = torch.randint(flat.shape[0], (n - n_init,), generator=g)
            base = torch.cat([base, flat[pick]])
        else:
            base = torch.cat([base, torch.full((n - n_init, S), float("nan"), dtype=dtype)])
        if flat.shape[0] > 1:
            sigma = flat.std(0)
            sigma = torch.where(sigma > 0, sigma, torch.ones_like(sigma))
    h0 = base + noise * sigma * torch.randn(n, S, generator=g, dtype=dtype)
    info["source"] = (f"{n_init} around the initial state, {n - n_init} trajectory states; "
                      f"noise {noise} x state std" if traj is not None else "initial state + noise")
    return h0.to(device), traj, info


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
    _, s, vt = np.linalg.svd(states - mean, full_matrices=False)
    k = min(n_pc, vt.shape[0])
    vt = vt[:k]
    sign = np.sign(vt[np.arange(k), np.abs(vt).argmax(1)])
    sign = np.where(sign == 0, 1.0, sign)
    var = s[:k] ** 2 / max(states.shape[0] - 1, 1)
    return mean, vt * sign[:, None], var
