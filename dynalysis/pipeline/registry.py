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


_CLV_BYTES = 2**26  # covariant Lyapunov vectors kept per results file (64 MiB)
_CLV_R_BYTES = 2**28  # R factors of the backward pass kept in memory (256 MiB)
_CLV_MIN_WINDOW = 200  # steps between the transients, at least


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

    return find_fixed_points(system, inputs, conditions=_conditions(system, options.fixed_point_conditions),
                             n_starts=options.fixed_point_starts, transient=options.transient,
                             seed=options.seed, dtype=options.dtype)


def _conditions(system, names: str):
    """``"task"``: the constant inputs the checkpoint's task holds (`Task.input_conditions`);
    otherwise the list of condition words for `find_fixed_points`."""
    if names != "task":
        return names.split(",")
    from ..tasks import build_task

    spec = dict(system.metadata.get("task") or {})
    if not spec:
        return ["zero"]
    return {k: v.numpy() for k, v in build_task(spec.pop("name"), **spec).input_conditions().items()}


def _nonnormality(system, inputs, options):
    from ..nonnormal.measures import nonnormality

    # the recurrent matrix, or (gated cells) the Jacobian at the initial state: attrs say which
    return nonnormality(system, seed=options.seed)


def _pseudospectra(system, inputs, options):
    from ..spectra.pseudospectra import pseudospectra

    at = "recurrent" if system.has_recurrent_matrix else "initial_state"
    return pseudospectra(system, at=at, seed=options.seed)


def _transient_growth(system, inputs, options):
    from ..nonnormal.transient import transient_growth

    if system.has_recurrent_matrix:  # ||W^k|| of the linearisation, with the Kreiss bounds
        return transient_growth(system, max_power=options.max_lag, seed=options.seed)
    return transient_growth(system, max_power=options.max_lag, inputs=inputs, transient=options.transient,
                            seed=options.seed)  # ln||J_k...J_1|| along the trajectories


def _clv(system, inputs, options):
    from ..lyapunov.covariant import covariant_lyapunov_vectors

    # forward and backward transients of --transient steps; the window between them is cut so
    # that its R factors (k x k per trajectory and step) stay in memory (a 20 000-step demo run
    # would write gigabytes to disk); up to 100 times in it, fewer when the vectors (trajectory x
    # time x state x k, float64) would pass 64 MiB
    B, S = inputs.shape[0], system.state_size
    k = options.n_exponents or S
    window = min(inputs.shape[1] - 2 * options.transient, max(_CLV_MIN_WINDOW, _CLV_R_BYTES // (8 * B * k * k)))
    inputs = inputs[:, : window + 2 * options.transient]
    n_times = max(1, min(100, window + 1, _CLV_BYTES // (8 * B * S * k)))
    return covariant_lyapunov_vectors(system, inputs, n_vectors=k, transient=options.transient, n_times=n_times,
                                      seed=options.seed, dtype=options.dtype)


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
                             "the chain-motif profile of the recurrent matrix (of the linearisation at "
                             "the initial state for gated cells)"),
    "memory": Analysis(_memory, "memory kernel dy_T/dx_{T-j}, linear memory capacity and the Fisher "
                       "memory curve of the linearisation"),
    "pseudospectra": Analysis(_pseudospectra, "epsilon-pseudospectra of the recurrent matrix (the Jacobian at "
                              "the initial state for gated cells): sigma_min grid, pseudospectral radius and "
                              "abscissa, Kreiss lower bound"),
    "transient_growth": Analysis(_transient_growth, "||W^k||_2 of the recurrent matrix up to --max-lag powers "
                                 "with its peak and the Kreiss bounds; ln||J_k...J_1||_2 along the driven "
                                 "trajectories for cells without one"),
    "clv": Analysis(_clv, "covariant Lyapunov vectors (Ginelli) at up to 100 times (64 MiB of vectors at "
                    "most) between the forward and backward transients (--transient each), over the first "
                    "steps whose R factors fit in 256 MiB (at least 200 between the transients): angle between "
                    "unstable and stable subspaces, participation ratios"),
}
