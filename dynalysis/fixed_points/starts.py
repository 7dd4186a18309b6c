"""Where the fixed-point search starts: trajectory states, explicit states, or noise.

Also the constant input ``x*`` and the PCA frame used to draw fixed points with trajectories.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import OptionError
from .._core.options import check_positive_int
from .._core.trajectory import run_states
from .._core.inputs import as_initial_state, as_inputs

__all__ = ["constant_input_for", "sample_starts", "pca_frame"]


def constant_input_for(system, constant_input, inputs, *, dtype, device) -> torch.Tensor:
    """The constant input ``x*`` as a ``(1, input_size)`` tensor.

    ``None``/``"zero"``: zeros; ``"mean"``: mean of ``inputs`` over trajectories and time;
    an array of shape ``(input_size,)``: as given.
    """
    d = system.input_size
    if constant_input is None or (isinstance(constant_input, str) and constant_input == "zero"):
        return torch.zeros(1, d, dtype=dtype, device=device)
    if isinstance(constant_input, str):
        if constant_input != "mean":
            raise OptionError(f"invalid constant_input={constant_input!r}; allowed values: "
                              f"'zero', 'mean', or an array of shape ({d},)")
        if inputs is None:
            raise OptionError("constant_input='mean' needs inputs to average")
        x = as_inputs(system, inputs, dtype=dtype, device=device)
        return x.mean((0, 1)).reshape(1, d)
    x = torch.as_tensor(np.asarray(constant_input), dtype=dtype, device=device)
    if x.shape != (d,) or not torch.isfinite(x).all():
        raise OptionError(f"constant_input must be finite with shape ({d},), got shape {tuple(x.shape)}")
    return x.reshape(1, d)


def sample_starts(sys_, inputs, starts, *, n_starts, noise, initial_fraction, transient, seed,
                  dtype, device):
    """Starting states ``(n, S)``, trajectory states ``(B, T, S)`` (or None) and a description.

    Explicit ``starts`` win. Otherwise ``round(initial_fraction · n_starts)`` starts lie around
    the system's initial state and the rest are trajectory states after ``transient`` picked at
    random (seeded);
    all get Gaussian noise of ``noise`` × the per-dimension standard deviation of the
    trajectory states (of standard deviation ``noise`` without trajectories, when every start
    lies around the initial state).
    """
    S = sys_.state_size
    g = torch.Generator().manual_seed(int(seed))
    traj, info = None, {"times": None}
    if inputs is not None:
        transient = check_positive_int("transient", transient, minimum=0)
        x = as_inputs(sys_, inputs, dtype=dtype, device=device, min_steps=transient + 1)
        h = as_initial_state(sys_, None, x.shape[0], dtype=dtype, device=x.device)
        traj = run_states(sys_, x, h).cpu().numpy()
        info["times"] = np.arange(1, x.shape[1] + 1)
        if not np.isfinite(traj).all():
            raise OptionError("the trajectories driven by inputs diverged (NaN/inf states); "
                              "pass starts explicitly")
    if starts is not None:
        h0 = torch.as_tensor(np.asarray(starts), dtype=dtype, device=device)
        if h0.ndim != 2 or h0.shape[1] != S or h0.shape[0] < 1 or not torch.isfinite(h0).all():
            raise OptionError(f"starts must be finite with shape (n, state_size={S}), got {tuple(h0.shape)}")
        info["source"] = "given"
        return h0.clone(), traj, info
    n = check_positive_int("n_starts", n_starts)
    if not (isinstance(initial_fraction, (int, float)) and 0 <= initial_fraction <= 1):
        raise OptionError(f"initial_fraction must be a number in [0, 1], got {initial_fraction!r}")
    n_init = n if traj is None else int(round(initial_fraction * n))
    base = sys_.initial_state(n_init, dtype=dtype).cpu()
    sigma = torch.ones(S, dtype=dtype)
    if traj is not None:
        flat = torch.as_tensor(traj[:, transient:].reshape(-1, S), dtype=dtype)
        pick = torch.randint(flat.shape[0], (n - n_init,), generator=g)
        base = torch.cat([base, flat[pick]])
        if flat.shape[0] > 1:
            sigma = flat.std(0)
            sigma = torch.where(sigma > 0, sigma, torch.ones_like(sigma))
    h0 = base + noise * sigma * torch.randn(n, S, generator=g, dtype=dtype)
    info["source"] = (f"{n_init} around the initial state, {n - n_init} trajectory states; "
                      f"noise {noise} x state std" if traj is not None else "initial state + noise")
    return h0.to(device), traj, info


def pca_frame(states: np.ndarray, *, n_pc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean ``(S,)``, principal axes ``(k, S)`` and variances ``(k,)`` of ``states (M, S)``.

    Axes are signed so that their largest-magnitude entry is positive (deterministic).
    """
    states = np.asarray(states, dtype=np.float64)
    mean = states.mean(0)
    _, s, vt = np.linalg.svd(states - mean, full_matrices=False)
    k = min(n_pc, vt.shape[0])
    vt = vt[:k]
    sign = np.sign(vt[np.arange(k), np.abs(vt).argmax(1)])
    var = s[:k] ** 2 / max(states.shape[0] - 1, 1)
    return mean, vt * sign[:, None], var
