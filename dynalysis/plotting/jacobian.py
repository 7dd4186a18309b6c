"""Figures of a Jacobian-spectrum result."""
from __future__ import annotations

import numpy as np

from ._common import pyplot, save, title_of


def unit_circle(ax) -> None:
    """Draw the unit circle and the axes through 0 on a complex-plane axis."""
    th = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(th), np.sin(th), color="0.3", lw=0.8, label="unit circle")
    ax.axhline(0, color="0.8", lw=0.6, zorder=0)
    ax.axvline(0, color="0.8", lw=0.6, zorder=0)
    ax.set_aspect("equal")
    ax.set(xlabel="Re λ", ylabel="Im λ")


def plot_jacobian(ds, out_dir) -> list:
    """Eigenvalues in the complex plane with the unit circle; singular values and norms.

    Writes ``jacobian_eigenvalues.png`` (all sampled ``eig(J_t)`` and, where present, the
    recurrent matrix's eigenvalues; whole plane and a zoom on the Jacobian eigenvalues) and ``jacobian_singular_values.png`` (median and 5–95 %
    band of the sorted singular values and eigenvalue moduli; spectral radius and norm over
    time); returns their paths.
    """
    plt = pyplot()
    ev = ds.eigenvalue.values.ravel()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.8))
    for ax, zoom in zip(axes, (False, True)):
        ax.scatter(ev.real, ev.imag, s=4, alpha=min(1.0, max(0.15, 300 / ev.size)), color="C0", lw=0,
                   label=f"eig(J_t): {ds.sizes['trajectory']} traj. × {ds.sizes['time']} steps")
        if "recurrent_eigenvalue" in ds:
            rev = ds.recurrent_eigenvalue.values
            ax.scatter(rev.real, rev.imag, s=14, marker="x", color="C3", lw=0.9, label="eig(W)")
        unit_circle(ax)
        if zoom:
            lo_r, hi_r, lo_i, hi_i = ev.real.min(), ev.real.max(), ev.imag.min(), ev.imag.max()
            pad = 0.1 * max(hi_r - lo_r, hi_i - lo_i, 1e-3)
            ax.set(xlim=(lo_r - pad, hi_r + pad), ylim=(lo_i - pad, hi_i + pad),
                   title="zoom on eig(J_t)")
            ax.set_aspect("auto")
        else:
            ax.set_title(f"Jacobian eigenvalues — {title_of(ds)}")
            leg = ax.legend(fontsize=7, loc="upper right")
            for handle in leg.legend_handles:
                handle.set_alpha(1)
    fig.tight_layout()
    paths = [save(fig, out_dir, "jacobian_eigenvalues")]

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    sv = ds.singular_value.values.reshape(-1, ds.sizes["singular_index"])
    mod = np.abs(ds.eigenvalue.values).reshape(-1, ds.sizes["eigen_index"])
    for arr, color, label in ((sv, "C0", "singular values σ_i(J_t)"), (mod, "C1", "|λ_i(J_t)|")):
        lo, med, hi = np.percentile(arr, [5, 50, 95], axis=0)
        idx = np.arange(arr.shape[1])
        a1.fill_between(idx, lo, hi, color=color, alpha=0.25, lw=0)
        a1.plot(idx, med, ".-", ms=3, color=color, label=f"{label} (median, 5–95 %)")
    a1.axhline(1, color="0.5", lw=0.8, ls="--")
    a1.set(xlabel="rank i", ylabel="value", title="spectra of J_t", yscale="log")
    a1.legend(fontsize=7)
    t = ds.time.values
    a2.plot(t, ds.spectral_norm.mean("trajectory"), color="C0", label="‖J_t‖₂ (mean over traj.)")
    a2.plot(t, ds.spectral_radius.mean("trajectory"), color="C1", label="ρ(J_t) (mean over traj.)")
    a2.axhline(1, color="0.5", lw=0.8, ls="--")
    a2.set(xlabel="step t", ylabel="value", title="one-step amplification along the trajectory")
    a2.legend(fontsize=7)
    fig.tight_layout()
    paths.append(save(fig, out_dir, "jacobian_singular_values"))
    return paths
