"""Figure of a covariant-Lyapunov-vector result: subspace angles over time, participation ratios."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from ._common import (Figures, divergence_text, figure, finite, footnote, legend_above, note, per_time,
                      plural, time_unit, title_of, value_axis, write_figures)

__all__ = ["plot_clv"]


def plot_clv(ds, out_dir, *, overwrite: bool = False) -> list[Path]:
    """``clv.png``: the minimal angle between the unstable and stable CLV subspaces over time
    (one line per trajectory, degrees; log axis when it spans decades, near 0 = tangency),
    its distribution, and each CLV's participation ratio against its exponent index (mean
    over time and trajectories with the 10–90 % range; 1 = one unit, S = all units).
    """
    return write_figures(figures(ds), out_dir, overwrite=overwrite)


def figures(ds) -> Figures:
    """``{file stem: draw}`` of a CLV result (see `plot_clv`)."""
    if "clv" not in ds:
        return {}
    return {"clv": lambda: _figure(ds)}


def _figure(ds):
    fig, (ax_t, ax_h, ax_p) = figure(3, width=12.0, height=4.0)
    _angles(ds, ax_t, ax_h)
    _participation(ds, ax_p)
    legend_above(fig, [ax_t, ax_p], ncols=4, title=f"covariant Lyapunov vectors — {title_of(ds)}")
    lam = ds.exponent.values
    unit = per_time(ds, "exponent")
    shown = ", ".join(f"{v:.3g}" for v in lam[:6]) + (", …" if lam.size > 6 else "")
    footnote(fig, f"exponents λ_i = {shown} nats/{unit}; unstable subspace: the first "
             f"{int(ds.n_unstable)} CLVs", divergence_text(ds))
    return fig


def _angles(ds, ax_t, ax_h) -> None:
    deg = np.degrees(ds.min_subspace_angle.values)
    t = ds.time.values
    unit = time_unit(ds, "time")
    ax_t.set(xlabel=f"time t [{plural(unit)}]", ylabel="min angle unstable/stable  [deg]",
             title="angle between CLV subspaces (a line per trajectory)")
    ax_h.set(xlabel="min angle  [deg]", ylabel="count", title="distribution over times and trajectories")
    vals = finite(deg)
    if "subspace_angle_determined" in ds and vals.size and not bool(ds.subspace_angle_determined):
        gap = ds.exponent.values[int(ds.n_unstable) - 1] - ds.exponent.values[int(ds.n_unstable)]
        why = (f"not determined (not drawn):\nexponent gap {gap:.2g} at the split\nneeds transients "
               f"≳ 5/gap = {5 / gap:.2g} steps")
        note(ax_t, why)
        note(ax_h, why)
        return
    if not vals.size:
        why = (divergence_text(ds) if (ds.diverged.values != 0).all() else
               "no unstable/stable split: every exponent has the same sign (n_unstable = 0 or all)")
        note(ax_t, why)
        note(ax_h, why)
        return
    for i, row in enumerate(deg):
        if np.isfinite(row).any():
            ax_t.plot(t, row, lw=0.6, alpha=0.6, color=f"C{i % 10}")
    value_axis(ax_t, vals)
    log = vals.min() > 0 and vals.max() > 10 * vals.min()
    bins = np.geomspace(vals.min(), vals.max(), 40) if log else 40
    ax_h.hist(vals, bins=bins, color="C0")
    value_axis(ax_h, vals, axis="x")
    ax_h.axvline(np.median(vals), color="C3", lw=1)
    ax_h.text(0.03, 0.95, f"median {np.median(vals):.3g}°\nmin {vals.min():.3g}°", transform=ax_h.transAxes,
              ha="left", va="top", fontsize=8)


def _participation(ds, ax) -> None:
    pr = ds.participation_ratio.values  # (trajectory, time, k)
    idx = ds.exponent_index.values
    S = ds.sizes["state"]
    ax.set(xlabel="CLV index i (0 = largest exponent)", ylabel="participation ratio  [units]",
           title="how many units carry each CLV")
    flat = pr.reshape(-1, pr.shape[-1])
    ok = np.isfinite(flat).all(1)
    if not ok.any():
        note(ax, divergence_text(ds) or "no finite vectors")
        return
    lo, hi = np.percentile(flat[ok], [10, 90], axis=0)
    mean = ds.mean_participation_ratio.values
    unstable = ds.exponent.values > 0
    ax.fill_between(idx, lo, hi, color="0.8", lw=0, label="10–90 % over times and trajectories")
    ax.plot(idx, mean, "-", color="0.4", lw=0.8)
    ax.plot(idx[unstable], mean[unstable], "o", color="C3", ms=4, label="mean, λ_i > 0")
    ax.plot(idx[~unstable], mean[~unstable], "o", color="C0", ms=4, label="mean, λ_i ≤ 0")
    if "clv_converged" in ds and not ds.clv_converged.values.all():  # vectors the transients cannot settle
        loose = ~ds.clv_converged.values.astype(bool)
        ax.plot(idx[loose], mean[loose], "o", mfc="white", mec="0.3", ms=4,
                label="not determined (gap × transient < 5)")
    ax.axhline(S, color="0.6", lw=0.8, ls="--", label=f"S = {S} (spread evenly)")
    ax.set_ylim(0.9, S * 1.05)  # a participation ratio is at least 1
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
