"""Figures for every analysis: ``PLOTTERS[analysis](dataset, out_dir, *, overwrite=False)``.

Each plotter returns the paths of the PNG files it wrote; none overwrites an existing file
unless ``overwrite=True`` (it raises `ResultsFileError` naming the files before writing
anything), and each file is written atomically. `plot_results` draws every analysis of a
results file.
"""
from __future__ import annotations

from pathlib import Path

from . import clv as _clv
from . import fixed_points as _fixed_points
from . import jacobian as _jacobian
from . import lyapunov as _lyapunov
from . import memory as _memory
from . import nonnormality as _nonnormality
from . import pseudospectra as _pseudospectra
from . import transient as _transient
from ._common import check_folder, refuse_existing, save, targets
from .clv import plot_clv as plot_clv
from .fixed_points import plot_fixed_points as plot_fixed_points
from .jacobian import plot_jacobian as plot_jacobian
from .lyapunov import plot_lyapunov as plot_lyapunov
from .memory import plot_memory as plot_memory
from .nonnormality import plot_nonnormality as plot_nonnormality
from .pseudospectra import plot_pseudospectra as plot_pseudospectra
from .transient import plot_transient_growth as plot_transient_growth

__all__ = ["PLOTTERS", "plot_results", "plot_fixed_points", "plot_jacobian", "plot_lyapunov",
           "plot_memory", "plot_nonnormality", "plot_pseudospectra", "plot_transient_growth", "plot_clv"]

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
    "clv": plot_clv,
}

# the figure lists behind the built-in plotters: names known before anything is drawn
_FIGURES = {plot_lyapunov: _lyapunov.figures, plot_jacobian: _jacobian.figures,
            plot_fixed_points: _fixed_points.figures, plot_nonnormality: _nonnormality.figures,
            plot_memory: _memory.figures, plot_pseudospectra: _pseudospectra.figures,
            plot_transient_growth: _transient.figures, plot_clv: _clv.figures}


def plot_results(path, out_dir, *, overwrite: bool = False, condition: str | None = None) -> list[Path]:
    """Draw every analysis found in a results file into ``out_dir``; return the PNG paths.

    Parameters
    ----------
    path : path-like
        A results file (`dynalysis.save_results`): one analysis in the root group or one per
        group. Groups are matched to `PLOTTERS` by name, else by their ``analysis`` attribute.
    out_dir : path-like
        Folder for the PNG files (created if needed).
    overwrite : bool, default False
        Replace existing figures. Without it, every target is checked before the first file
        is written and `ResultsFileError` names the ones that exist.
    condition : str, optional
        Draw the fixed-point PCA of this input condition only (a name of the result's
        ``condition``; default: one panel each). `OptionError` before anything is drawn when
        the file holds no fixed-point result or no such condition.

    Returns
    -------
    list of pathlib.Path
        When two groups would write the same file name (two memory groups, say), their files
        are prefixed with the group name.

    Raises
    ------
    ResultsFileError
        A missing or damaged results file; figures that exist (without ``overwrite``); an
        ``out_dir`` that is not a folder; a file that cannot be written (the reason, e.g. no
        space left on the device). One line each.
    """
    from ..io.netcdf import open_results, result_groups

    check_folder(out_dir)
    plan = []  # (group, plotter, dataset)
    for group in result_groups(path) or [None]:
        ds = open_results(path, group=group)
        name = group if group in PLOTTERS else ds.attrs.get("analysis")
        if name in PLOTTERS:
            plan.append((group, PLOTTERS[name], ds))
    if condition is not None and not any(plotter is plot_fixed_points for _, plotter, _ in plan):
        from ..errors import OptionError

        raise OptionError(f"condition={condition!r} selects a fixed-point input condition, but {path} holds "
                          "no fixed-point result; drop it or analyse with fixed_points")

    def figures_of(plotter, ds):
        if plotter is plot_fixed_points:
            return _fixed_points.figures(ds, condition)
        return _FIGURES[plotter](ds) if plotter in _FIGURES else None

    drawn = [(group, plotter, ds, figures_of(plotter, ds)) for group, plotter, ds in plan]
    stems = [s for *_, figs in drawn if figs for s in figs]
    clash = {s for s in stems if stems.count(s) > 1}
    jobs = []  # (path, draw)
    for group, _, _, figs in drawn:
        for stem, draw in (figs or {}).items():
            jobs.append((targets(out_dir, [f"{group}_{stem}" if stem in clash else stem])[0], draw))
    refuse_existing([p for p, _ in jobs], overwrite=overwrite)
    written = [save(draw(), p) for p, draw in jobs]
    for _, plotter, ds, figs in drawn:
        if figs is None:  # a plotter added to PLOTTERS by the user: it checks its own files
            written += plotter(ds, out_dir, overwrite=overwrite)
    return written
