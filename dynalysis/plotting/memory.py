"""Figures of memory results (kernel, capacity, Fisher memory), alone or combined."""
from __future__ import annotations

from ._common import pyplot, save, title_of


def plot_memory(ds, out_dir) -> list:
    """Memory kernel norm, memory capacity and Fisher memory against lag, one panel each.

    Draws the panels whose variables are present (``kernel_norm``, ``capacity``,
    ``fisher_memory``) into ``memory.png``; returns its path.
    """
    panels = [v for v in ("kernel_norm", "capacity", "fisher_memory") if v in ds]
    if not panels:
        return []
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    lag = ds.lag.values
    for ax, name in zip(axes[0], panels):
        if name == "kernel_norm":
            ax.semilogy(lag, ds.kernel_norm.values, ".-", ms=3, color="C0", label="mean ‖K_j‖_F")
            mean_norm = abs(ds.kernel).values.reshape(len(lag), -1).max(1)
            ax.semilogy(lag, mean_norm, color="C0", ls=":", lw=1, label="max |mean K_j|")
            ax.set(ylabel="sensitivity", title="memory kernel ∂y_T/∂x_{T−j}")
        elif name == "capacity":
            ax.bar(lag, ds.capacity.values, color="C2", width=0.8)
            ax.set(ylabel="MC_k = r²", ylim=(0, 1.05),
                   title=f"memory capacity (total {float(ds.memory_capacity):.3g})")
        else:
            ax.plot(lag, ds.fisher_memory.values, ".-", ms=3, color="C4")
            horizon = ds.attrs.get("fisher_horizon", "")
            ax.set(ylabel="J(k)", title=f"Fisher memory (total {float(ds.fisher_memory_total):.3g})"
                   + (f"\nhorizon {horizon}" if horizon not in ("", "stationary") else ""))
        ax.set_xlabel("lag [steps]")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(f"memory — {title_of(ds)}", fontsize=10)
    fig.tight_layout()
    return [save(fig, out_dir, "memory")]
