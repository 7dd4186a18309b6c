"""Figures of the WCRNN fading-memory study, drawn from the combined results."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from report import PERF, homogeneous, pick  # noqa: E402


def make(study, combined: xr.Dataset, numbers: dict) -> None:
    """Draw and save every figure."""
    cfg, sweep, sweep_mean = study.config, numbers["sweep"], numbers["sweep_mean"]
    study.save_figure(performance_vs_lambda(sweep, sweep_mean, cfg["epsilon"]), "performance_vs_lambda.png")
    study.save_figure(lyapunov_vs_ln_lambda(combined, sweep, cfg), "lyapunov_vs_ln_lambda.png")
    study.save_figure(residual_variants(combined, cfg), "residual_variants.png")
    study.save_figure(elman_inits(combined), "elman_inits.png")


def performance_vs_lambda(sweep: dict, sweep_mean: dict, eps: float):
    """Task performance against λ and against the measured largest exponent."""
    fig, axes = plt.subplots(2, 2, figsize=(9, 6.5))
    for r, task in enumerate(("digits", "adding")):
        d, (var, ylabel) = sweep[task], PERF[task]
        for c, (x, xlabel, mark) in enumerate(((d.lam, "residual scale λ", 1.0),
                                               (d.lyapunov_max, "largest Lyapunov exponent λ_max [1/step]", 0.0))):
            ax = axes[r, c]
            ax.plot(x, d[var], "o", color="C0", alpha=0.7, label="one run")
            if c == 0:
                ax.plot(sweep_mean[task].lam, sweep_mean[task], "-", color="C0", label="mean over seeds")
            for xv, yv, lam in zip(x.values, d[var].values, d.lam.values):
                ax.annotate(f"{lam:g}", (xv, yv), fontsize=7, xytext=(3, 3), textcoords="offset points")
            ax.axvline(mark, color="0.5", ls="--", lw=0.8)
            if task == "adding":
                ax.axhline(0.5, color="C3", ls=":", lw=0.8, label="success (½ chance)")
            ax.legend(fontsize=7)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(f"{task}: identity residual, ε = {eps:g}", fontsize=9)
    return fig


def lyapunov_vs_ln_lambda(combined: xr.Dataset, sweep: dict, cfg: dict):
    """The largest exponent against ln λ before and after training; full spectra; what moved it."""
    eps = cfg["epsilon"]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 4))
    wc = combined.where(combined.cell == "wcrnn", drop=True)
    ln_rho = wc.residual_log_modulus.isel(exponent_index=0)
    for group, marker in (("lambda_sweep", "o"), ("rotational", "s"), ("heterogeneous", "D"), ("nonlinear", "v")):
        for task, color in (("digits", "C0"), ("adding", "C1")):
            m = (wc.group == group) & (wc.task == task)
            if bool(m.any()):
                ax1.plot(ln_rho.where(m, drop=True), wc.lyapunov_max.where(m, drop=True), marker, color=color,
                         label=f"{group}, {task}: trained")
                if group == "lambda_sweep":
                    ax1.plot(ln_rho.where(m, drop=True), wc.lyapunov_max_init.where(m, drop=True), marker,
                             color=color, mfc="none", label=f"{group}, {task}: at init")
    lim = np.array([float(min(ln_rho.min(), wc.lyapunov_max.min(), wc.lyapunov_max_init.min())) - 0.02,
                    float(max(ln_rho.max(), wc.lyapunov_max.max(), wc.lyapunov_max_init.max())) + 0.02])
    ax1.plot(lim, lim, "k--", lw=0.8, label="λ_max = ln|eig R|_max")
    ax1.fill_between(lim, lim - eps, lim + eps, color="0.9", label=f"± ε = {eps:g}")
    ax1.set_xlabel("ln|eig R|_max  (= ln λ)")
    ax1.set_ylabel("largest Lyapunov exponent, task-driven [1/step]")
    ax1.set_title("every WCRNN: λ_max against the residual", fontsize=9)
    ax1.legend(fontsize=6)
    d = sweep["digits"].where(sweep["digits"].replicate == cfg["sweep_seeds"][0], drop=True)
    colors = plt.cm.coolwarm(np.linspace(0, 1, d.sizes["run"]))
    for k, color in enumerate(colors):
        ax2.plot(d.exponent_index, d.exponent.isel(run=k), "-", color=color, label=f"λ = {float(d.lam[k]):g}")
        ax2.axhline(math.log(float(d.lam[k])), color=color, ls=":", lw=0.8)
    ax2.set_xlabel("exponent index")
    ax2.set_ylabel("Lyapunov exponent [1/step]")
    ax2.set_title("digits, trained (first seed): full spectra (dotted: ln λ)", fontsize=9)
    ax2.legend(fontsize=6)
    for task, color in (("digits", "C0"), ("adding", "C1")):
        d = sweep[task]
        for when, norm, lyap, mfc in (("init", d.coupling_norm_init, d.lyapunov_max_init, "none"),
                                      ("trained", d.coupling_norm, d.lyapunov_max, color)):
            ax3.plot(norm, lyap - np.log(d.lam), "o", color=color, mfc=mfc, label=f"{task}, {when}")
    ax3.axhline(0, color="0.5", lw=0.8)
    ax3.set_xlabel("coupling ε‖W‖₂")
    ax3.set_ylabel("λ_max − ln λ [1/step]")
    ax3.set_title("identity sweep: deviation from ln λ against the coupling", fontsize=9)
    ax3.legend(fontsize=6)
    return fig


def residual_variants(combined: xr.Dataset, cfg: dict):
    """Performance of each residual variant beside the homogeneous identity residual."""
    hom = homogeneous(cfg)
    variant_labels = {
        "digits": hom + [f"rotational θ=2π/{p}" for p in cfg["periods"]]
        + ["rotational θ~U[0,π]", "heterogeneous λ_i~U[0.9,1]", "nonlinear λ tanh(h), λ=1"],
        "adding": hom + ["heterogeneous λ_i~U[0.9,1]", "nonlinear λ tanh(h), λ=1"],
    }
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw=dict(width_ratios=[3, 2]))
    for ax, task in zip(axes, ("digits", "adding")):
        var, ylabel = PERF[task]
        labels = [lab for lab in variant_labels[task] if pick(combined, task, lab) is not None]
        values = [float(pick(combined, task, lab)[var].mean()) for lab in labels]
        bar_colors = ["C2" if f"2π/{cfg['row_period']}" in lab else "C0" if lab.startswith("identity") else "C1"
                      for lab in labels]
        ax.bar(range(len(labels)), values, color=bar_colors)
        ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right", fontsize=7)
        ax.set_xlabel("residual")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{task}: residual variants" + (f" (green: θ matched to the {cfg['row_period']}-step row)"
                                                     if task == "digits" else ""), fontsize=9)
    return fig


def elman_inits(combined: xr.Dataset):
    """Elman RNNs: the WCRNN initialisation against standard inits."""
    elman = combined.where(combined.group == "elman", drop=True)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    for k in range(elman.sizes["run"]):
        e = elman.isel(run=k)
        ax1.plot(e.epoch + 1, e.val_acc_curve, "o-", ms=3, label=str(e.label.values))
    ref = pick(combined, "digits", "identity λ=1")
    if ref is not None:
        ref = ref.isel(run=0)
        ax1.plot(ref.epoch + 1, ref.val_acc_curve, "k--", label="WCRNN identity λ=1 (reference)")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("validation accuracy (digits)")
    ax1.legend(fontsize=7)
    labels = [str(lab) for lab in elman.label.values]
    ax2.bar(range(elman.sizes["run"]), elman.val_acc, color=["C2" if "wcrnn" in lab else "C0" for lab in labels])
    ax2.set_xticks(range(elman.sizes["run"]), labels, rotation=20, ha="right", fontsize=7)
    ax2.set_xlabel("initialisation")
    ax2.set_ylabel("final validation accuracy")
    ax2.set_title("Elman RNN (tanh), trained end to end", fontsize=9)
    return fig
