"""Figure of a transient-growth result: ‖A^k‖₂ against ρ^k and the Kreiss bounds."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ._common import Figures, pyplot, title_of, write_figures

_LN10 = np.log(10.0)


def plot_transient_growth(ds, out_dir, *, overwrite: bool = False) -> list[Path]:
    """``transient_growth.png``.

    Matrix mode: ``‖A^k‖₂`` on a log axis with ``ρ(A)^k``, the peak, and the Kreiss bounds
    ``K ≤ sup_k ‖A^k‖ ≤ e·n·K`` as labelled horizontal lines (``K`` the numerical lower
    bound). Trajectory mode: ``log10 ‖J(t0+k) ⋯ J(t0+1)‖₂`` of every trajectory and their
    mean. Returns the path (none for another analysis' dataset).
    """
    return write_figures(figures(ds), out_dir, overwrite=overwrite)


def figures(ds) -> Figures:
    """``{file stem: draw}`` of a transient-growth result (see `plot_transient_growth`)."""
    if ds.attrs.get("mode") not in ("matrix", "trajectory"):
        return {}
    return {"transient_growth": lambda: _figure(ds, ds.attrs["mode"])}


def _figure(ds, mode):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.4))
    k = ds.power.values
    if mode == "matrix":
        _matrix_panel(ax, ds, k)
    else:
        _trajectory_panel(ax, ds, k)
    ax.set_title(f"transient growth — {title_of(ds)}\n{ds.attrs.get('matrix_source', '')}", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def _matrix_panel(ax, ds, k) -> None:
    """Log axis when every value is in the float range, else log10 values on a linear axis."""
    log_norm = ds.log_power_norm.values
    rho = float(ds.spectral_radius)
    K = float(ds.kreiss_lower_bound)
    upper = float(ds.kreiss_upper_bound_on_peak)
    in_range = np.nanmax(np.abs(log_norm[np.isfinite(log_norm)])) < 700
    if in_range:
        ax.set_yscale("log")
        tf, ylabel = np.exp, "‖A^k‖₂"
    else:
        tf, ylabel = (lambda v: np.asarray(v) / _LN10), "log10 ‖A^k‖₂"
    finite = np.isfinite(log_norm)
    ax.plot(k[finite], tf(log_norm[finite]), ".-", ms=3, color="C3", label="‖A^k‖₂")
    if not finite.all():  # A^k = 0 exactly from some power on: nothing to draw on a log axis
        ax.plot([], [], " ", label=f"A^k = 0 for k ≥ {int(k[~finite][0])}")
    if rho > 0:
        ax.plot(k, tf(k * np.log(rho)), "--", color="0.4", label=f"ρ(A)^k, ρ = {rho:.4g}")
    else:
        ax.plot([], [], " ", label="ρ(A) = 0 (nilpotent): ρ^k = 0 for k ≥ 1")
    ax.axhline(tf(0.0), color="0.8", lw=0.8)
    p = int(ds.peak_power)
    ax.plot([k[p]], [tf(log_norm[p])], "o", mfc="none", color="C3", ms=8,
            label=f"peak {float(ds.peak_norm):.4g} at k = {p}")
    if np.isfinite(K):
        ax.axhline(tf(np.log(K)), color="C0", lw=1.2,
                   label=f"Kreiss lower bound K ≥ {K:.4g}\n(sup_k ‖A^k‖ ≥ K)")
        ax.axhline(tf(np.log(upper)), color="C2", lw=1.2, ls="-.",
                   label=f"e·n·K = {upper:.4g}\n(Kreiss theorem: sup_k ‖A^k‖ ≤ e·n·K)")
    else:
        ax.plot([], [], " ", label="K = ∞ (ρ > 1): no Kreiss bound")
    ax.set(xlabel="power k", ylabel=ylabel)


def _trajectory_panel(ax, ds, k) -> None:
    logs = ds.log_product_norm.values / _LN10
    ok = ds.diverged.values == 0
    for i, row in enumerate(logs[ok]):
        ax.plot(k, row, color="C0", lw=0.6, alpha=0.35, label="each trajectory" if i == 0 else None)
    ax.plot(k, ds.mean_log_product_norm.values / _LN10, color="C3", lw=1.8,
            label=f"mean over {int(ok.sum())} finite trajectories")
    ax.axhline(0.0, color="0.8", lw=0.8)
    t0 = json.loads(ds.attrs.get("options", "{}")).get("transient", 0)
    ax.set(xlabel=f"steps k after the transient (t0 = {t0})", ylabel="log10 ‖J(t0+k) ⋯ J(t0+1)‖₂")
