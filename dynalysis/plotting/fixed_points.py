"""Figures of a fixed-point result."""
from __future__ import annotations

import numpy as np

from ._common import pyplot, save, title_of
from .jacobian import unit_circle

_STYLE = {0: ("C2", "stable"), 1: ("C1", "marginal"), 2: ("C3", "unstable")}


def plot_fixed_points(ds, out_dir) -> list:
    """Fixed points in the PCA plane of the trajectories, and their Jacobian eigenvalues.

    Writes ``fixed_points_pca.png`` (trajectories as thin lines, fixed points coloured by
    stability, filled; slow points hollow) and ``fixed_points_eigenvalues.png``; returns paths.
    """
    plt = pyplot()
    n_pc = ds.sizes["pc"]
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    if "trajectory_pc" in ds:
        tr = ds.trajectory_pc.values
        for b in range(tr.shape[0]):  # a few trajectories; one line each
            y = tr[b, :, 1] if n_pc > 1 else np.zeros(tr.shape[1])
            ax.plot(tr[b, :, 0], y, color="0.6", lw=0.5, alpha=0.7, label="trajectories" if b == 0 else None)
    pc = ds.fixed_point_pc.values
    kind, stab = ds.kind.values, ds.stability.values
    for s, (color, label) in _STYLE.items():
        for k, (face, suffix) in {0: (color, "fixed"), 1: ("none", "slow")}.items():
            m = (stab == s) & (kind == k)
            if m.any():
                y = pc[m, 1] if n_pc > 1 else np.zeros(m.sum())
                ax.scatter(pc[m, 0], y, s=40, facecolor=face, edgecolor=color, lw=1.2, zorder=3,
                           label=f"{label} {suffix} point ({int(m.sum())})")
    var = ds.pca_explained_variance.values
    frac = var / var.sum() if var.sum() > 0 else var
    ax.set(xlabel=f"PC1 ({frac[0]:.0%} var.)" if n_pc else "PC1",
           ylabel=f"PC2 ({frac[1]:.0%} var.)" if n_pc > 1 else "",
           title=f"fixed points — {title_of(ds)}")
    if not len(pc):
        ax.text(0.5, 0.5, "no fixed or slow point found", transform=ax.transAxes, ha="center")
    ax.legend(fontsize=7, loc="best")
    paths = [save(fig, out_dir, "fixed_points_pca")]

    fig, ax = plt.subplots(figsize=(5.2, 5.0))
    ev = ds.eigenvalue.values
    for i in range(ev.shape[0]):  # one colour per point (few points)
        ax.scatter(ev[i].real, ev[i].imag, s=10, color=_STYLE[int(stab[i])][0], alpha=0.7, lw=0,
                   label=f"point {i} ({_STYLE[int(stab[i])][1]})" if i < 8 else None)
    unit_circle(ax)
    ax.set_title("Jacobian eigenvalues at the fixed points")
    ax.legend(fontsize=7, loc="upper right")
    paths.append(save(fig, out_dir, "fixed_points_eigenvalues"))
    return paths
