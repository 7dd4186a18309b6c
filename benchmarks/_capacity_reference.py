"""The former `memory_capacity` readout, kept as the benchmark's "before": every state stored,
least squares by the SVD of the standardised training states (``numpy.linalg.lstsq``'s rank
cut). `benchmarks/run.py --only capacity` times it against the streamed QR of
`dynalysis.memory.capacity` in one run and reports the agreement of the two answers."""
from __future__ import annotations

import numpy as np
import torch

from dynalysis._core.trajectory import run_states
from dynalysis.memory.capacity import _signal, check_capacity_options


def readout_r2(X: np.ndarray, s: np.ndarray, start: int, lags: np.ndarray, n_train: int,
               ridge: float) -> np.ndarray:
    """Held-out ``corr²`` per lag from stored states ``X (trajectory, n, S)`` (the former code)."""
    B, n, S = X.shape
    Xtr, Xte = X[:, :n_train].reshape(-1, S), X[:, n_train:].reshape(-1, S)
    peak = np.abs(Xtr).max(0)
    peak = np.where(peak > 0, peak, 1.0)
    Xtr, Xte = Xtr / peak, Xte / peak
    mx, sx = Xtr.mean(0), Xtr.std(0)
    sx = np.where(sx > 0, sx, 1.0)
    Ztr, Zte = (Xtr - mx) / sx, (Xte - mx) / sx
    U, sv, Vt = np.linalg.svd(Ztr, full_matrices=False)
    keep = sv > np.finfo(float).eps * max(Ztr.shape) * (sv[0] if sv.size else 0.0)
    lam = ridge * float(np.mean(sv ** 2)) if sv.size else 0.0
    gain = np.zeros_like(sv)
    gain[keep] = sv[keep] / (sv[keep] ** 2 + lam)
    t = start + np.arange(n)
    Y = s[:, t[:, None] - lags[None, :]]
    Ytr, Yte = Y[:, :n_train].reshape(-1, len(lags)), Y[:, n_train:].reshape(-1, len(lags))
    pred = Zte @ (Vt.T @ (gain[:, None] * (U.T @ (Ytr - Ytr.mean(0)))))
    pc, yc = pred - pred.mean(0), Yte - Yte.mean(0)
    denom = (pc * pc).sum(0) * (yc * yc).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (pc * yc).sum(0) ** 2 / denom, 0.0)


def stored_capacity(system, **options) -> np.ndarray:
    """``MC_k`` by the former path: the whole run stored, then `readout_r2` (finite runs only)."""
    c = check_capacity_options(system, **options)
    s = _signal(c["distribution"], c["scale"], (c["n_traj"], c["steps"]), c["seed"])
    x = torch.zeros(c["n_traj"], c["steps"], system.input_size, dtype=c["dtype"])
    x[:, :, c["channel"]] = torch.as_tensor(s, dtype=c["dtype"])
    sys_ = system.to(dtype=c["dtype"])
    H = run_states(sys_, x, sys_.initial_state(c["n_traj"], dtype=c["dtype"])).numpy()
    return readout_r2(H[:, c["transient"]:], s, c["transient"], np.arange(c["L"] + 1), c["n_train"], c["ridge"])
