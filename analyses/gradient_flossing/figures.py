"""Figures of the gradient-flossing study, drawn from the combined results."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

COLORS = {"plain": "C0", "flossed": "C3"}


def make(study, ds: xr.Dataset) -> None:
    study.save_figure(loss_by_delay(ds), "loss_by_delay.png")
    study.save_figure(exponents(ds), "exponents.png")


def _jitter(i: int, n: int) -> float:
    return 0.0 if n == 1 else 0.15 * (i / (n - 1) - 0.5)


def loss_by_delay(ds: xr.Dataset):
    """Validation loss / chance of every run against the delay, by condition (success below 0.5)."""
    lags = sorted(set(ds.lag.values.tolist()))
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    for c, cond in enumerate(("plain", "flossed")):
        for j, lag in enumerate(lags):
            m = (ds.lag.values == lag) & (ds.condition.values == cond)
            y = ds.loss_over_chance.values[m]
            x = j + (c - 0.5) * 0.3 + np.array([_jitter(i, len(y)) for i in range(len(y))])
            ax.plot(x, y, "o", color=COLORS[cond], label=cond if j == 0 else None)
    ax.axhline(0.5, color="0.4", ls="--", lw=0.8, label="success threshold")
    ax.set_xticks(range(len(lags)), [str(l) for l in lags])
    ax.set(xlabel="delay d (steps)", ylabel="validation loss / chance loss", ylim=(0, None),
           title="delayed recall: plain vs flossed")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def exponents(ds: xr.Dataset):
    """Leading exponents of every run before and after training, one panel per delay."""
    lags = sorted(set(ds.lag.values.tolist()))
    fig, axes = plt.subplots(1, len(lags), figsize=(4.2 * len(lags), 3.4), squeeze=False, sharey=True)
    k = ds.sizes["exponent_index"]
    for ax, lag in zip(axes[0], lags):
        for cond in ("plain", "flossed"):
            m = np.flatnonzero((ds.lag.values == lag) & (ds.condition.values == cond))
            for n, i in enumerate(m):
                ax.plot(np.arange(1, k + 1), ds.exponent.values[i], "o-", color=COLORS[cond], ms=4,
                        label=f"{cond}, trained" if n == 0 else None)
                ax.plot(np.arange(1, k + 1), ds.initial_exponent.values[i], "x:", color=COLORS[cond], ms=4,
                        alpha=0.6, label=f"{cond}, initial" if n == 0 else None)
        ax.axhline(0.0, color="0.4", lw=0.8)
        ax.set(xlabel="exponent index i", title=f"delay {lag}")
        ax.set_xticks(range(1, k + 1))
    axes[0][0].set_ylabel("Lyapunov exponent λ_i (nats/step)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig
