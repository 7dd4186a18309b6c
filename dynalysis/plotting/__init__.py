"""Figures for every analysis: ``PLOTTERS[analysis](dataset, out_dir) -> [png paths]``."""
from __future__ import annotations

from .fixed_points import plot_fixed_points as plot_fixed_points
from .jacobian import plot_jacobian as plot_jacobian
from .lyapunov import plot_lyapunov as plot_lyapunov
from .memory import plot_memory as plot_memory
from .nonnormality import plot_nonnormality as plot_nonnormality
from .pseudospectra import plot_pseudospectra as plot_pseudospectra
from .transient import plot_transient_growth as plot_transient_growth

PLOTTERS = {
    "lyapunov": plot_lyapunov,
    "jacobian": plot_jacobian,
    "fixed_points": plot_fixed_points,
    "nonnormality": plot_nonnormality,
    "memory": plot_memory,
    "memory_kernel": plot_memory,
    "memory_capacity": plot_memory,
    "fisher_memory": plot_memory,
    "pseudospectra": plot_pseudospectra,
    "transient_growth": plot_transient_growth,
}


def plot_results(path, out_dir) -> list:
    """Draw every analysis found in a results file into ``out_dir``; return the PNG paths."""
    from ..io.netcdf import open_results, result_groups

    groups = result_groups(path) or [None]
    written = []
    for g in groups:
        ds = open_results(path, group=g)
        name = g or ds.attrs.get("analysis")
        if name in PLOTTERS:
            written += PLOTTERS[name](ds, out_dir)
    return written
