"""Many checkpoints → one results file each, in-process or on a Dask cluster; resumable.

`analyze_checkpoints` is what ``python cli.py analyze CKPT... --out-dir DIR`` runs. Each task
is `dynalysis.analyze_checkpoint` on one checkpoint, writing its own file atomically, so tasks
share nothing and a sweep can be stopped and restarted at any time:

- a result that holds every requested analysis (checksums intact) and was made from the same
  checkpoint bytes with the same options is skipped; one that holds some of them is extended
  with the others (its groups are kept); a damaged one of ours is redone;
- anything else at a target is never replaced without ``overwrite=True``: a file this tool did
  not write, or one made with other options or from another checkpoint is an error for that
  checkpoint (see `dynalysis.pipeline.existing`);
- distinct checkpoints that would share a results file, and targets that a symbolic link
  would put outside ``out_dir``, are refused before any work;
- one bad checkpoint is reported and the others go on.

Execution: ``workers=N >= 1`` (default 1) starts a `dask.distributed.LocalCluster` of N
single-threaded worker processes, so that even a crash inside a native library (a segfault, the
out-of-memory killer) costs one checkpoint, not the sweep; ``workers=0`` runs the tasks one after
another in this process (no Dask; for debugging); ``scheduler="tcp://host:8786"`` sends the tasks
to an existing Dask cluster (its workers need dynalysis installed and the same file paths, e.g.
a shared file system).
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import logging
import os
import socket
import time
import traceback
import warnings
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from ..errors import DynalysisError, OptionError, ResultsFileError, first_line
from .._core.options import check_positive_int
from .options import AnalyzeOptions
from .own_model import check_own_model

__all__ = ["analyze_checkpoints", "Outcome", "output_paths"]

_LIBRARY_NOISE = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)  # not about the results


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What happened to one checkpoint of a sweep.

    ``status`` is ``"done"`` (analysed and written), ``"skipped"`` (a complete, matching result
    already existed) or ``"failed"`` (``message`` says why; ``details`` holds the traceback of an
    unexpected error). ``warnings`` are the analyses' warnings (e.g. diverged trajectories).
    """

    checkpoint: str
    out: str
    status: str
    message: str = ""
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()
    details: str = ""


def output_paths(checkpoints, out_dir, *, root=None) -> dict[Path, Path]:
    """Results file of each checkpoint: its path below ``root``, in ``out_dir``, ending in ``.nc``.

    ``root`` defaults to the checkpoints' common folder. With ``root="runs"``,
    ``runs/a/ck/epoch=1.ckpt`` and ``runs/b/ck/epoch=1.ckpt`` → ``OUT/a/ck/epoch=1.nc`` and
    ``OUT/b/ck/epoch=1.nc``.

    Raises
    ------
    ResultsFileError
        Two distinct checkpoints would share a results file (``m.ckpt`` and ``m.pt``), or a
        symbolic link inside ``out_dir`` would put a results file outside it.
    """
    paths = [Path(os.path.abspath(c)) for c in checkpoints]
    if not paths:
        return {}
    root = Path(os.path.commonpath([p.parent for p in paths]) if root is None else os.path.abspath(root))
    outs: dict[Path, Path] = {}
    for c, p in zip(checkpoints, paths):
        try:
            outs[Path(c)] = Path(out_dir) / p.relative_to(root).with_suffix(".nc")
        except ValueError:
            raise ResultsFileError(f"{c} lies outside {root}, the folder results are named from; "
                                   "give its folder or a pattern that contains it") from None
    seen: dict[Path, Path] = {}
    for c, out in outs.items():
        if out in seen:
            raise ResultsFileError(f"{seen[out]} and {c} would both write {out}; analyse them into "
                                   "different out_dir folders, or rename one")
        seen[out] = c
    base = Path(os.path.realpath(out_dir))
    for out in outs.values():
        real = Path(os.path.realpath(out))
        if not real.is_relative_to(base):
            raise ResultsFileError(f"{out} would be written to {real}, outside out_dir {out_dir} "
                                   "(through a symbolic link); remove the link or choose another out_dir")
    return outs


def _run_one(checkpoint: str, out: str, options: AnalyzeOptions, overwrite: bool) -> Outcome:
    """One task: skip, extend, or analyse and write, on one torch thread; never raises for an error."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same arithmetic in every mode, and no oversubscription
    try:
        return _run_one_threaded(checkpoint, out, options, overwrite)
    finally:
        torch.set_num_threads(threads)


def _run_one_threaded(checkpoint: str, out: str, options: AnalyzeOptions, overwrite: bool) -> Outcome:
    from . import analyze
    from .existing import Target, inspect_target
    from .own_model import inputs_sha256
    from ..io.netcdf import open_results

    start = time.perf_counter()
    caught: list = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            target, sha = Target("write"), None
            if not overwrite and Path(checkpoint).is_file():
                sha = analyze.file_sha256(checkpoint)
                target = inspect_target(Path(out), options, sha, inputs_sha256(options))
            if target.action == "skip":
                return Outcome(checkpoint, out, "skipped", "complete")
            if target.action == "refuse":
                return Outcome(checkpoint, out, "failed", target.reason)
            keep = {}
            if target.action == "extend":
                tree = open_results(out)
                keep = {g: tree[g].to_dataset() for g in target.keep}
            if target.action == "write" and not overwrite:
                analyze.analyze_checkpoint(checkpoint, out, options=options)
            else:
                analyze.analyze_into(checkpoint, Path(out), options, overwrite=True, keep=keep,
                                     keep_failed=target.failed, checkpoint_sha=sha)
        message = {"redo": f"replaced a damaged file ({target.reason})",
                   "extend": f"extended with {', '.join(a for a in options.analyses if a not in keep and a not in target.failed)}"
                             f" (kept {', '.join(keep) or 'nothing'})"}.get(target.action, "")
    except DynalysisError as e:
        return Outcome(checkpoint, out, "failed", str(e), time.perf_counter() - start)
    except Exception as e:  # a bug, not a user error: keep the traceback for --debug
        return Outcome(checkpoint, out, "failed", f"internal error ({type(e).__name__}: {first_line(e)}); "
                       "please report it (the traceback is shown with --debug)",
                       time.perf_counter() - start, details=traceback.format_exc())
    notes = tuple(dict.fromkeys(f"{w.category.__name__}: {first_line(w.message)}" for w in caught
                                if not issubclass(w.category, _LIBRARY_NOISE)))
    return Outcome(checkpoint, out, "done", message, time.perf_counter() - start, notes)


def analyze_checkpoints(checkpoints, out_dir, *, options: AnalyzeOptions | None = None,
                        workers: int = 1, scheduler: str | None = None, overwrite: bool = False,
                        progress: Callable[[str], None] | bool | None = None,
                        **values) -> list[Outcome]:
    """Analyse many checkpoints into one results file each, in parallel, resumably.

    Parameters
    ----------
    checkpoints : path, glob pattern, folder, or a list of them
        Expanded with `dynalysis.find_checkpoints` (``"runs/**/*.ckpt"`` spans folders).
    out_dir : path-like
        Results go to `output_paths` below it: each checkpoint's path below the arguments'
        common folder (``runs/`` for ``"runs/**/*.ckpt"``), with ``.nc`` for ``.ckpt``. The
        names depend only on the arguments, so re-running the same command finds its files.
    options : AnalyzeOptions, optional
        What to compute; or give the options of `dynalysis.analyze_checkpoint` as keywords
        (``analyses``, ``steps``, ``seed``, ...). Validated once before any task starts.
    workers : int, default 1
        N >= 1: a local Dask cluster of N worker processes with one thread each (torch too).
        0: one after another in this process, without Dask. Ignored when ``scheduler`` is given.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); an unreachable one is an
        error before any work.
    overwrite : bool, default False
        Recompute and replace existing files at the targets, whatever they hold.
    progress : callable, optional
        Called with one line per finished checkpoint (``"[k/n] done checkpoint (3.1 s)"``) and
        its warnings. Nothing is printed otherwise (``True``: print the lines).

    Returns
    -------
    list of Outcome
        In the order of the checkpoints.

    Notes
    -----
    Every task writes its file atomically and checks existing files first (see the module
    notes), so an interrupted sweep resumes where it stopped when run again. Results do not
    depend on ``workers``: the same checkpoint, options and seed give the same numbers.
    """
    from ..io.checkpoint import find_checkpoints
    from ..io.paths import common_folder

    options = AnalyzeOptions.make(options, values)
    check_own_model(options)
    if options.module is not None:  # once, before any task: a wrong class name fails here
        from ..io.foreign import import_class

        import_class(options.module)
    if options.inputs is not None:
        from ..io.sequences import load_inputs

        load_inputs(options.inputs, variable=options.inputs_variable)
    if progress is True:
        progress = print
    if scheduler is None:
        check_positive_int("workers", workers, minimum=0)
    else:
        check_scheduler(scheduler)
    files = find_checkpoints(checkpoints)
    if not files:
        raise OptionError("no checkpoints given")
    outs = output_paths(files, out_dir, root=common_folder(checkpoints))
    tasks = [(str(Path(os.path.abspath(c))), str(Path(os.path.abspath(outs[c])))) for c in files]
    report = _Report(len(tasks), progress or None)
    if scheduler is None and workers == 0:
        for ck, out in tasks:
            report.add(_run_one(ck, out, options, overwrite))
    else:
        _run_on_dask(_run_one, [(ck, out, options, overwrite) for ck, out in tasks], workers,
                     scheduler, report)
    order = {ck: i for i, (ck, _) in enumerate(tasks)}
    return sorted(report.outcomes, key=lambda o: order[o.checkpoint])


def check_scheduler(address, *, timeout: float = 5.0) -> None:
    """Fail fast (`OptionError`) on a malformed or unreachable ``tcp://``/``tls://`` address,
    rather than after Dask's 30 s connection timeout."""
    if not isinstance(address, str) or not address:
        raise OptionError(f"invalid scheduler={address!r}; allowed values: a Dask scheduler "
                          "address such as 'tcp://host:8786'")
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme not in ("tcp", "tls"):
        return  # other Dask transports (inproc, ucx): Dask itself connects
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or port is None:
        raise OptionError(f"invalid scheduler={address!r}; allowed values: a Dask scheduler "
                          "address with host and port, such as 'tcp://host:8786'")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        raise OptionError(f"cannot reach the Dask scheduler at scheduler={address!r} "
                          f"({e.strerror or type(e).__name__}); start one (`dask scheduler`) or "
                          "check the address") from None


class _Report:
    """Collects outcomes and passes one progress line each to ``emit`` (if any)."""

    def __init__(self, total: int, emit: Callable[[str], None] | None):
        self.total, self.emit, self.outcomes = total, emit, []

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        if self.emit is None:
            return
        took = f" ({outcome.seconds:.1f} s)" if outcome.status == "done" else ""
        what, msg = outcome.checkpoint, outcome.message
        text = msg if what in msg else f"{what}: {msg}" if msg else what
        self.emit(f"[{len(self.outcomes)}/{self.total}] {outcome.status:7s} {text}{took}")
        for w in outcome.warnings:
            self.emit(f"    warning: {w}")


@contextlib.contextmanager
def local_cluster(n_workers: int):
    """A `dask.distributed.LocalCluster` of ``n_workers`` single-threaded processes, tuned for us.

    Dask's nannies set ``MALLOC_TRIM_THRESHOLD_=65536`` in their workers by default; setting it
    at all switches off glibc's adaptive mmap threshold, so every tensor over 128 KiB of our
    per-step loops becomes an mmap/munmap pair (analyses ran 1.6x slower than in-process). Our
    workers keep glibc's defaults and one BLAS/OpenMP thread. The statistical profiler (every
    10 ms, for the dashboard) is off, and a crashed task is retried once.
    """
    import dask
    from dask.distributed import LocalCluster

    config = {"distributed.nanny.pre-spawn-environ": {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1,
                                                      "OPENBLAS_NUM_THREADS": 1},
              "distributed.worker.profile.enabled": False,
              "distributed.scheduler.allowed-failures": 1}
    with dask.config.set(config):
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0")
    try:
        yield cluster
    finally:
        quiet = logging.getLogger("distributed.nanny")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # "worker still alive after 4 s, killing": all work is done
        try:
            cluster.close()
        finally:
            quiet.setLevel(level)


def _run_on_dask(task, arguments: list[tuple], workers, scheduler, report: _Report) -> None:
    """``task(*args)`` for each tuple of ``arguments`` (``args[0:2]``: checkpoint, out) on Dask."""
    with contextlib.ExitStack() as stack:
        if scheduler is None:
            scheduler = stack.enter_context(local_cluster(workers))
            where = f"a local Dask cluster of {workers} worker process(es)"
        else:
            where = f"the Dask cluster at {scheduler}"
        _submit_all(task, arguments, scheduler, where, report)


def _submit_all(task, arguments, scheduler, where: str, report: _Report) -> None:
    from dask.distributed import Client, as_completed

    client = Client(scheduler, timeout=30)
    try:
        if report.emit is not None:
            link = client.dashboard_link if importlib.util.find_spec("bokeh") else "needs bokeh"
            report.emit(f"analysing {len(arguments)} checkpoints on {where} (dashboard: {link})")
        futures = {client.submit(task, *args, pure=False): args[:2] for args in arguments}
        try:
            for fut in as_completed(futures):
                ck, out = futures[fut]
                try:
                    report.add(fut.result())
                except Exception as e:  # the worker process died (out of memory, killed, ...)
                    report.add(Outcome(ck, out, "failed", f"worker lost ({type(e).__name__}: "
                                       f"{first_line(e)}); rerun to retry"))
        except BaseException:
            client.cancel(list(futures))
            raise
    finally:
        client.close()


def summary(outcomes: list[Outcome]) -> str:
    """One line: how many were done, skipped and failed."""
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "failed")}
    warned = sum(bool(o.warnings) for o in outcomes)
    text = f"{counts['done']} done, {counts['skipped']} skipped (already complete), {counts['failed']} failed"
    return text + (f"; {warned} with warnings (see above)" if warned else "")
