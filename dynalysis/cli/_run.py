"""Implementations of the analysis-side commands."""
from __future__ import annotations

import glob
import sys
from pathlib import Path

from ..errors import DynalysisError, OptionError


def analyze(args) -> int:
    from ..pipeline.analyze import analyze_checkpoint
    from ..pipeline.batch import analyze_checkpoints, summary

    options = dict(analyses=args.analyses, split=args.split, n_trajectories=args.n_trajectories,
                   steps=args.steps, transient=args.transient, n_exponents=args.n_exponents,
                   reortho_every=args.reortho_every, max_lag=args.max_lag, seed=args.seed,
                   dtype=args.dtype)
    if args.out is not None:
        (checkpoint, *more) = args.checkpoints
        if Path(checkpoint).is_dir():
            raise OptionError(f"{checkpoint} is a directory; --out FILE takes one checkpoint file, "
                              "use --out-dir DIR to analyse every checkpoint in a folder")
        if more or glob.has_magic(checkpoint):
            raise OptionError("--out FILE takes exactly one checkpoint file; use --out-dir DIR for several")
        if args.workers != 1 or args.scheduler:  # 1 is the default
            raise OptionError("--workers/--scheduler need --out-dir DIR")
        path = analyze_checkpoint(checkpoint, args.out, overwrite=args.overwrite,
                                  progress=args.progress, **options)
        print(f"wrote {path}")
        return 0
    if args.out_dir is None:
        raise OptionError("give --out FILE (one checkpoint) or --out-dir DIR (any number of checkpoints)")
    outcomes = analyze_checkpoints(args.checkpoints, args.out_dir, workers=args.workers,
                                   scheduler=args.scheduler, overwrite=args.overwrite, **options)
    print(f"analyze: {summary(outcomes)}; results in {args.out_dir}")
    failed = [o for o in outcomes if o.status == "failed"]
    for o in failed:
        print(f"failed: {o.message if o.checkpoint in o.message else f'{o.checkpoint}: {o.message}'}",
              file=sys.stderr)
        if args.debug and o.details:
            print(o.details, file=sys.stderr)
    return 1 if failed else 0


def plot(args) -> int:
    from ..plotting import plot_results

    written = plot_results(args.results, args.out)
    if not written:
        raise DynalysisError(f"{args.results} holds no analysis that can be plotted")
    for p in written:
        print(f"wrote {p}")
    return 0


def demo(args) -> int:
    from ._demo import run_demo

    run_demo(Path(args.out), Path(args.config), max_epochs=args.max_epochs)
    return 0


def sweep(args) -> int:
    from ._grid import run_sweep

    return run_sweep(Path(args.config), args.grid, args.seeds, Path(args.out), dry_run=args.dry_run,
                     print_commands=args.print_commands)
