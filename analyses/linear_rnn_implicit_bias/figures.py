"""Figures of the linear-RNN implicit-bias study, drawn from the combined results."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def make(study, combined: xr.Dataset) -> None:
    """Draw and save every figure."""
    s_As = list(dict.fromkeys(combined.s_A.values.tolist()))
    teachers = list(dict.fromkeys(combined.teacher.values.tolist()))
    multi = "multi" if "multi" in teachers else teachers[0]
    colors = plt.cm.viridis(np.linspace(0.0, 0.85, len(s_As)))
    total = int(combined.attrs["total_steps"])
    study.save_figure(kernel_over_training(combined, s_As, teachers, total), "kernel_over_training.png")
    study.save_figure(tap_learning_curves(combined, s_As, multi), "tap_learning_curves.png")
    study.save_figure(half_time_vs_beta(combined, s_As, colors, total), "half_time_vs_beta.png")
    study.save_figure(final_fraction_and_radius(combined, s_As, colors, total), "final_fraction_and_radius.png")


def run_of(combined: xr.Dataset, s_A: float, teacher: str) -> xr.Dataset:
    """The one run of a (s_A, teacher) setting."""
    m = (combined.s_A.values == s_A) & (combined.teacher.values == teacher)
    return combined.isel(run=int(np.flatnonzero(m)[0]))


def kernel_over_training(combined: xr.Dataset, s_As, teachers, total: int):
    """The learned kernel over training, against the teacher and the wide-limit prediction."""
    lags, steps = combined.lag.values, combined.step.values
    fig, axes = plt.subplots(len(teachers), len(s_As), figsize=(3.6 * len(s_As), 2.8 * len(teachers)),
                             squeeze=False, sharex=True, sharey=True)
    snap_idx = np.unique([int(np.argmin(np.abs(np.log(np.maximum(steps, 0.5)) - np.log(s))))
                          for s in np.geomspace(1, total, 5)])  # records nearest to log-spaced steps
    snap_colors = plt.cm.plasma(np.linspace(0.0, 0.8, len(snap_idx)))
    for r, teacher in enumerate(teachers):
        for c, s_A in enumerate(s_As):
            ax, d = axes[r, c], run_of(combined, s_A, teacher)
            for k, color in zip(snap_idx, snap_colors):
                ax.plot(lags, d.kernel[k], "-o", ms=2.5, color=color, label=f"step {int(d.step[k])}")
                ax.plot(lags, d.kernel_predicted[k], "--", color=color, lw=1)
            ax.plot(lags, d.teacher_kernel, "kx", ms=7, mew=2, label="teacher K*")
            ax.axhline(0, color="0.8", lw=0.5)
            ax.set_title(f"{teacher} teacher, s_A = {s_A:g}", fontsize=9)
            ax.set_ylim(-1.0, 1.6)
            if r == len(teachers) - 1:
                ax.set_xlabel("lag j")
            if c == 0:
                ax.set_ylabel("K_j = C A^j B")
    axes[0, 0].legend(fontsize=6, loc="upper right")
    fig.suptitle("Learned kernel (solid) vs wide-limit β_j prediction (dashed), n = "
                 f"{combined.attrs['hidden']}", fontsize=10)
    return fig


def tap_learning_curves(combined: xr.Dataset, s_As, multi: str):
    """Per-lag learning curves on the several-lag teacher, measured and predicted."""
    fig, axes = plt.subplots(1, len(s_As), figsize=(3.8 * len(s_As), 3.0), squeeze=False, sharey=True)
    for c, s_A in enumerate(s_As):
        ax, d = axes[0, c], run_of(combined, s_A, multi)
        tap_lags = [int(j) for j in d.lag.values if d.teacher_kernel[j] != 0]
        tap_colors = plt.cm.coolwarm(np.linspace(0, 1, len(tap_lags)))
        steps_plot = np.maximum(d.step.values, 0.7)
        for j, color in zip(tap_lags, tap_colors):
            ax.plot(steps_plot, d.tap_fraction.sel(lag=j), "-", color=color, label=f"lag {j}")
            pred = (d.kernel_predicted.sel(lag=j) - d.kernel.sel(lag=j)[0]) / (
                d.teacher_kernel.sel(lag=j) - d.kernel.sel(lag=j)[0])
            ax.plot(steps_plot, pred, "--", color=color, lw=1)
        ax.axhline(0.5, color="0.6", lw=0.5)
        ax.set_xscale("log")
        ax.set_ylim(-0.2, 1.3)
        ax.set_xlabel("optimiser step")
        ax.set_title(f"{multi} teacher, s_A = {s_A:g}", fontsize=9)
    axes[0, 0].set_ylabel("fraction of the way to K*_j")
    axes[0, -1].legend(fontsize=7)
    fig.suptitle("Per-lag learning: measured (solid) vs wide limit (dashed)", fontsize=10)
    return fig


def half_time_vs_beta(combined: xr.Dataset, s_As, colors, total: int):
    """Half-learning times against the β_j prediction; β_j itself."""
    lags = combined.lag.values
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.5, 3.8))
    for s_A, color in zip(s_As, colors):
        sel = combined.where(combined.s_A == s_A, drop=True)
        meas, pred = sel.half_time.values.ravel(), sel.half_time_predicted.values.ravel()
        ok = np.isfinite(pred)
        never = ok & ~np.isfinite(meas)
        ax1.loglog(pred[ok & ~never], meas[ok & ~never], "o", color=color, label=f"s_A = {s_A:g}")
        if never.any():
            ax1.loglog(pred[never], np.full(never.sum(), total), "^", color=color, mfc="none",
                       label=f"s_A = {s_A:g}: not reached by step {total}")
        ax2.semilogy(lags, sel.beta.isel(run=0), "-o", ms=3, color=color, label=f"s_A = {s_A:g}")
    lim = [0.3, max(total * 3.0, np.nanmax(combined.half_time_predicted.values))]
    ax1.plot(lim, lim, "k--", lw=0.8, label="measured = predicted")
    ax1.set_xlim(lim)
    ax1.set_ylim(0.3, total * 3.0)
    ax1.set_xlabel("predicted t½ = ln 2 / −ln(1 − 2ηβ_j w_j)  [steps]")
    ax1.set_ylabel("measured t½  [steps]")
    ax1.legend(fontsize=6)
    ax2.set_xlabel("lag j")
    ax2.set_ylabel("β_j")
    ax2.set_title("wide-limit learning rate per lag", fontsize=9)
    ax2.legend(fontsize=7)
    return fig


def final_fraction_and_radius(combined: xr.Dataset, s_As, colors, total: int):
    """What is learned by the end, and how far A moved from its init."""
    lags = combined.lag.values
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    for s_A, color in zip(s_As, colors):
        sel = combined.where(combined.s_A == s_A, drop=True)
        fin = sel.tap_fraction.isel(step=-1).values.ravel()
        lag_grid = np.broadcast_to(lags, sel.tap_fraction.isel(step=-1).shape).ravel()
        ok = np.isfinite(fin)
        ax1.plot(lag_grid[ok], fin[ok], "o", color=color, alpha=0.8, label=f"s_A = {s_A:g}")
        for r in sel.run.values:
            teacher = str(sel.teacher.sel(run=r).values)
            ax2.plot(np.maximum(sel.step.values, 0.7), sel.spectral_radius.sel(run=r), color=color, lw=1,
                     ls={"short": ":", "long": "--"}.get(teacher, "-"), label=f"s_A = {s_A:g}, {teacher}")
    ax1.axhline(1.0, color="0.6", lw=0.5)
    ax1.set_xlabel("teacher tap lag j")
    ax1.set_ylabel(f"fraction learned at step {total}")
    ax1.legend(fontsize=7)
    ax2.set_xscale("log")
    ax2.set_xlabel("optimiser step")
    ax2.set_ylabel("spectral radius of A")
    ax2.set_title("spectral radius of A during training (fixed in the wide limit)", fontsize=9)
    ax2.legend(fontsize=6, ncol=2)
    return fig
