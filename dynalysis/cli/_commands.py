"""The analysis commands' parser (no torch, no Lightning): analyze, plot."""
from __future__ import annotations

import argparse

PROG = "cli.py"


def _analyze_parser(sub) -> None:
    from ..pipeline.options import AnalyzeOptions

    p = sub.add_parser("analyze", help="analyse checkpoints into NetCDF files (one per checkpoint)",
                       description="Analyse trained checkpoints on trajectories driven by their own "
                       "task data (or by your sequences, --inputs; your own model's checkpoints with "
                       "--module) and write every requested analysis into one NetCDF file per "
                       "checkpoint (one group per analysis; open with dynalysis.open_results or "
                       "xarray.open_datatree, many at once with dynalysis.open_sweep). With --out-dir, "
                       "files that are already complete are skipped and files of the same checkpoint "
                       "and options are extended with missing analyses, so an interrupted run resumes; "
                       "no other file is replaced without --overwrite. --workers/--scheduler run the "
                       "checkpoints in parallel on Dask.")
    p.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT",
                   help="a .ckpt file written by `cli.py fit`, a folder, or a quoted glob such as "
                   "'runs/**/*.ckpt'; with --module and --inputs, a checkpoint of your own model (a "
                   "Lightning .ckpt of your LightningModule, or a state_dict file)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--out", help="results file to write (.nc), for one checkpoint; never overwritten without --overwrite")
    out.add_argument("--out-dir", help="folder for one results file per checkpoint (named after the "
                     "checkpoint's path below the checkpoints' common folder); complete files are skipped")
    p.add_argument("--workers", type=int, default=1,
                   help="with --out-dir: N = a local Dask cluster of N single-threaded worker processes "
                   "(default 1; a crash costs one checkpoint, not the run); 0 = one after another in "
                   "this process, without Dask")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="with --out-dir: run on an existing Dask cluster, e.g. tcp://host:8786")
    AnalyzeOptions.add_arguments(p)
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing files at the targets, whatever they hold")


def _plot_parser(sub) -> None:
    p = sub.add_parser("plot", help="draw PNG figures from a results file",
                       description="Draw the figures of every analysis in a results file. Existing "
                       "PNG files are not replaced without --overwrite.")
    p.add_argument("results", help="a .nc file written by `cli.py analyze`")
    p.add_argument("--out", required=True, help="folder for the PNG files (created if needed)")
    p.add_argument("--overwrite", action="store_true", help="replace existing PNG files")
    p.add_argument("--condition", metavar="NAME", default=None,
                   help="draw the fixed-point PCA of this input condition only (a name the results "
                   "file lists, e.g. pad or symbol_0; default: one panel per condition)")


def build_parser() -> argparse.ArgumentParser:
    from . import external_commands

    others = external_commands()
    parser = argparse.ArgumentParser(
        prog=PROG, description="dynalysis: analyse recurrent networks as dynamical systems "
        "(analyze, plot) and train them (the commands of lightning_modules: fit/validate/test/"
        "predict are the Lightning CLI, see `cli.py fit --help`).")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks for errors")
    names = [*(n for n in ("fit", "validate", "test", "predict") if n in others), "analyze", "plot",
             *(n for n in others if n not in ("fit", "validate", "test", "predict"))]
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(names) + "}")
    for name in names:
        if name == "analyze":
            _analyze_parser(sub)
        elif name == "plot":
            _plot_parser(sub)
        else:
            # not loaded for --help: the providing package is imported only to run a command
            sub.add_parser(name, help=f"see `{PROG} {name} --help` ({others[name].module})", add_help=False)
    return parser


def run(argv: list[str]) -> int:
    from ._guard import run_guarded

    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    args.debug = debug
    from . import _run

    return run_guarded(lambda: getattr(_run, args.command)(args), debug=debug)
