"""Figures of a Lyapunov spectrum result."""
from __future__ import annotations

import numpy as np

from ._common import pyplot, save, title_of


def plot_lyapunov(ds, out_dir) -> list:
    """Spectrum (with spread across trajectories) and convergence of the running estimates.

    Writes ``lyapunov_spectrum.png`` and ``lyapunov_convergence.png``; returns their paths.
    """
    plt = pyplot()
    lam, std = ds.exponent.values, ds.exponent_std.values
    idx = ds.exponent_index.values
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.axhline(0, color="0.6", lw=0.8)
    ax.fill_between(idx, lam - std, lam + std, color="C0", alpha=0.25, lw=0, label="±1 s.d. over trajectories")
    ax.plot(idx, lam, ".-", color="C0", ms=3, label="mean")
    ax.set(xlabel="exponent index i", ylabel="λ_i  [nats / step]",
           title=f"Lyapunov spectrum — {title_of(ds)}")
    ky = float(ds.kaplan_yorke_dimension)
    ax.text(0.98, 0.95, f"λ_max = {lam[0]:.4g}\nD_KY = {ky:.3g}", transform=ax.transAxes,
            ha="right", va="top", fontsize=8)
    ax.legend(fontsize=7, loc="lower left")
    paths = [save(fig, out_dir, "lyapunov_spectrum")]

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    conv = ds.convergence.values
    show = np.unique(np.linspace(0, conv.shape[1] - 1, min(conv.shape[1], 8)).astype(int))
    for i in show:
        ax.plot(ds.step.values, conv[:, i], lw=1, label=f"column {i}")
    ax.set(xscale="log", xlabel="steps averaged", ylabel="running estimate [nats / step]",
           title="convergence of the QR estimates")
    ax.legend(fontsize=7, ncol=2)
    paths.append(save(fig, out_dir, "lyapunov_convergence"))
    return paths
