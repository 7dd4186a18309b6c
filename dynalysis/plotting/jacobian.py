"""Figures of a Jacobian-spectrum result."""
from __future__ import annotations

import numpy as np

from ._common import (Figures, divergence_text, figure, footnote, legend_above, matrix_description,
                      note, square_limits, time_unit, title_of, unit_circle, value_axis,
                      write_figures)

__all__ = ["plot_jacobian", "unit_circle"]

_ZOOM_QUANTILES = (0.005, 0.995)


def _finite_trajectories(ds) -> np.ndarray:
    """Indices of trajectories whose sampled Jacobian spectra are all finite."""
    ev = ds.eigenvalue.values
    return np.flatnonzero(np.isfinite(ev).reshape(ev.shape[0], -1).all(1))


def _zoom_window(ax, ev: np.ndarray) -> int:
    """Square, equal-aspect window on the bulk of ``ev`` in the upper half plane.

    Spectra of real Jacobians are symmetric about the real axis, so the half plane Im λ ≥ 0
    shows every eigenvalue once. Returns how many of those fall outside the window.
    """
    upper = ev[ev.imag >= 0]
    lo, hi = _ZOOM_QUANTILES
    re = np.quantile(upper.real, [lo, hi])
    im = np.quantile(upper.imag, [lo, hi])
    near_axis = im[0] < 0.1 * im[1] + 1e-12  # the bulk reaches the real axis: show it
    square_limits(ax, re, np.array([0.0, im[1]]) if near_axis else im, upper_half=True)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    inside = (upper.real >= x0) & (upper.real <= x1) & (upper.imag >= y0) & (upper.imag <= y1)
    return int((~inside).sum())


def _eigenvalues(ds):
    fig, axes = figure(2, width=11, height=5.6)
    keep = _finite_trajectories(ds)
    matrix = "recurrent_eigenvalue" in ds
    axes[0].set_title(f"Jacobian eigenvalues — {title_of(ds)}")
    axes[1].set_title("zoom on eig(J_t), Im λ ≥ 0 (spectrum symmetric about the real axis)",
                      fontsize=9)
    if not keep.size:
        for ax in axes:
            note(ax, divergence_text(ds) or "no finite Jacobian eigenvalue (NaN/inf)")
            ax.set(xlabel="Re λ", ylabel="Im λ")
        return fig
    ev = ds.eigenvalue.values[keep].ravel()
    alpha = min(1.0, max(0.1, 300 / ev.size))
    label = f"eig(J_t): {keep.size} traj. × {ds.sizes['time']} sampled steps"
    outside = 0
    for ax, zoom in zip(axes, (False, True)):
        ax.scatter(ev.real, ev.imag, s=4, alpha=alpha, color="C0", lw=0, label=label)
        if matrix:
            rev = ds.recurrent_eigenvalue.values
            ax.scatter(rev.real, rev.imag, s=22, facecolor="none", edgecolor="C3", lw=0.9,
                       label="eig of the recurrent matrix")
        unit_circle(ax)
        if zoom:
            outside = _zoom_window(ax, ev)
    legend_above(fig, axes[:1])
    footnote(fig, f"recurrent matrix: {matrix_description(ds)}" if matrix else None,
             f"zoom: {outside} eigenvalues with Im λ ≥ 0 lie outside the window (all are in the "
             "left panel)" if outside else None, divergence_text(ds))
    return fig


def _singular_values(ds):
    fig, (a1, a2) = figure(2, width=10, height=3.8)
    keep = _finite_trajectories(ds)
    a1.set(xlabel="rank i (0 = largest)", ylabel="value", title="spectra of J_t")
    unit = time_unit(ds, "time")
    a2.set(xlabel="step t" if unit == "step" else f"time t [{unit}]", ylabel="value",
           title="one-step amplification along the trajectory")
    if not keep.size:
        for ax in (a1, a2):
            note(ax, divergence_text(ds) or "no finite Jacobian spectrum (NaN/inf)")
        return fig
    sv = ds.singular_value.values[keep].reshape(-1, ds.sizes["singular_index"])
    mod = np.abs(ds.eigenvalue.values[keep]).reshape(-1, ds.sizes["eigen_index"])
    for arr, color, label in ((sv, "C0", "singular values σ_i(J_t)"), (mod, "C1", "|λ_i(J_t)|")):
        lo, med, hi = np.percentile(arr, [5, 50, 95], axis=0)
        idx = np.arange(arr.shape[1])
        a1.fill_between(idx, lo, hi, color=color, alpha=0.25, lw=0)
        a1.plot(idx, med, ".-", ms=3, color=color, label=f"{label} (median, 5–95 %)")
    a1.axhline(1, color="0.5", lw=0.8, ls="--")
    value_axis(a1, np.concatenate([sv.ravel(), mod.ravel(), [1.0]]))
    t = ds.time.values
    norm = ds.spectral_norm.values[keep].mean(0)
    rho = ds.spectral_radius.values[keep].mean(0)
    a2.plot(t, norm, color="C0", label="‖J_t‖₂ (mean over traj.)")
    a2.plot(t, rho, color="C1", label="ρ(J_t) (mean over traj.)")
    a2.axhline(1, color="0.5", lw=0.8, ls="--")
    value_axis(a2, np.concatenate([norm, rho, [1.0]]))
    legend_above(fig, [a1, a2], ncols=2)
    footnote(fig, divergence_text(ds))
    return fig


def figures(ds) -> Figures:
    """``{file stem: draw}`` of a Jacobian result (see `plot_jacobian`)."""
    return {"jacobian_eigenvalues": lambda: _eigenvalues(ds),
            "jacobian_singular_values": lambda: _singular_values(ds)}


def plot_jacobian(ds, out_dir, *, overwrite: bool = False) -> list:
    """Eigenvalues in the complex plane with the unit circle; singular values and norms.

    Parameters
    ----------
    ds : xarray.Dataset
        A `dynalysis.jacobian_eigenvalues` result. Trajectories with NaN/inf spectra
        (``diverged``) are left out and counted in a note; when all diverged, the panels say so.
    out_dir : path-like
    overwrite : bool, default False
        Replace existing files; otherwise `ResultsFileError` before anything is written.

    Returns
    -------
    list of pathlib.Path
        ``jacobian_eigenvalues.png``: every sampled ``eig(J_t)`` and, where present, the
        eigenvalues of the recurrent matrix (captioned with what that matrix is, from the
        file's ``recurrent_matrix_description`` or ``matrix_source``); left the whole plane,
        right a square zoom on the bulk of ``eig(J_t)`` in the upper half plane, both at equal
        aspect so the unit circle is round.
        ``jacobian_singular_values.png``: median and 5–95 % band of the sorted singular values
        and eigenvalue moduli, and spectral radius and norm over time.
    """
    return write_figures(figures(ds), out_dir, overwrite=overwrite)
