"""Chain-motif profile (after Rajan, Harvey & Tank 2016; Orhan & Pitkow 2020, docs/science.md §3).

Pulse the network, run ``steps`` steps with no input, order the units by the time of their
peak response ``|Δh_i(t)|``, and average the weights over pairs at each order difference:

    profile(k) = mean{ W_ij : rank(i) − rank(j) = k },   k = −(N−1) .. N−1

(``i`` receives, ``j`` sends). Sequential (chain-like) connectivity shows a bump at positive k:
units that peak earlier feed units that peak later. A pulse whose response becomes NaN/inf is
flagged diverged and left out of the average.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import OptionError
from .._core.divergence import finite_mean
from .._core.options import check_option, check_positive_float, check_positive_int

__all__ = ["chain_motif_profile", "check_motif_options"]


def check_motif_options(N: int, system=None, *, steps: int = 100, n_pulses: int = 16, pulse=None,
                        pulse_into: str | None = None, pulse_scale: float = 1.0, seed: int = 0) -> dict:
    """Checked chain-motif options (before any step of ``system``), with the pulses themselves.

    ``N`` is the number of units of the weight matrix; ``system`` None means the linear map
    ``h ← W h``. Returns the keyword arguments of `chain_motif_profile`.
    """
    steps = check_positive_int("motif_steps", steps)
    if pulse_into is None:
        pulse_into = "input" if system is not None and system.input_size > 0 else "state"
    check_option("pulse_into", pulse_into, ("state", "input") if system is not None else ("state",))
    if pulse_into == "input" and system.input_size == 0:
        raise OptionError("pulse_into='input' needs a system with inputs (input_size > 0)")
    pulse_scale = check_positive_float("pulse_scale", pulse_scale)
    n_pulses = check_positive_int("n_pulses", n_pulses)
    dim = system.input_size if pulse_into == "input" else (system.state_size if system is not None else N)
    if pulse is not None:
        p = np.asarray(pulse, dtype=np.float64)
        p = p[None] if p.ndim == 1 else p
        if p.ndim != 2 or p.shape[1] != dim or not np.isfinite(p).all():
            raise OptionError(f"pulse must be finite with shape ({dim},) or (n, {dim}), got {np.shape(pulse)}")
    else:
        g = np.random.default_rng(int(seed))
        p = g.standard_normal((n_pulses, dim))
        p = pulse_scale * p / np.linalg.norm(p, axis=1, keepdims=True)
    return {"steps": steps, "pulses": p, "pulse_into": pulse_into,
            "options": dict(motif_steps=steps, n_pulses=len(p), pulse="given" if pulse is not None else "random",
                            pulse_into=pulse_into, pulse_scale=pulse_scale)}


def _responses(W, system, pulses, pulse_into, steps) -> np.ndarray:
    """Responses ``Δh (pulse, time, unit)`` of the first N state units to each pulse."""
    N = W.shape[0]
    P = pulses.shape[0]
    if system is None:  # linear map h <- W h from the pulsed state
        h, out = pulses.T, [pulses]
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(steps):
                h = W @ h
                out.append(h.T)
        return np.stack(out, 1)
    dtype = torch.float64
    sys_ = system.to(dtype=dtype)
    d = system.input_size
    h0 = sys_.initial_state(P, dtype=dtype)
    base = h0.clone()
    p = torch.as_tensor(pulses, dtype=dtype, device=h0.device)
    h = h0 + p if pulse_into == "state" else h0.clone()
    zero = torch.zeros(P, d, dtype=dtype, device=h0.device)
    out = [h - base] if pulse_into == "state" else []
    with torch.no_grad():
        for t in range(steps):
            x = p if (pulse_into == "input" and t == 0) else zero
            h, base = sys_.step(h, x), sys_.step(base, zero)
            out.append(h - base)
    return torch.stack(out, 1)[..., :N].cpu().numpy()


def chain_motif_profile(W: np.ndarray, system=None, *, steps: int, pulses: np.ndarray, pulse_into: str,
                        options: dict | None = None) -> dict:
    """Mean weight versus peak-time order difference.

    Parameters
    ----------
    W : ndarray, shape (N, N)
        Weights, ``W[i, j]`` from unit j to unit i.
    system : System, optional
        Dynamics to pulse (its first N state units are the units of W); the linear map
        ``h ← W h`` when None.
    steps, pulses, pulse_into
        From `check_motif_options`: steps run after the pulse with no input; the pulses
        ``(n, dim)``; ``"state"`` (added to the initial state) or ``"input"`` (fed as the
        first input).
    options : dict, optional
        Passed through as the result's ``options``.

    Returns
    -------
    dict
        ``profile`` and ``std`` (over the finite pulses), arrays of length ``2N − 1`` for
        ``k = −(N−1) .. N−1`` (NaN when every pulse diverged); ``diverged`` (bool per pulse:
        its response became NaN/inf); ``options``.

    Examples
    --------
    >>> chain = np.diag([1.0, 1.0], -1)                      # 0 → 1 → 2
    >>> opts = check_motif_options(3, pulse=[1.0, 0.0, 0.0], steps=5)
    >>> chain_motif_profile(chain, **opts)["profile"].tolist()  # k = -2 .. 2
    [0.0, 0.0, 0.0, 1.0, 0.0]
    """
    N = W.shape[0]
    resp = np.abs(_responses(W, system, pulses, pulse_into, steps))
    diverged = ~np.isfinite(resp).all((1, 2))
    peak = np.where(np.isfinite(resp), resp, 0.0).argmax(1)  # (pulse, unit)
    order = np.argsort(peak, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(N)[None].repeat(len(order), 0), axis=1)
    diff = rank[:, :, None] - rank[:, None, :] + (N - 1)  # (pulse, i, j) in 0..2N-2
    P = len(pulses)
    flat = (diff + (2 * N - 1) * np.arange(P)[:, None, None]).ravel()
    sums = np.bincount(flat, weights=np.broadcast_to(W, (P, N, N)).ravel(), minlength=P * (2 * N - 1))
    counts = N - np.abs(np.arange(-(N - 1), N))
    per_pulse = sums.reshape(P, 2 * N - 1) / counts
    return {"profile": finite_mean(per_pulse, diverged), "std": finite_mean(per_pulse, diverged, std=True),
            "diverged": diverged, "options": dict(options or {})}
