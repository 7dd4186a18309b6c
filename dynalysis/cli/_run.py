"""Implementations of the analysis commands: the library does the work, these print."""
from __future__ import annotations

import glob
import inspect
import sys
from pathlib import Path

from ..errors import DynalysisError, OptionError
from ._guard import cli_message


def _print_progress(line: str) -> None:
    print(f"[analyze] {line}", flush=True)


def analyze(args) -> int:
    from ..pipeline.analyze import analyze_checkpoint
    from ..pipeline.batch import analyze_checkpoints, summary
    from ..pipeline.options import AnalyzeOptions

    options = AnalyzeOptions.from_args(args)
    if args.out is not None:
        (checkpoint, *more) = args.checkpoints
        if Path(checkpoint).is_dir():
            raise OptionError(f"{checkpoint} is a directory; --out FILE takes one checkpoint file, "
                              "use --out-dir DIR to analyse every checkpoint in a folder")
        if more or glob.has_magic(checkpoint):
            raise OptionError("--out FILE takes exactly one checkpoint file; use --out-dir DIR for several")
        if args.workers != 1 or args.scheduler:  # 1 is the default
            raise OptionError("--workers/--scheduler need --out-dir DIR")
        path = analyze_checkpoint(checkpoint, args.out, options=options, overwrite=args.overwrite,
                                  progress=_print_progress if options.progress_bars else None)
        print(f"wrote {path}")
        return 0
    if args.out_dir is None:
        raise OptionError("give --out FILE (one checkpoint) or --out-dir DIR (any number of checkpoints)")
    outcomes = analyze_checkpoints(args.checkpoints, args.out_dir, options=options, workers=args.workers,
                                   scheduler=args.scheduler, overwrite=args.overwrite,
                                   progress=lambda line: print(cli_message(line), flush=True))
    print(f"analyze: {summary(outcomes)}; results in {args.out_dir}")
    failed = [o for o in outcomes if o.status == "failed"]
    for o in failed:
        text = cli_message(o.message)
        print(f"failed: {text if o.checkpoint in o.message else f'{o.checkpoint}: {text}'}", file=sys.stderr)
        if args.debug and o.details:
            print(o.details, file=sys.stderr)
    return 1 if failed else 0


def plot(args) -> int:
    from ..plotting import plot_results

    # plot_results(..., overwrite=) comes with the plotting layer's no-clobber rule
    kwargs = {"overwrite": args.overwrite} if "overwrite" in inspect.signature(plot_results).parameters else {}
    if args.condition is not None:
        kwargs["condition"] = args.condition
    written = plot_results(args.results, args.out, **kwargs)
    if not written:
        raise DynalysisError(f"{args.results} holds no analysis that can be plotted")
    for p in written:
        print(f"wrote {p}")
    return 0
