"""Figures of the eigen-initializer study, drawn from the combined results."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from report import elman_spectra  # noqa: E402

CIRCLE = np.exp(1j * np.linspace(0, 2 * np.pi, 200))


def make(study, ds: xr.Dataset, rows: list[tuple], *, inits) -> None:
    """Draw and save every figure that the runs of this size support."""
    colors = {init: f"C{i}" for i, init in enumerate(inits)}
    tomita = [r for r in rows if r[0].startswith("tomita") and r[1] == "elman"]
    if tomita:
        study.save_figure(tomita_accuracy(tomita, inits), "tomita_elman_accuracy.png")
    multi = [r for r in rows if sum(1 for q in rows if q[0] == r[0]) > 1]
    if multi:
        study.save_figure(cells_accuracy(multi, inits, colors), "cells_accuracy.png")
    spec_inits = [i for i in ("eigen", "xavier") if (elman_spectra(ds, "regression", i).size
                                                     and elman_spectra(ds, "classification", i).size)]
    if spec_inits:
        study.save_figure(spectra_by_task_kind(ds, spec_inits), "spectra_classification_vs_regression.png")
        study.save_figure(modulus_phase_histograms(ds, spec_inits), "modulus_phase_histograms.png")
    study.save_figure(initial_spectra(ds, inits, colors), "initial_spectra.png")


def tomita_accuracy(tom: list[tuple], inits):
    """Vanilla RNN: grammar × initializer grid of mean test accuracy."""
    grid = np.array([[r[2].get(i, (np.nan,))[0] for i in inits] for r in tom])
    fig, ax = plt.subplots(figsize=(7.2, 0.5 * len(tom) + 1.8))
    im = ax.imshow(grid, cmap="viridis", vmin=0.5, vmax=1.0, aspect="auto")
    for (a, b), v in np.ndenumerate(grid):
        sd = tom[a][2].get(inits[b], (0, np.nan))[1]
        ax.text(b, a, f"{v:.2f}\n±{sd:.2f}", ha="center", va="center", fontsize=7,
                color="w" if v < 0.8 else "k")
    ax.set_xticks(range(len(inits)), inits)
    ax.set_yticks(range(len(tom)), [r[0] for r in tom])
    ax.set_xlabel("initializer")
    ax.set_ylabel("Tomita grammar")
    ax.set_title("Vanilla RNN, Tomita test accuracy (longer strings), mean ± sd over seeds")
    fig.colorbar(im, ax=ax, label="test accuracy")
    return fig


def cells_accuracy(multi: list[tuple], inits, colors):
    """Settings run with several cells: bars of test accuracy per initializer."""
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(multi)), 4.0))
    width = 0.8 / len(inits)
    for j, init in enumerate(inits):
        mean = [r[2].get(init, (np.nan, 0))[0] for r in multi]
        sd = [r[2].get(init, (np.nan, 0))[1] for r in multi]
        ax.bar(np.arange(len(multi)) + (j - len(inits) / 2 + 0.5) * width, mean, width, yerr=sd,
               color=colors[init], label=init, capsize=2)
    ax.set_xticks(range(len(multi)), [f"{r[0]}\n{r[1]}" for r in multi])
    ax.set_xlabel("task, cell")
    ax.set_ylabel("test accuracy (mean ± sd over seeds)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("All three cells: test accuracy by initializer")
    return fig


def spectra_by_task_kind(ds: xr.Dataset, spec_inits: list[str]):
    """W_hh eigenvalues before and after training, classification vs regression tasks."""
    fig, axes = plt.subplots(len(spec_inits), 2, figsize=(8, 4 * len(spec_inits)), squeeze=False)
    for a, init in enumerate(spec_inits):
        for b, kind in enumerate(("classification", "regression")):
            ax = axes[a, b]
            ax.plot(CIRCLE.real, CIRCLE.imag, "k", lw=0.5)
            ev0, ev = elman_spectra(ds, kind, init, "initial_eigenvalue"), elman_spectra(ds, kind, init)
            ax.scatter(ev0.real, ev0.imag, s=5, color="0.7", label="initial")
            ax.scatter(ev.real, ev.imag, s=5, color="C3" if kind == "regression" else "C0", label="trained")
            tasks = sorted({s for s in ds.task.values[(ds.task_kind.values == kind) & (ds.cell.values == "elman")
                                                      & (ds.init.values == init)]})
            ax.set_title(f"{init} init, {kind}\n({', '.join(tasks)})", fontsize=9)
            ax.set_aspect("equal")
            ax.set_xlim(-1.6, 1.6)
            ax.set_ylim(-1.6, 1.6)
            ax.set_xlabel("Re λ")
            ax.set_ylabel("Im λ")
            ax.legend(fontsize=7, markerscale=2, loc="lower left")
    fig.suptitle("Vanilla RNN: eigenvalues of W_hh before and after training")
    return fig


def modulus_phase_histograms(ds: xr.Dataset, spec_inits: list[str]):
    """Distributions of |λ| and |arg λ| of trained W_hh, by initializer and task kind."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for init, ls in zip(spec_inits, ("-", "--")):
        for kind, c in (("classification", "C0"), ("regression", "C3")):
            ev = elman_spectra(ds, kind, init)
            ev = ev[np.isfinite(ev)]
            axes[0].hist(np.abs(ev), bins=np.linspace(0, 1.6, 33), histtype="step", density=True,
                         color=c, ls=ls, label=f"{init}, {kind}")
            axes[1].hist(np.abs(np.angle(ev)) / np.pi, bins=np.linspace(0, 1, 21), histtype="step",
                         density=True, color=c, ls=ls, label=f"{init}, {kind}")
    axes[0].set_xlabel("|λ| (trained W_hh)")
    axes[1].set_xlabel("|arg λ| / π (trained W_hh)")
    for ax in axes:
        ax.set_ylabel("density")
    axes[0].legend(fontsize=7)
    return fig


def initial_spectra(ds: xr.Dataset, inits, colors):
    """One initial W_hh spectrum per initializer (vanilla RNN, the lowest seed)."""
    fig, axes = plt.subplots(1, len(inits), figsize=(2.4 * len(inits), 3.0), sharey=True)
    for ax, init in zip(axes, inits):
        m = (ds.cell.values == "elman") & (ds.init.values == init) & (ds.seed.values == ds.seed.values.min())
        ev = ds.initial_eigenvalue.sel(gate="recurrent").values[m][:1].ravel()
        ax.plot(CIRCLE.real, CIRCLE.imag, "k", lw=0.5)
        ax.scatter(ev.real, ev.imag, s=8, color=colors[init])
        ax.set_aspect("equal")
        ax.set_xlim(-1.8, 1.8)
        ax.set_ylim(-1.8, 1.8)
        ax.set_title(init, fontsize=9)
        ax.set_xlabel("Re λ")
    axes[0].set_ylabel("Im λ")
    fig.suptitle("Initial W_hh spectra (vanilla RNN, one draw)", fontsize=10)
    return fig
