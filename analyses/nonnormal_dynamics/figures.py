"""Figures of the non-normal-dynamics study, drawn from the combined results."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from report import INIT_LABELS, PAPER_HENRICI  # noqa: E402


def make(study, ds: xr.Dataset) -> None:
    """Draw and save every figure."""
    tasks = list(dict.fromkeys(ds.task.values.tolist()))
    inits = [i for i in INIT_LABELS if i in set(ds.init.values.tolist())]
    study.save_figure(success_grid(ds, tasks, inits), "success_grid.png")
    study.save_figure(fisher_memory(ds), "fisher_memory.png")
    study.save_figure(henrici(ds, tasks, inits), "henrici.png")
    study.save_figure(chain_motif(ds, tasks, inits), "chain_motif.png")
    study.save_figure(trained_eigenvalues(ds, tasks, inits), "trained_eigenvalues.png")
    study.save_figure(transient_growth(ds, tasks, inits), "transient_growth.png")


def success_grid(ds: xr.Dataset, tasks, inits):
    """(initialiser, scale) × learning rate grid of val loss / chance, successes ticked."""
    lrs = sorted(set(ds.lr.values.tolist()))
    rows = [(init, s) for init in inits for s in sorted(set(ds.scale.values[ds.init.values == init].tolist()))]
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.2 * len(tasks), 4.2), squeeze=False, sharey=True)
    for ax, task in zip(axes[0], tasks):
        grid = np.full((len(rows), len(lrs)), np.nan)  # NaN (blank): not run for this task
        succ = np.zeros_like(grid, dtype=bool)
        for r, (init, s) in enumerate(rows):
            for c, lr in enumerate(lrs):
                m = (ds.task.values == task) & (ds.init.values == init) & (ds.scale.values == s) & (ds.lr.values == lr)
                if m.any():
                    grid[r, c] = float(ds.loss_over_chance.values[m].mean())
                    succ[r, c] = bool(ds.success.values[m].any())
        im = ax.imshow(grid, cmap="viridis_r", vmin=0, vmax=1.2, aspect="auto")
        for r, c in zip(*np.nonzero(succ)):
            ax.text(c, r, "✓", ha="center", va="center", color="w", fontsize=13)
        ax.set_xticks(range(len(lrs)), [f"{lr:.0e}" for lr in lrs])
        ax.set_xlabel("learning rate (RMSprop)")
        ax.set_title(f"{task}: val loss / chance (✓ = < 0.5)")
        fig.colorbar(im, ax=ax, shrink=0.8, label="val loss / chance")
    axes[0, 0].set_yticks(range(len(rows)), [f"{INIT_LABELS[i]}={s:g}" for i, s in rows])
    axes[0, 0].set_ylabel("initialiser = scale")
    return fig


def fisher_memory(ds: xr.Dataset):
    """Fisher memory curves J(k) of the initial matrices, with the α = 1 chain's closed form."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    lag = ds.lag.values
    for case in ds.fisher_case.values:
        J = ds.fisher_memory.sel(fisher_case=case).values
        tot = float(ds.fisher_memory_total.sel(fisher_case=case))
        ls = "--" if str(case).startswith("identity") else "-"  # identity and λQ curves coincide
        ax.loglog(lag + 1, np.where(J > 0, J, np.nan), ls, label=f"{case} (J_tot={tot:.2f})")
    ax.loglog(lag + 1, 1.0 / (lag + 1), "k:", lw=1, label="1/(k+1): chain α=1 closed form")
    ax.set_xlabel("lag k + 1 (steps)")
    ax.set_ylabel("Fisher memory J(k)")
    ax.set_ylim(1e-4, 1.5)
    ax.set_title(f"Fisher memory of the initial matrices (N = {ds.attrs['fisher_n']})")
    ax.legend(fontsize=7)
    return fig


def henrici(ds: xr.Dataset, tasks, inits):
    """Henrici departure from normality before and after training, beside the paper's values."""
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for j, init in enumerate(inits):
            m = (ds.task.values == task) & (ds.init.values == init)
            x0, x1 = ds.initial_henrici.values[m], ds.trained_henrici.values[m]
            ax.scatter(np.full(m.sum(), j - 0.12), x0, marker="o", facecolors="none", edgecolors="C0",
                       label="initial" if j == 0 else None)
            ax.scatter(np.full(m.sum(), j + 0.12), x1, marker="o", color="C3",
                       label="trained" if j == 0 else None)
            if (task, init) in PAPER_HENRICI:
                ax.scatter([j + 0.12], [PAPER_HENRICI[(task, init)]], marker="*", s=120, color="k",
                           label="paper (trained, N=100)" if init == "identity" else None)
        ax.set_xticks(range(len(inits)), [INIT_LABELS[i] for i in inits], rotation=15)
        ax.set_xlabel("initialiser")
        ax.set_ylabel("Henrici departure d(W)")
        ax.set_title(f"{task}: non-normality before / after training")
        ax.legend(fontsize=8)
    return fig


def chain_motif(ds: xr.Dataset, tasks, inits):
    """Mean trained weight against the peak-time order difference of the two units."""
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.8), squeeze=False)
    kmax = min(12, int(ds.order_difference.max()))
    sub = ds.sel(order_difference=slice(-kmax, kmax))
    for ax, task in zip(axes[0], tasks):
        for init in inits:
            m = (ds.task.values == task) & (ds.init.values == init)
            prof = sub.trained_motif_profile.values[m].mean(0)
            prof = np.where(sub.order_difference.values == 0, np.nan, prof)  # self-connections omitted
            ax.plot(sub.order_difference, prof, "o-", ms=3, label=INIT_LABELS[init])
        ax.axhline(0, color="k", lw=0.5)
        ax.axvline(0, color="k", lw=0.5)
        ax.set_xlabel("peak-time order difference i − j")
        ax.set_ylabel("mean W_ij (trained; i = j omitted)")
        ax.set_title(f"{task}: chain motif of trained networks")
        ax.legend(fontsize=8)
    return fig


def trained_eigenvalues(ds: xr.Dataset, tasks, inits):
    """Eigenvalues of the trained recurrent matrices with the unit circle."""
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks), 4.4), squeeze=False)
    t = np.linspace(0, 2 * np.pi, 200)
    for ax, task in zip(axes[0], tasks):
        ax.plot(np.cos(t), np.sin(t), "k", lw=0.5)
        for j, init in enumerate(inits):
            ev = ds.trained_eigenvalue.values[(ds.task.values == task) & (ds.init.values == init)].ravel()
            ax.scatter(ev.real, ev.imag, s=6, alpha=0.6, color=f"C{j}", label=INIT_LABELS[init])
        ax.set_aspect("equal")
        ax.set_xlabel("Re λ")
        ax.set_ylabel("Im λ")
        ax.set_title(f"{task}: eigenvalues of trained W")
        ax.legend(fontsize=7, markerscale=2)
    return fig


def transient_growth(ds: xr.Dataset, tasks, inits):
    """Non-normal amplification max_k ‖W^k‖/max(1, ρ^k) and pseudospectral sensitivity, before
    and after training (1 = normal W, dotted)."""
    rows = [("amplification", "amplification max_k ‖W^k‖₂ / max(1, ρ^k)"),
            ("pseudo_sensitivity", "(ρ_ε − ρ)/ε at ε = 0.01")]
    fig, axes = plt.subplots(2, len(tasks), figsize=(5 * len(tasks), 7.2), squeeze=False)
    for c, task in enumerate(tasks):
        for r, (var, label) in enumerate(rows):
            ax = axes[r, c]
            for j, init in enumerate(inits):
                m = (ds.task.values == task) & (ds.init.values == init)
                x0, x1 = ds[f"initial_{var}"].values[m], ds[f"trained_{var}"].values[m]
                ax.scatter(np.full(m.sum(), j - 0.12), x0, marker="o", facecolors="none", edgecolors="C0",
                           label="initial W" if j == 0 else None)
                ax.scatter(np.full(m.sum(), j + 0.12), x1, marker="o", color="C3",
                           label="trained W" if j == 0 else None)
                hit = ds.trained_transient.values[m] == 1
                ax.scatter(np.full(hit.sum(), j + 0.12), x1[hit], marker="x", s=60, color="k",
                           label="trained, transient (ρ < 1, peak > 1)" if j == 0 and r == 0 else None)
            ax.axhline(1.0, color="0.5", ls=":", lw=1, label="normal W" if r == 0 else None)
            vals = np.concatenate([ds[f"{w}_{var}"].values[ds.task.values == task] for w in ("initial", "trained")])
            vals = vals[np.isfinite(vals) & (vals > 0)]
            if vals.size and vals.max() > 10 * vals.min():  # decades: log axis, plain labels
                ax.set_yscale("log")
                ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
                ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_xticks(range(len(inits)), [INIT_LABELS[i] for i in inits], rotation=15)
            ax.set_xlabel("initialiser")
            ax.set_ylabel(label)
            ax.set_title(f"{task}: " + ("transient growth of ‖W^k‖₂ beyond ρ^k" if r == 0 else
                                        "pseudospectral sensitivity"), fontsize=10)
            if c == 0:
                ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
