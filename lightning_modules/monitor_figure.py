"""The file and the figure of `lightning_modules.SpectrumMonitor`: analyses along ``epoch``.

`append_epoch` adds one epoch's results to the file (a complete new file, written to a
temporary name and renamed: `dynalysis.save_results`); `epochs_in` lists the epochs it
holds; `plot_training_dynamics` draws λ₁…λ_k, the Henrici index and the memory time against
epoch.
"""
from __future__ import annotations

from pathlib import Path

import xarray as xr

import dynalysis

__all__ = ["append_epoch", "epochs_in", "plot_training_dynamics"]


def epochs_in(path) -> list[int]:
    """The epochs already in the monitor's file (empty when there is no file)."""
    path = Path(path)
    if not path.exists():
        return []
    group = dynalysis.result_groups(path)[0]
    return [int(e) for e in dynalysis.open_results(path, group).epoch.values]


def _with_epoch(ds: xr.Dataset, epoch: int, global_step: int) -> xr.Dataset:
    out = ds.expand_dims(epoch=[epoch])
    out = out.assign_coords(global_step=("epoch", [global_step]))
    out["epoch"].attrs.update(long_name="training epoch (0-based) at whose end the analysis ran", units="epoch")
    out["global_step"].attrs.update(long_name="optimiser steps taken when the analysis ran", units="step")
    return out


def append_epoch(path, results: dict[str, xr.Dataset], *, epoch: int, global_step: int) -> Path:
    """Write ``results`` (one Dataset per analysis) as epoch ``epoch`` of the file at ``path``.

    The old epochs are read, the new one is concatenated along ``epoch`` (outer join: a
    dimension whose length changes between epochs is padded with NaN), and the whole file is
    rewritten atomically. An epoch already present is replaced, never duplicated.
    """
    path = Path(path)
    new = {name: _with_epoch(ds, epoch, global_step) for name, ds in results.items()}
    if path.exists():
        for name in new:
            old = dynalysis.open_results(path, name)
            old = old.sel(epoch=[e for e in old.epoch.values if e != epoch])
            new[name] = xr.concat([old, new[name]], dim="epoch", join="outer", combine_attrs="override",
                                  data_vars="minimal", coords="minimal", compat="override").sortby("epoch")
    attrs = {"source": "lightning_modules.SpectrumMonitor", "epochs": len(next(iter(new.values())).epoch)}
    return dynalysis.save_results(new, path, overwrite=True, attrs=attrs)


def plot_training_dynamics(path, out=None):
    """λ₁…λ_k (``lyapunov``), Henrici index (``nonnormality``) and memory time (``memory``)
    against epoch, one panel each for the groups the file has; saved to ``out`` when given.

    Returns the matplotlib Figure.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    groups = dynalysis.result_groups(path)
    panels = [g for g in ("lyapunov", "nonnormality", "memory") if g in groups]
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(4.2 * max(1, len(panels)), 3.4), squeeze=False)
    for ax, group in zip(axes[0], panels):
        ds = dynalysis.open_results(path, group)
        epoch = ds.epoch.values
        if group == "lyapunov":
            lam = ds.exponent.values  # (epoch, exponent_index)
            for i in range(lam.shape[1]):
                ax.plot(epoch, lam[:, i], marker="o", ms=3, label=f"λ{i + 1}" if lam.shape[1] <= 8 else None)
            ax.axhline(0.0, color="0.5", lw=0.8, ls="--")
            unit = ds.exponent.attrs.get("units", "1/step")
            ax.set(ylabel=f"Lyapunov exponent ({unit}, nats)", title="Lyapunov spectrum")
            if lam.shape[1] <= 8:
                ax.legend(fontsize=7, ncol=2)
        elif group == "nonnormality":
            ax.plot(epoch, ds.henrici_normalized.values, marker="o", ms=3, color="C3")
            ax.set(ylabel="Henrici index d_F(W)/‖W‖_F", title="departure from normality", ylim=(0, None))
        else:
            censored = ds.memory_time_censored.values.astype(bool) if "memory_time_censored" in ds else None
            ax.plot(epoch, ds.memory_time.values, marker="o", ms=3, color="C2")
            if censored is not None and censored.any():
                ax.plot(epoch[censored], ds.memory_time.values[censored], "^", color="C2", ms=7,
                        label="censored at max_lag")
                ax.legend(fontsize=7)
            ax.set(ylabel=f"memory time ({ds.memory_time.attrs.get('units', 'step')})",
                   title="memory time", ylim=(0, None))
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    if out is not None:
        fig.savefig(out, dpi=120)
        plt.close(fig)
    return fig

