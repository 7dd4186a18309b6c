"""The analyses of `cli.py analyze`: name → (function, description), one entry each.

Each function takes ``(system, inputs, options)`` — a step map, the driving inputs
``(trajectory, time, input)`` and the `AnalyzeOptions` — and returns the `xarray.Dataset`
stored as the results-file group of that name. It only maps the pipeline's options onto the
verb's keywords; the verbs are imported when an analysis runs, so that ``cli.py analyze
--help`` stays light.

Adding an analysis: its verb (own folder, `Schema`, tests), then one function and one entry
here; the CLI's ``--analyses`` choices, the results-file groups and the resume logic follow.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

__all__ = ["ANALYSES", "Analysis"]


class Analysis(NamedTuple):
    function: Callable  # (system, inputs, options) -> xarray.Dataset
    description: str


def _lyapunov(system, inputs, options):
    from ..lyapunov.spectrum import lyapunov_spectrum

    return lyapunov_spectrum(system, inputs, n_exponents=options.n_exponents, transient=options.transient,
                             reortho_every=options.reortho_every, seed=options.seed, dtype=options.dtype,
                             progress=options.progress_bars)


def _jacobian(system, inputs, options):
    from ..spectra.jacobian import jacobian_eigenvalues

    return jacobian_eigenvalues(system, inputs, every=options.jacobian_stride(inputs.shape[1]),
                                transient=options.transient, dtype=options.dtype,
                                progress=options.progress_bars)


def _fixed_points(system, inputs, options):
    from ..fixed_points.search import find_fixed_points

    return find_fixed_points(system, inputs, constant_input=options.fixed_point_input,
                             n_starts=options.fixed_point_starts, transient=options.transient,
                             seed=options.seed, dtype=options.dtype)


def _nonnormality(system, inputs, options):
    from ..nonnormal.measures import nonnormality

    if system.recurrent_matrix() is not None:
        return nonnormality(system, seed=options.seed)
    from .._core.result import Schema, Var, build_result

    schema = Schema("nonnormality", {"has_recurrent_matrix": Var((), "the model has a recurrent weight matrix")})
    return build_result(schema, {"has_recurrent_matrix": 0}, system=system, options={"seed": options.seed},
                        attrs={"note": f"{type(system).__name__} has no single recurrent weight matrix "
                               "(e.g. a gated cell): non-normality measures were not computed"})


def _memory(system, inputs, options):
    from ..memory.combined import memory_analysis

    return memory_analysis(system, inputs, max_lag=options.max_lag, seed=options.seed, dtype=options.dtype)


ANALYSES: dict[str, Analysis] = {
    "lyapunov": Analysis(_lyapunov, "Lyapunov spectrum (QR method) along the driven trajectories"),
    "jacobian": Analysis(_jacobian, "eigen- and singular values of the state Jacobian along the "
                         "trajectories and of the recurrent matrix"),
    "fixed_points": Analysis(_fixed_points, "fixed and slow points at constant input, with Jacobian "
                             "eigenvalues and stability"),
    "nonnormality": Analysis(_nonnormality, "Henrici departure from normality, transient growth and "
                             "the chain-motif profile of the recurrent matrix"),
    "memory": Analysis(_memory, "memory kernel dy_T/dx_{T-j}, linear memory capacity and the Fisher "
                       "memory curve of the linearisation"),
}
