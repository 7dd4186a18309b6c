"""One call from a checkpoint to a results file: what `cli.py analyze` and sweeps run.

The analyses are those of the registry (`dynalysis.pipeline.registry.ANALYSES`), their options
one `AnalyzeOptions`. Everything that can fail on bad input fails before the first analysis:
the options, the checkpoint and its record, the task the record describes, the provenance.
"""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Callable, Mapping

from ..errors import CheckpointError, DynalysisError, ResultsFileError, first_line
from .options import AnalyzeOptions
from .own_model import check_own_model, given_inputs, load_system
from .registry import ANALYSES

__all__ = ["analyze_checkpoint", "check_analyze_options", "checkpoint_provenance", "file_sha256",
           "ANALYSES", "MAX_TASK_ELEMENTS"]

#: the most input values analyze generates from a checkpoint's task record (1 GiB of float32)
MAX_TASK_ELEMENTS = 1 << 28
_MAX_CONFIG_BYTES = 1 << 20


def check_analyze_options(**values) -> dict:
    """Validate keyword options of `analyze_checkpoint`; return the recorded request (JSON-able)."""
    return AnalyzeOptions.make(None, values).to_request()


def _progress_and_options(options, values, progress) -> tuple[AnalyzeOptions, Callable | None]:
    """``progress=True`` (the former switch) means the analyses' progress bars."""
    if isinstance(progress, bool):
        if progress:
            values = {**values, "progress_bars": True}
        progress = None
    return AnalyzeOptions.make(options, values), progress


def analyze_checkpoint(checkpoint, out, *, options: AnalyzeOptions | None = None,
                       overwrite: bool = False, progress: Callable[[str], None] | bool | None = None,
                       **values) -> Path:
    """Analyse a checkpoint on its own task data and write one NetCDF file.

    Parameters
    ----------
    checkpoint : path-like
        ``.ckpt`` written by ``cli.py fit``; with the option ``module`` (and ``inputs``), a
        checkpoint of your own model (see `dynalysis.load_checkpoint`).
    out : path-like
        Results file; one group per analysis, provenance in the root attributes.
    options : AnalyzeOptions, optional
        What to compute, on which inputs; or give the same options as keywords (``analyses``,
        ``split``, ``n_trajectories``, ``steps``, ``transient``, ``n_exponents``,
        ``reortho_every``, ``jacobian_every``, ``fixed_point_starts``, ``fixed_point_conditions``,
        ``max_lag``, ``seed``, ``dtype``, ``progress_bars``, and for your own model or
        sequences ``module``, ``rnn``, ``readout``, ``inputs``, ``inputs_variable``; see
        `AnalyzeOptions` and `dynalysis.pipeline.own_model`).
    overwrite : bool, default False
        Replace an existing ``out``; otherwise an existing file is an error, checked before any
        work starts.
    progress : callable, optional
        Called with one line of text as each analysis starts (``"lyapunov ..."``). Nothing is
        printed otherwise. ``True`` shows the analyses' own progress bars (``progress_bars``).

    Returns
    -------
    pathlib.Path

    Notes
    -----
    Every option is validated and the checkpoint loaded before any analysis runs. The file is
    written atomically (`dynalysis.save_results`). Its root attributes hold, besides the
    provenance of `dynalysis.save_results`: ``request`` (JSON of the validated options, what a
    resumed sweep compares), ``checkpoint_sha256`` (with ``inputs``: ``inputs_file``,
    ``inputs_sha256``, ``inputs_shape``) and, when the run's ``config.yaml`` lies next
    to the checkpoint folder, ``training_config`` (its text; bytes that are not UTF-8 are
    replaced and ``training_config_note`` says so). Diverging trajectories are flagged by the
    analyses themselves (e.g. ``lyapunov/diverged``) with a warning. An analysis that fails on
    this network is left out with a `RuntimeWarning`, its reason recorded in the root attribute
    ``failed_analyses`` (JSON), and the others are still written; only when every analysis fails
    is it an error. Same checkpoint, options and seed give identical files apart from the time
    stamp in ``history``.
    """
    options, progress = _progress_and_options(options, values, progress)
    check_own_model(options)
    out = Path(out)
    if out.is_dir():
        raise ResultsFileError(f"{out} is a directory; give a file name ending in .nc")
    if (out.exists() or out.is_symlink()) and not overwrite:
        raise ResultsFileError(f"{out} already exists; pass overwrite=True to replace it")
    return analyze_into(checkpoint, out, options, overwrite=overwrite, progress=progress)


def analyze_into(checkpoint, out: Path, options: AnalyzeOptions, *, overwrite: bool,
                 progress: Callable[[str], None] | None = None, keep: Mapping | None = None,
                 keep_failed: Mapping | None = None, checkpoint_sha: str | None = None) -> Path:
    """`analyze_checkpoint` after its checks; with ``keep`` (``{name: Dataset}`` of a verified
    earlier file of this checkpoint and options), only the other requested analyses run and
    the file written holds both."""
    from .._core.inputs import task_inputs
    from .._core.provenance import provenance_attrs, to_json
    from ..io.netcdf import save_results

    keep, keep_failed = dict(keep or {}), dict(keep_failed or {})
    system = load_system(checkpoint, options)  # ours, or with options.module the user's model
    provenance = checkpoint_provenance(checkpoint, sha=checkpoint_sha)  # before any work: never lost after it
    if options.inputs is not None:  # the user's sequences, each one whole trajectory
        inputs, input_attrs = given_inputs(options, system)
        provenance.update(input_attrs)
        steps = int(inputs.shape[1])
        options.check_run(system, steps)
    else:
        task = _task(system, checkpoint, options.split)
        steps = options.resolve_steps(task.split(options.split).inputs.shape[1])
        options.check_run(system, steps)
        inputs = task_inputs(task, split=options.split, n_trajectories=options.n_trajectories, steps=steps,
                             seed=options.seed)
    options.check_inputs(system, inputs)
    todo = [n for n in options.analyses if n not in keep and n not in keep_failed]
    results, failed = _run(system, inputs, options, todo, checkpoint, progress)
    if not results and not keep:
        raise DynalysisError(f"{checkpoint}: every analysis failed "
                             f"({'; '.join(f'{k}: {v}' for k, v in failed.items())})")
    names = set(results) | set(keep)
    results = {n: results[n] if n in results else keep[n] for n in ANALYSES if n in names}
    failed = {**{k: v for k, v in keep_failed.items() if k not in results}, **failed}
    done = tuple(n for n in ANALYSES if n in names or n in failed)
    request = options.replace(analyses=done).to_request()
    attrs = provenance_attrs("analyze", system, {**request, "steps": steps})
    attrs["groups_description"] = "; ".join(f"{n}: {ANALYSES[n][1]}" for n in results)
    attrs["request"] = to_json(request)
    if failed:
        attrs["failed_analyses"] = to_json(failed)
    attrs.update(provenance)
    return save_results(results, out, overwrite=overwrite, attrs=attrs)


def _task(system, checkpoint, split: str):
    """The task of the checkpoint's record, built once, after checking the size of ``split``."""
    from ..tasks import build_task

    spec = dict(system.metadata.get("task") or {})
    if not spec:
        raise DynalysisError(f"{checkpoint} records no task; give inputs=FILE, input sequences of "
                             "your own (trajectory, time, input_size) in a .npy, .pt or .nc file")
    try:
        task = build_task(spec.pop("name", None), **spec)
    except Exception as e:  # options of another version, or a damaged record
        raise CheckpointError(f"{checkpoint}: its task record cannot be rebuilt "
                              f"({type(e).__name__}: {first_line(e)})") from None
    n = task.options.get(f"n_{split}")
    if isinstance(n, int):
        size = n * task.seq_len * task.input_size
        if size > MAX_TASK_ELEMENTS:
            raise CheckpointError(
                f"{checkpoint}: its task record asks for a {split} split of n_{split}={n} sequences of "
                f"{task.seq_len} steps x {task.input_size} inputs ({4 * size / 2 ** 30:.3g} GiB), more than "
                f"analyze generates ({4 * MAX_TASK_ELEMENTS / 2 ** 30:.3g} GiB); the record is damaged, or "
                "analyse the network from Python with inputs of your own")
    return task


def _run(system, inputs, options: AnalyzeOptions, names, checkpoint, progress) -> tuple[dict, dict]:
    results, failed = {}, {}
    for name in names:
        if progress is not None:
            progress(f"{name} ...")
        try:
            results[name] = ANALYSES[name][0](system, inputs, options)
        except Exception as e:  # one analysis failing on this network must not lose the others
            failed[name] = f"{type(e).__name__}: {first_line(e)}"
            warnings.warn(f"{checkpoint}: analysis {name!r} failed ({failed[name]}); the other analyses "
                          "go on and the file records the reason in its 'failed_analyses' attribute",
                          RuntimeWarning, stacklevel=3)
    return results, failed


def checkpoint_provenance(checkpoint, *, sha: str | None = None) -> dict:
    """Root attributes about the checkpoint: ``checkpoint_sha256`` and, when the run's
    ``config.yaml`` lies next to the checkpoint folder, ``training_config``.

    Never fails on the config: one that cannot be read, is too large or is not UTF-8 is
    recorded with a ``training_config_note`` saying what was done.
    """
    attrs = {"checkpoint_sha256": sha or file_sha256(checkpoint)}
    config = Path(checkpoint).resolve().parent.parent / "config.yaml"
    try:
        if not config.is_file():
            return attrs
        if config.stat().st_size > _MAX_CONFIG_BYTES:
            attrs["training_config_note"] = f"{config} is larger than 1 MiB; not recorded"
            return attrs
        raw = config.read_bytes()
    except OSError as e:
        attrs["training_config_note"] = f"{config} could not be read ({e.strerror or e}); not recorded"
        return attrs
    try:
        attrs["training_config"] = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        attrs["training_config"] = raw.decode("utf-8", "replace")
        attrs["training_config_note"] = (f"{config} is not valid UTF-8 (first bad byte at offset {e.start}); "
                                         "undecodable bytes were replaced by U+FFFD")
    return attrs


def file_sha256(path) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
