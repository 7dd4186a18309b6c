"""Figures of a Lyapunov spectrum result."""
from __future__ import annotations

import numpy as np

from ._common import (Figures, divergence_text, figure, footnote, legend_above, note, per_time,
                      time_unit, title_of, write_figures)

__all__ = ["plot_lyapunov"]


def _converged(ds) -> np.ndarray | None:
    """Per-exponent ``converged`` flags (a scalar flag applies to every exponent), or None."""
    if "converged" not in ds:
        return None
    flags = np.asarray(ds.converged.values) != 0
    return np.broadcast_to(flags, ds.exponent.shape) if flags.ndim == 0 else flags


def _headline(ds, lam: np.ndarray, converged: np.ndarray | None) -> str:
    """``λ_max = … [CI] (not converged)``, ``D_KY = …``, and the divergence note if any."""
    unit = per_time(ds, "exponent")
    lines = [f"λ_max = {lam[0]:.4g} nats/{unit}" if np.isfinite(lam[0]) else "λ_max: no finite estimate"]
    if "exponent_ci_low" in ds and "exponent_ci_high" in ds:
        lo, hi = float(ds.exponent_ci_low[0]), float(ds.exponent_ci_high[0])
        lines[0] += f", CI [{lo:.4g}, {hi:.4g}]"
    if converged is not None and not converged[0]:
        lines[0] += " (not converged)"
    if "kaplan_yorke_dimension" in ds and np.isfinite(float(ds.kaplan_yorke_dimension)):
        lines.append(f"Kaplan–Yorke dimension D_KY = {float(ds.kaplan_yorke_dimension):.3g}")
    if converged is not None and not converged.all():
        lines.append(f"{int((~converged).sum())} of {converged.size} exponents not converged "
                     "(open markers)")
    text = divergence_text(ds)
    if text:
        lines.append(text)
    return "\n".join(lines)


def _spectrum(ds):
    lam, std = ds.exponent.values, ds.exponent_std.values
    idx = ds.exponent_index.values
    unit = per_time(ds, "exponent")
    fig, (ax,) = figure(width=6.0, height=4.0)
    ax.set(xlabel="exponent index i (0 = largest)", ylabel=f"λ_i  [nats / {unit}]",
           title=f"Lyapunov spectrum — {title_of(ds)}")
    converged = _converged(ds)
    if not np.isfinite(lam).any():
        note(ax, divergence_text(ds) or "no finite exponent (NaN/inf)")
        return fig
    ax.axhline(0, color="0.6", lw=0.8)
    ax.fill_between(idx, lam - std, lam + std, color="C0", alpha=0.2, lw=0,
                    label="±1 s.d. over trajectories")
    if "exponent_ci_low" in ds and "exponent_ci_high" in ds:
        lo, hi = ds.exponent_ci_low.values, ds.exponent_ci_high.values
        ax.errorbar(idx, lam, yerr=np.abs(np.stack([lam - lo, hi - lam])), fmt="none", ecolor="C3",
                    elinewidth=0.8, capsize=1.5, label="confidence interval")
    ax.plot(idx, lam, "-", color="C0", lw=1)
    if converged is None:
        ax.plot(idx, lam, ".", color="C0", ms=4, label="mean over trajectories")
    else:
        if converged.any():
            ax.plot(idx[converged], lam[converged], "o", color="C0", ms=3.5, label="converged")
        if not converged.all():
            ax.plot(idx[~converged], lam[~converged], "o", mfc="white", mec="C3", ms=4, mew=1,
                    label="not converged")
    legend_above(fig, [ax])
    footnote(fig, _headline(ds, lam, converged))
    return fig


def _convergence(ds):
    conv = ds.convergence.values
    unit = per_time(ds, "exponent")
    fig, (ax,) = figure(width=6.8, height=4.0)
    unit_t = time_unit(ds, "step")
    ax.set(xlabel="steps averaged since the transient" if unit_t == "step"
           else f"time averaged since the transient [{unit_t}]",
           ylabel=f"running estimate  [nats / {unit}]",
           title="convergence of the QR estimates (flat = converged)")
    steps = ds.step.values
    ok = np.isfinite(conv).any(0)
    if not ok.any() or not (steps > 0).any():
        note(ax, divergence_text(ds) or "no finite running estimate (NaN/inf)")
        return fig
    cols = np.flatnonzero(ok)
    show = cols[np.unique(np.linspace(0, cols.size - 1, min(cols.size, 8)).astype(int))]
    for i in show:
        ax.plot(steps, conv[:, i], lw=1, label=f"frame column {i}")
    ax.set_xscale("log")
    legend_above(fig, [ax], ncols=4)
    footnote(fig, "one curve per column of the QR frame (columns are not sorted by exponent); "
             "a curve still sloping at the right end has not converged", divergence_text(ds))
    return fig


def figures(ds) -> Figures:
    """``{file stem: draw}`` of a Lyapunov result (see `plot_lyapunov`)."""
    return {"lyapunov_spectrum": lambda: _spectrum(ds), "lyapunov_convergence": lambda: _convergence(ds)}


def plot_lyapunov(ds, out_dir, *, overwrite: bool = False) -> list:
    """Spectrum (with spread, confidence intervals, convergence flags) and running estimates.

    Parameters
    ----------
    ds : xarray.Dataset
        A `dynalysis.lyapunov_spectrum` result. Drawn when present: ``exponent_ci_low`` /
        ``exponent_ci_high`` (error bars), ``converged`` (unconverged exponents as open
        markers, "(not converged)" after λ_max), ``diverged`` (a note).
    out_dir : path-like
        Folder for the PNG files (created if needed).
    overwrite : bool, default False
        Replace existing files; otherwise `ResultsFileError` before anything is written.

    Returns
    -------
    list of pathlib.Path
        ``lyapunov_spectrum.png`` and ``lyapunov_convergence.png``. Exponents are labelled
        in nats per the unit of the ``exponent`` variable (per step for maps).
    """
    return write_figures(figures(ds), out_dir, overwrite=overwrite)
