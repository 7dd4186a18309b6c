"""One call from a checkpoint to a results file: what `cli.py analyze` and sweeps run.

``ANALYSES`` maps each analysis name to ``(function, description)``; the function takes
``(system, inputs, opts)`` (``opts`` a `types.SimpleNamespace` of the options below) and
returns an `xarray.Dataset` stored as the results-file group of that name.
"""
from __future__ import annotations

import hashlib
import types
import warnings
from pathlib import Path

from ..errors import DynalysisError, OptionError, ResultsFileError, first_line
from .._core.options import check_option, check_positive_int, check_reortho_every

__all__ = ["analyze_checkpoint", "check_analyze_options", "ANALYSES"]


def _lyapunov(system, inputs, opts):
    from ..lyapunov.spectrum import lyapunov_spectrum

    return lyapunov_spectrum(system, inputs, n_exponents=opts.n_exponents, transient=opts.transient,
                             reortho_every=opts.reortho_every, seed=opts.seed, dtype=opts.dtype,
                             progress=opts.progress)


def _jacobian(system, inputs, opts):
    from ..spectra.jacobian import jacobian_eigenvalues

    every = max(1, (inputs.shape[1] - opts.transient) // 100)  # about 100 samples per trajectory
    return jacobian_eigenvalues(system, inputs, every=every, transient=opts.transient,
                                dtype=opts.dtype, progress=opts.progress)


def _fixed_points(system, inputs, opts):
    from ..fixed_points.search import find_fixed_points

    return find_fixed_points(system, inputs, transient=opts.transient, seed=opts.seed, dtype=opts.dtype)


def _nonnormality(system, inputs, opts):
    import xarray as xr

    from ..nonnormal.measures import nonnormality

    if system.recurrent_matrix() is not None:
        return nonnormality(system, seed=opts.seed)
    ds = xr.Dataset({"has_recurrent_matrix": ((), 0)})
    ds["has_recurrent_matrix"].attrs.update(long_name="the model has a recurrent weight matrix", units="1")
    ds.attrs.update(analysis="nonnormality", note=f"{type(system).__name__} has no single recurrent "
                    "weight matrix (e.g. a gated cell): non-normality measures were not computed")
    return ds


def _memory(system, inputs, opts):
    from ..memory.combined import memory_analysis

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
    if analyses is None or analyses == "all":
        return list(ANALYSES)
    if not isinstance(analyses, (str, list, tuple)):
        raise OptionError(f"invalid analyses={analyses!r}; allowed values: {', '.join(ANALYSES)} "
                          "(comma-separated) or 'all'")
    names = [str(a).strip() for a in (analyses.split(",") if isinstance(analyses, str) else analyses)]
    names = list(dict.fromkeys(a for a in names if a))
    bad = [a for a in names if a not in ANALYSES]
    if bad or not names:
        raise OptionError(f"invalid analyses={','.join(bad) or analyses!r}; allowed values: "
                          f"{', '.join(ANALYSES)} (comma-separated) or 'all'")
    return names


def check_analyze_options(*, analyses=None, split: str = "test", n_trajectories: int = 8,
                          steps: int | None = None, transient: int = 100,
                          n_exponents: int | None = None, reortho_every: int | str = 1,
                          max_lag: int = 50, seed: int = 0, dtype: str = "float64") -> dict:
    """Validate the options of `analyze_checkpoint` and return them normalised (JSON-able).

    Everything that can be checked without the checkpoint is checked here, so that a sweep
    fails once, before any work, on a bad option. ``n_exponents`` is checked against the
    state size once the network is loaded.
    """
    check_option("split", split, ("train", "val", "test"))
    check_option("dtype", dtype, ("float64", "float32"))
    opts = dict(analyses=parse_analyses(analyses), split=split,
                n_trajectories=check_positive_int("n_trajectories", n_trajectories),
                steps=None if steps is None else check_positive_int("steps", steps),
                transient=check_positive_int("transient", transient, minimum=0),
                n_exponents=None if n_exponents is None else check_positive_int("n_exponents", n_exponents),
                reortho_every=check_reortho_every(reortho_every),
                max_lag=check_positive_int("max_lag", max_lag),
                seed=check_positive_int("seed", seed, minimum=0), dtype=dtype)
    if opts["steps"] is not None and opts["steps"] <= opts["transient"]:
        raise OptionError(f"steps ({opts['steps']}) must exceed transient ({opts['transient']}); "
                          f"allowed: steps >= {opts['transient'] + 1}")
    return opts


def analyze_checkpoint(checkpoint, out, *, analyses=None, split: str = "test",
                       n_trajectories: int = 8, steps: int | None = None, transient: int = 100,
                       n_exponents: int | None = None, reortho_every: int | str = 1, max_lag: int = 50,
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
        ``max(1000, sequence length, transient + 1)``.
    transient, n_exponents, reortho_every, max_lag, dtype, progress
        Passed to the analyses.
    overwrite : bool, default False
        Replace an existing ``out``; otherwise an existing file is an error, checked before any
        work starts.

    Returns
    -------
    pathlib.Path

    Notes
    -----
    Every option is validated (`check_analyze_options`) and the checkpoint loaded before any
    analysis runs. The file is written atomically (`dynalysis.save_results`). Its root
    attributes hold, besides the provenance of `dynalysis.save_results`: ``request`` (JSON of
    the validated options, what a resumed sweep compares), ``checkpoint_sha256`` and, when the
    run's ``config.yaml`` lies next to the checkpoint folder, ``training_config`` (its text).
    Diverging trajectories are flagged by the analyses themselves (e.g. ``lyapunov/diverged``)
    with a `RuntimeWarning`. An analysis that fails on this network (e.g. on diverged states)
    is left out with a `RuntimeWarning`, its reason recorded in the root attribute
    ``failed_analyses`` (JSON), and the others are still written; only when every analysis
    fails is it an error. Same checkpoint, options and seed
    give identical files apart from the time stamp in ``history``.
    """
    from ..io.checkpoint import load_checkpoint
    from .._core.inputs import task_inputs
    from ..io.netcdf import save_results
    from .._core.provenance import provenance_attrs, to_json

    out = Path(out)
    request = check_analyze_options(analyses=analyses, split=split, n_trajectories=n_trajectories,
                                    steps=steps, transient=transient, n_exponents=n_exponents,
                                    reortho_every=reortho_every, max_lag=max_lag, seed=seed,
                                    dtype=dtype)
    if out.exists() and not overwrite:
        raise ResultsFileError(f"{out} already exists; pass --overwrite to replace it")
    if out.is_dir():
        raise ResultsFileError(f"{out} is a directory; give a file name ending in .nc")
    system = load_checkpoint(checkpoint)
    if n_exponents is not None:
        check_positive_int("n_exponents", n_exponents, maximum=system.state_size)
    opts = types.SimpleNamespace(**{k: v for k, v in request.items() if k != "analyses"}, progress=progress)
    seq_len = task_inputs(system, split=split, n_trajectories=1, seed=seed).shape[1]
    opts.steps = max(1000, seq_len, transient + 1) if steps is None else steps
    inputs = task_inputs(system, split=split, n_trajectories=n_trajectories, steps=opts.steps, seed=seed)
    results, failed = {}, {}
    for name in request["analyses"]:
        if progress:
            print(f"[analyze] {name} ...", flush=True)
        try:
            results[name] = ANALYSES[name][0](system, inputs, opts)
        except Exception as e:  # one analysis failing on this network must not lose the others
            failed[name] = f"{type(e).__name__}: {first_line(e)}"
            warnings.warn(f"{checkpoint}: analysis {name!r} failed ({failed[name]}); the other analyses "
                          "go on and the file records the reason in its 'failed_analyses' attribute",
                          RuntimeWarning, stacklevel=2)
    if not results:
        raise DynalysisError(f"{checkpoint}: every analysis failed ({'; '.join(f'{k}: {v}' for k, v in failed.items())})")
    attrs = provenance_attrs("analyze", system, {**vars(opts), "analyses": request["analyses"]})
    attrs["groups_description"] = "; ".join(f"{n}: {ANALYSES[n][1]}" for n in results)
    attrs["request"] = to_json(request)
    if failed:
        attrs["failed_analyses"] = to_json(failed)
    attrs["checkpoint_sha256"] = file_sha256(checkpoint)
    config = Path(checkpoint).resolve().parent.parent / "config.yaml"
    if config.is_file():
        attrs["training_config"] = config.read_text()
    return save_results(results, out, overwrite=overwrite, attrs=attrs)


def file_sha256(path) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
