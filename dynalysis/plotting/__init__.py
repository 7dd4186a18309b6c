"""Figures for every analysis: ``PLOTTERS[analysis](dataset, out_dir) -> [png paths]``."""
from __future__ import annotations

from .lyapunov import plot_lyapunov as plot_lyapunov

PLOTTERS = {
    "lyapunov": plot_lyapunov,
}


def plot_results(path, out_dir) -> list:
    """Draw every analysis found in a results file into ``out_dir``; return the PNG paths."""
    from .._io import open_results, result_groups

    groups = result_groups(path) or [None]
    written = []
    for g in groups:
        ds = open_results(path, group=g)
        name = g or ds.attrs.get("analysis")
        if name in PLOTTERS:
            written += PLOTTERS[name](ds, out_dir)
    return written
