"""Figures of a non-normality result."""
from __future__ import annotations

import numpy as np

from ._common import (Figures, divergence_text, figure, footnote, legend_above, matrix_description,
                      title_of, value_axis, write_figures)

__all__ = ["plot_nonnormality"]


def _figure(ds):
    fig, (a1, a2) = figure(2, width=10.5, height=4.0)
    k = ds.order_difference.values
    prof, std = ds.motif_profile.values, ds.motif_profile_std.values
    a1.axhline(0, color="0.6", lw=0.8)
    a1.axvline(0, color="0.85", lw=0.8)
    a1.fill_between(k, prof - std, prof + std, color="C0", alpha=0.25, lw=0, label="±1 s.d. over pulses")
    a1.plot(k, prof, ".-", ms=3, color="C0", label="mean W_ij")
    a1.set(xlabel="peak-time order difference i − j", ylabel="mean weight W_ij",
           title=f"chain-motif profile — {title_of(ds)}")
    reliable = int(ds.henrici_reliable) == 1

    p = ds.power.values
    rho = float(ds.spectral_radius)
    norms = ds.power_norm.values
    with np.errstate(divide="ignore", over="ignore"):
        ref = rho ** p.astype(float)
    a2.plot(p, norms, ".-", ms=3, color="C3", label="‖W^k‖₂")
    a2.plot(p, ref, color="0.4", ls="--", label="ρ(W)^k")
    value_axis(a2, np.concatenate([norms, ref]))
    a2.set(xlabel="power k", ylabel="norm", title="transient growth of h ← W h")
    legend_above(fig, [a1, a2], ncols=4)
    footnote(fig, f"W: {matrix_description(ds)}",
             f"Henrici departure from normality d = {float(ds.henrici):.4g}"
             f"{'' if reliable else ' (unreliable)'}, d / ‖W‖_F = {float(ds.henrici_normalized):.3g}, "
             f"eigenvector condition κ(V) = {float(ds.eigenvector_condition):.3g}; ‖W‖₂ = "
             f"{float(ds.spectral_norm):.3g}, ρ(W) = {rho:.3g}, numerical abscissa "
             f"{float(ds.numerical_abscissa):.3g}, spectral abscissa {float(ds.spectral_abscissa):.3g}",
             divergence_text(ds, "chain-motif pulses") and
             f"chain motif: {divergence_text(ds, 'chain-motif pulses')}")
    return fig


def figures(ds) -> Figures:
    """``{file stem: draw}`` of a non-normality result (none without a recurrent matrix)."""
    return {"nonnormality": lambda: _figure(ds)} if "henrici" in ds else {}


def plot_nonnormality(ds, out_dir, *, overwrite: bool = False) -> list:
    """Chain-motif profile and transient growth ``‖W^k‖₂`` versus ``ρ^k``.

    Parameters
    ----------
    ds : xarray.Dataset
        A `dynalysis.nonnormality` result; one recording that the model has no recurrent
        matrix (``has_recurrent_matrix = 0``, a gated cell) gives no figure.
    out_dir : path-like
    overwrite : bool, default False
        Replace existing files; otherwise `ResultsFileError` before anything is written.

    Returns
    -------
    list of pathlib.Path
        ``nonnormality.png`` (empty list without a matrix). The numbers (Henrici departure,
        norms, abscissae) and what ``W`` is (the file's ``recurrent_matrix_description`` or
        ``matrix_source``; for a WCRNN file that records neither, a warning that it may be the
        coupling rather than ``R + εW``) are printed below the panels, where they cannot cover
        the curves.
    """
    return write_figures(figures(ds), out_dir, overwrite=overwrite)
