"""Figures of a non-normality result."""
from __future__ import annotations

import numpy as np

from ._common import pyplot, save, title_of


def plot_nonnormality(ds, out_dir) -> list:
    """Chain-motif profile and transient growth ``‖W^k‖₂`` versus ``ρ^k``.

    Writes ``nonnormality.png``; nothing when the model has no recurrent matrix. Returns paths.
    """
    if "henrici" not in ds:
        return []
    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    k = ds.order_difference.values
    prof, std = ds.motif_profile.values, ds.motif_profile_std.values
    a1.axhline(0, color="0.6", lw=0.8)
    a1.axvline(0, color="0.85", lw=0.8)
    a1.fill_between(k, prof - std, prof + std, color="C0", alpha=0.25, lw=0, label="±1 s.d. over pulses")
    a1.plot(k, prof, ".-", ms=3, color="C0", label="mean W_ij")
    a1.set(xlabel="peak-time order difference i − j", ylabel="mean weight W_ij",
           title=f"chain-motif profile — {title_of(ds)}")
    a1.legend(fontsize=7)
    reliable = int(ds.henrici_reliable) == 1
    a1.text(0.02, 0.95, f"Henrici d = {float(ds.henrici):.4g}{'' if reliable else ' (unreliable)'}\n"
            f"d / ‖W‖_F = {float(ds.henrici_normalized):.3g}\n"
            f"κ(V) = {float(ds.eigenvector_condition):.3g}",
            transform=a1.transAxes, va="top", fontsize=8)

    p = ds.power.values
    rho = float(ds.spectral_radius)
    a2.semilogy(p, ds.power_norm.values, ".-", ms=3, color="C3", label="‖W^k‖₂")
    with np.errstate(divide="ignore"):
        a2.semilogy(p, rho ** p.astype(float), color="0.4", ls="--", label="ρ(W)^k")
    a2.set(xlabel="power k", ylabel="norm", title="transient growth of h ← W h")
    a2.text(0.02, 0.97, f"‖W‖₂ = {float(ds.spectral_norm):.3g}, ρ = {rho:.3g}\n"
            f"numerical abscissa = {float(ds.numerical_abscissa):.3g}, "
            f"spectral abscissa = {float(ds.spectral_abscissa):.3g}",
            transform=a2.transAxes, va="top", fontsize=7)
    a2.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return [save(fig, out_dir, "nonnormality")]
