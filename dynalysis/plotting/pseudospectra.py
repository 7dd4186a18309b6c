"""Figure of a pseudospectra result: contours of σ_min(zI − A) at the ε levels."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ._common import Figures, pyplot, title_of, write_figures


def plot_pseudospectra(ds, out_dir, *, overwrite: bool = False) -> list[Path]:
    """``pseudospectra.png``: ``log10 σ_min(zI − A)`` with the ε-contours labelled, the
    eigenvalues, the unit circle and the points of largest ``|z|``; equal axes.

    The legend gives ``ρ_ε`` and ``α_ε`` per ε and the Kreiss lower bound. Returns the path
    (none for a dataset without ``sigma_min``).
    """
    return write_figures(figures(ds), out_dir, overwrite=overwrite)


def figures(ds) -> Figures:
    """``{file stem: draw}`` of a pseudospectra result (see `plot_pseudospectra`)."""
    return {"pseudospectra": lambda: _figure(ds)} if "sigma_min" in ds else {}


def _figure(ds):
    plt = pyplot()
    from matplotlib.lines import Line2D

    x, y = ds["real"].values, ds["imag"].values  # not ds.real: that is xarray's real part
    s = ds.sigma_min.values
    positive = s[s > 0]
    floor = positive.min() if positive.size else 1e-300
    logs = np.log10(np.maximum(s, floor))  # σ_min = 0 exactly on an eigenvalue
    eps = ds.epsilon.values
    fig, ax = plt.subplots(figsize=(7.2, 6.0))
    # shade the decades around the ε levels; deeper values (towards the eigenvalues) saturate
    lo = max(float(logs.min()), float(np.log10(eps.min())) - 3)
    hi = max(min(float(logs.max()), float(np.log10(eps.max())) + 1), lo + 1)
    shade = ax.contourf(x, y, np.clip(logs, lo, hi), levels=np.linspace(lo, hi, 25), cmap="Greys_r",
                        alpha=0.6)
    cbar = fig.colorbar(shade, ax=ax, shrink=0.8)
    cbar.set_label("log10 σ_min(zI − A) (clipped)" if lo > logs.min() or hi < logs.max()
                   else "log10 σ_min(zI − A)")
    decades = np.arange(np.ceil(lo), np.floor(hi) + 1)
    if decades.size >= 2:
        cbar.set_ticks(decades)
    colors = pyplot().get_cmap("viridis")(np.linspace(0.0, 0.85, eps.size))
    handles = []
    levels = np.log10(eps)
    if logs.min() < levels.max():
        cs = ax.contour(x, y, logs, levels=levels, colors=colors, linewidths=1.4)
        ax.clabel(cs, fmt={lv: f"{10 ** lv:.0e}" for lv in cs.levels}, fontsize=7, inline=True)
    for e, c, r, a in zip(eps, colors, ds.pseudospectral_radius.values, ds.pseudospectral_abscissa.values):
        unresolved = "" if (s <= e).any() else " (finer than the grid)"
        handles.append(Line2D([], [], color=c, lw=1.4,
                              label=f"ε = {e:.0e}: ρ_ε = {r:.4g}, α_ε = {a:.4g}{unresolved}"))
    rp = ds.radius_point.values
    ax.plot(rp.real, rp.imag, "x", color="C3", ms=6, mew=1.5)
    handles.append(Line2D([], [], ls="", marker="x", color="C3", mew=1.5, label="point of largest |z| in σ_ε"))
    lam = ds.eigenvalue.values
    ax.plot(lam.real, lam.imag, "o", color="k", ms=3.5)
    handles.append(Line2D([], [], ls="", marker="o", color="k", ms=3.5, label="eigenvalues"))
    t = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(t), np.sin(t), "--", color="C1", lw=1.1)
    handles.append(Line2D([], [], ls="--", color="C1", lw=1.1, label="unit circle"))
    K = float(ds.kreiss_lower_bound)
    handles.append(Line2D([], [], ls="", label=f"Kreiss constant K ≥ {K:.4g}" if np.isfinite(K)
                          else "Kreiss constant K = ∞ (ρ > 1)"))
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(y[0], y[-1])
    ax.set_aspect("equal")
    ax.set(xlabel="Re z", ylabel="Im z")
    ax.set_title(f"ε-pseudospectra — {title_of(ds)}\n{ds.attrs.get('matrix_source', '')}", fontsize=9)
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.12), ncol=2, frameon=False)
    return fig
