"""Figures of memory results (kernel, capacity, Fisher memory), alone or combined."""
from __future__ import annotations

import numpy as np

from ._common import (Figures, divergence_text, figure, finite, footnote, legend_above, note,
                      plain_ticks, plural, time_unit, title_of, value_axis, write_figures)

__all__ = ["plot_memory"]

_PANELS = ("kernel_norm", "capacity", "fisher_memory")
_FULL_SCALE = 0.5  # below this largest MC_k, the capacity axis is scaled to the data


def _censored(ds) -> bool:
    """The memory time is only a lower bound: flagged, or NaN (beyond the lag window)."""
    if "memory_time_censored" in ds:
        return bool(int(ds.memory_time_censored))
    return "memory_time" in ds and not np.isfinite(float(ds.memory_time))


def _kernel(ax, ds, lag, unit) -> None:
    norm = ds.kernel_norm.values
    if not finite(norm).size:
        note(ax, "kernel not finite (the state diverged)")
        return
    ax.plot(lag, norm, ".-", ms=3, color="C0", label="mean ‖K_j‖_F")
    if "kernel" in ds:
        peak = np.abs(ds.kernel.values).reshape(len(lag), -1).max(1)
        ax.plot(lag, peak, color="C0", ls=":", lw=1, label="max |mean K_j|")
        value_axis(ax, np.concatenate([norm, peak]))
    else:
        value_axis(ax, norm)
    ax.set(ylabel="sensitivity", title="memory kernel ∂y_T/∂x_{T−j}")
    if "memory_time" in ds:
        window = float(lag.max())
        if _censored(ds):
            ax.axvline(window, color="C3", lw=1, ls="--",
                       label=f"memory time ≥ window ({window:g} {unit})")
        else:
            tau = float(ds.memory_time)
            ax.axvline(tau, color="C3", lw=1, ls="--", label=f"memory time {tau:.3g} {unit}")


def _capacity(ax, ds) -> None:
    mc = ds.capacity.values
    ax.bar(ds.lag.values, mc, color="C2", width=0.8)
    total = f"total {float(ds.memory_capacity):.3g}" if "memory_capacity" in ds else ""
    top = float(finite(mc).max()) if finite(mc).size else 0.0
    if "capacity_chance_level" in ds:  # what an uninformative lag scores on the held-out steps
        chance = float(ds.capacity_chance_level)
        ax.axhline(chance, color="0.3", lw=0.9, ls=":", label=f"chance level of MC_k ({chance:.2g})")
        top = max(top, chance)
    if 0 < top < _FULL_SCALE:
        ax.set_ylim(0, 1.15 * top)
        ax.set_title(f"memory capacity ({total})\ny axis scaled to the data: MC_k ≤ {top:.2g} (of 1)",
                     fontsize=10)
    else:
        ax.set_ylim(0, 1.05)
        ax.set_title(f"memory capacity ({total})")
    plain_ticks(ax)
    ax.set_ylabel("MC_k = r²")


def _fisher(ax, ds) -> None:
    ax.plot(ds.lag.values, ds.fisher_memory.values, ".-", ms=3, color="C4")
    horizon = ds.attrs.get("fisher_horizon", "")
    title = f"Fisher memory (total {float(ds.fisher_memory_total):.3g})" if "fisher_memory_total" in ds \
        else "Fisher memory"
    if horizon not in ("", "stationary"):
        rho = ds.attrs.get("fisher_spectral_radius")
        why = f"ρ(A) = {float(rho):.3g} ≥ 1" if rho is not None else "ρ(A) ≥ 1"
        title += f"\nover a finite horizon of {horizon} steps ({why}: no stationary state)"
    ax.set(ylabel="J(k)")
    ax.set_title(title, fontsize=10)


def _figure(ds, panels):
    fig, axes = figure(len(panels), width=4.4 * len(panels), height=3.8)
    lag = ds.lag.values
    unit = plural(time_unit(ds, "lag"))
    for ax, name in zip(axes, panels):
        {"kernel_norm": lambda: _kernel(ax, ds, lag, unit), "capacity": lambda: _capacity(ax, ds),
         "fisher_memory": lambda: _fisher(ax, ds)}[name]()
        ax.set_xlabel(f"lag [{unit}]")
    legend_above(fig, axes, title=f"memory — {title_of(ds)}")
    linearisation = ds.attrs.get("fisher_linearisation") if "fisher_memory" in panels else None
    footnote(fig, divergence_text(ds) and f"kernel: {divergence_text(ds)}",
             divergence_text(ds, var="capacity_diverged") and
             f"capacity: {divergence_text(ds, var='capacity_diverged')}",
             linearisation and f"Fisher memory of the linearisation {linearisation}")
    return fig


def figures(ds) -> Figures:
    """``{file stem: draw}`` of a memory result (see `plot_memory`)."""
    panels = [v for v in _PANELS if v in ds]
    if not panels:
        return {}
    analysis = str(ds.attrs.get("analysis") or "memory")
    stem = analysis if analysis.startswith("memory") or analysis == "fisher_memory" else "memory"
    return {stem: lambda: _figure(ds, panels)}


def plot_memory(ds, out_dir, *, overwrite: bool = False) -> list:
    """Memory kernel norm, memory capacity and Fisher memory against lag, one panel each.

    Parameters
    ----------
    ds : xarray.Dataset
        A combined ``memory`` result or one of `dynalysis.memory_kernel`,
        `dynalysis.memory_capacity`, `dynalysis.fisher_memory_curve`; the panels whose
        variables are present (``kernel_norm``, ``capacity``, ``fisher_memory``) are drawn.
        The memory time is marked on the kernel; when ``memory_time_censored`` is set (or
        the time is NaN) it is labelled "≥ window".
    out_dir : path-like
    overwrite : bool, default False
        Replace existing files; otherwise `ResultsFileError` before anything is written.

    Returns
    -------
    list of pathlib.Path
        ``memory.png`` for a combined result, else ``<analysis>.png``; empty when there is
        nothing to draw. A capacity curve far below 1 is drawn on an axis scaled to the data,
        and the title says so.

    Raises
    ------
    ResultsFileError
        ``memory.png`` exists and ``overwrite`` is False (nothing is written), or it cannot be
        written.

    Examples
    --------
    >>> import tempfile, xarray as xr
    >>> ds = xr.Dataset({"capacity": ("lag", [0.9, 0.5, 0.1])}, coords={"lag": [0, 1, 2]})
    >>> tmp = tempfile.TemporaryDirectory(); out = tmp.name
    >>> [p.name for p in plot_memory(ds, out)]
    ['memory.png']
    >>> plot_memory(ds, out)
    Traceback (most recent call last):
    ...
    dynalysis.errors.ResultsFileError: figures already exist in ...: memory.png; pass overwrite=True to replace them
    >>> [p.name for p in plot_memory(ds, out, overwrite=True)]
    ['memory.png']
    >>> tmp.cleanup()
    """
    return write_figures(figures(ds), out_dir, overwrite=overwrite)
