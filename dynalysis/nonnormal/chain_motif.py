"""Chain-motif profile (after Rajan, Harvey & Tank 2016; Orhan & Pitkow 2020, docs/science.md §3).

Pulse the network, run ``steps`` steps with no input, order the units by the time of their
peak response ``|Δh_i(t)|``, and average the weights over pairs at each order difference:

    profile(k) = mean{ W_ij : rank(i) − rank(j) = k },   k = −(N−1) .. N−1

(``i`` receives, ``j`` sends). Sequential (chain-like) connectivity shows a bump at positive k:
units that peak earlier feed units that peak later.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import OptionError
from .._core.options import check_option, check_positive_int

__all__ = ["chain_motif_profile"]


def _pulses(pulse, n_pulses, dim, scale, seed) -> np.ndarray:
    if pulse is not None:
        p = np.asarray(pulse, dtype=np.float64)
        p = p[None] if p.ndim == 1 else p
        if p.ndim != 2 or p.shape[1] != dim or not np.isfinite(p).all():
            raise OptionError(f"pulse must be finite with shape ({dim},) or (n, {dim}), got {np.shape(pulse)}")
        return p
    g = np.random.default_rng(int(seed))
    p = g.standard_normal((n_pulses, dim))
    return scale * p / np.linalg.norm(p, axis=1, keepdims=True)


def _responses(W, system, pulses, pulse_into, steps) -> np.ndarray:
    """Responses ``Δh (pulse, time, unit)`` of the first N state units to each pulse."""
    N = W.shape[0]
    P = pulses.shape[0]
    if system is None:  # linear map h <- W h from the pulsed state
        h, out = pulses.T, [pulses]
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


def chain_motif_profile(W: np.ndarray, system=None, *, steps: int = 100, n_pulses: int = 16,
                        pulse=None, pulse_into: str | None = None, pulse_scale: float = 1.0,
                        seed: int = 0) -> dict:
    """Mean weight versus peak-time order difference.

    Parameters
    ----------
    W : ndarray, shape (N, N)
        Weights, ``W[i, j]`` from unit j to unit i.
    system : System, optional
        Dynamics to pulse (its first N state units are the units of W); the linear map
        ``h ← W h`` when None.
    steps : int, default 100
        Steps run after the pulse with no input.
    n_pulses : int, default 16
        Random pulse directions (Gaussian, norm ``pulse_scale``, seeded) when ``pulse`` is None.
    pulse : array, shape (dim,) or (n, dim), optional
        Explicit pulses (state or input vectors).
    pulse_into : {"state", "input"}, optional
        Add the pulse to the initial state, or feed it as the first input. Default: "input"
        for systems with inputs, else "state".
    pulse_scale : float, default 1.0
    seed : int, default 0

    Returns
    -------
    dict
        ``profile`` and ``std`` (over pulses), arrays of length ``2N − 1`` for
        ``k = −(N−1) .. N−1``; ``options`` (what was run, for provenance).
    """
    N = W.shape[0]
    steps = check_positive_int("motif_steps", steps)
    if pulse_into is None:
        pulse_into = "input" if system is not None and system.input_size > 0 else "state"
    check_option("pulse_into", pulse_into, ("state", "input") if system is not None else ("state",))
    if pulse_into == "input" and system.input_size == 0:
        raise OptionError("pulse_into='input' needs a system with inputs (input_size > 0)")
    if not (isinstance(pulse_scale, (int, float)) and pulse_scale > 0):
        raise OptionError(f"pulse_scale must be a positive number, got {pulse_scale!r}")
    dim = system.input_size if pulse_into == "input" else (system.state_size if system is not None else N)
    pulses = _pulses(pulse, check_positive_int("n_pulses", n_pulses), dim, pulse_scale, seed)
    resp = np.abs(_responses(W, system, pulses, pulse_into, steps))
    resp = np.where(np.isfinite(resp), resp, np.inf)
    peak = resp.argmax(1)  # (pulse, unit)
    order = np.argsort(peak, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(N)[None].repeat(len(order), 0), axis=1)
    diff = rank[:, :, None] - rank[:, None, :] + (N - 1)  # (pulse, i, j) in 0..2N-2
    P = len(pulses)
    flat = (diff + (2 * N - 1) * np.arange(P)[:, None, None]).ravel()
    sums = np.bincount(flat, weights=np.broadcast_to(W, (P, N, N)).ravel(), minlength=P * (2 * N - 1))
    counts = N - np.abs(np.arange(-(N - 1), N))
    per_pulse = sums.reshape(P, 2 * N - 1) / counts
    return {"profile": per_pulse.mean(0), "std": per_pulse.std(0),
            "options": dict(motif_steps=steps, n_pulses=P, pulse="given" if pulse is not None else "random",
                            pulse_into=pulse_into, pulse_scale=float(pulse_scale))}
