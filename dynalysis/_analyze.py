"""One call from a checkpoint to a results file: what `cli.py analyze` and sweeps run.

``ANALYSES`` maps each analysis name to ``(function, description)``; the function takes
``(system, inputs, opts)`` (``opts`` a `types.SimpleNamespace` of the options below) and
returns an `xarray.Dataset` stored as the results-file group of that name.
"""
from __future__ import annotations

import types
from pathlib import Path

from ._errors import OptionError, ResultsFileError, check_positive_int

__all__ = ["analyze_checkpoint", "ANALYSES"]


def _lyapunov(system, inputs, opts):
    from ._lyapunov import lyapunov_spectrum

    return lyapunov_spectrum(system, inputs, n_exponents=opts.n_exponents, transient=opts.transient,
                             reortho_every=opts.reortho_every, seed=opts.seed, dtype=opts.dtype,
                             progress=opts.progress)


def _jacobian(system, inputs, opts):
    from ._jacobian import jacobian_eigenvalues

    every = max(1, (inputs.shape[1] - opts.transient) // 100)  # about 100 samples per trajectory
    return jacobian_eigenvalues(system, inputs, every=every, transient=opts.transient,
                                dtype=opts.dtype, progress=opts.progress)


def _fixed_points(system, inputs, opts):
    from ._fixed_points import find_fixed_points

    return find_fixed_points(system, inputs, transient=opts.transient, seed=opts.seed, dtype=opts.dtype)


def _nonnormality(system, inputs, opts):
    import xarray as xr

    from ._nonnormality import nonnormality

    if system.recurrent_matrix() is not None:
        return nonnormality(system, seed=opts.seed)
    ds = xr.Dataset({"has_recurrent_matrix": ((), 0)})
    ds["has_recurrent_matrix"].attrs.update(long_name="the model has a recurrent weight matrix", units="1")
    ds.attrs.update(analysis="nonnormality", note=f"{type(system).__name__} has no single recurrent "
                    "weight matrix (e.g. a gated cell): non-normality measures were not computed")
    return ds


def _memory(system, inputs, opts):
    from ._memory_analysis import memory_analysis

    return memory_analysis(system, inputs, max_lag=opts.max_lag, seed=opts.seed, dtype=opts.dtype)


ANALYSES: dict[str, tuple] = {
    "lyapunov": (_lyapunov, "Lyapunov spectrum (QR method) along the driven trajectories"),
    "jacobian": (_jacobian, "eigen- and singular values of the state Jacobian along the trajectories "
                 "and of the recurrent matrix"),
    "fixed_points": (_fixed_points, "fixed and slow points at zero input, with Jacobian eigenvalues "
                     "and stability"),
    "nonnormality": (_nonnormality, "Henrici departure from normality, transient growth and the "
                     "chain-motif profile of the recurrent matrix"),
    "memory": (_memory, "memory kernel dy_T/dx_{T-j}, linear memory capacity and the Fisher memory "
               "curve of the linearisation"),
}


def parse_analyses(analyses) -> list[str]:
    """``None``/``"all"`` → every analysis; a comma-separated string or list → checked names."""
    if analyses in (None, "all"):
        return list(ANALYSES)
    names = [a.strip() for a in (analyses.split(",") if isinstance(analyses, str) else analyses) if a.strip()]
    bad = [a for a in names if a not in ANALYSES]
    if bad or not names:
        raise OptionError(f"invalid analyses={','.join(bad) or analyses!r}; allowed values: "
                          f"{', '.join(ANALYSES)} (comma-separated) or 'all'")
    return names


def analyze_checkpoint(checkpoint, out, *, analyses=None, split: str = "test",
                       n_trajectories: int = 8, steps: int | None = None, transient: int = 100,
                       n_exponents: int | None = None, reortho_every: int = 1, max_lag: int = 50,
                       seed: int = 0, dtype: str = "float64", overwrite: bool = False,
                       progress: bool = False) -> Path:
    """Analyse a checkpoint on its own task data and write one NetCDF file.

    Parameters
    ----------
    checkpoint : path-like
        ``.ckpt`` written by ``cli.py fit``.
    out : path-like
        Results file; one group per analysis, provenance in the root attributes.
    analyses : str or list of str, optional
        Subset of ``ANALYSES`` (default: all).
    split, n_trajectories, steps, seed
        Driving inputs (`dynalysis.task_inputs`); ``steps`` defaults to
        ``max(1000, sequence length)``.
    transient, n_exponents, reortho_every, max_lag, dtype, progress
        Passed to the analyses.
    overwrite : bool, default False
        Replace an existing ``out``; otherwise an existing file is an error, checked before any
        work starts.

    Returns
    -------
    pathlib.Path
    """
    from ._checkpoint import load_checkpoint
    from ._inputs import task_inputs
    from ._io import save_results
    from ._provenance import provenance_attrs

    out = Path(out)
    names = parse_analyses(analyses)
    if out.exists() and not overwrite:
        raise ResultsFileError(f"{out} already exists; pass --overwrite to replace it")
    check_positive_int("n_trajectories", n_trajectories)
    check_positive_int("transient", transient, minimum=0)
    check_positive_int("max_lag", max_lag)
    system = load_checkpoint(checkpoint)
    if n_exponents is not None:
        check_positive_int("n_exponents", n_exponents, maximum=system.state_size)
    seq_len = task_inputs(system, split=split, n_trajectories=1, seed=seed).shape[1]
    steps = max(1000, seq_len, transient + 1) if steps is None else check_positive_int("steps", steps)
    if steps <= transient:
        raise OptionError(f"steps ({steps}) must exceed transient ({transient})")
    inputs = task_inputs(system, split=split, n_trajectories=n_trajectories, steps=steps, seed=seed)
    opts = types.SimpleNamespace(split=split, n_trajectories=n_trajectories, steps=steps,
                                 transient=transient, n_exponents=n_exponents,
                                 reortho_every=reortho_every, max_lag=max_lag, seed=seed,
                                 dtype=dtype, progress=progress)
    results = {}
    for name in names:
        if progress:
            print(f"[analyze] {name} ...", flush=True)
        results[name] = ANALYSES[name][0](system, inputs, opts)
    attrs = provenance_attrs("analyze", system, {**vars(opts), "analyses": names})
    attrs["groups_description"] = "; ".join(f"{n}: {ANALYSES[n][1]}" for n in names)
    return save_results(results, out, overwrite=overwrite, attrs=attrs)
