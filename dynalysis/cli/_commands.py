"""Analysis-side commands (no Lightning import): analyze, plot, demo."""
from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from pathlib import Path

from ..errors import DynalysisError, first_line

PROG = "cli.py"


def _analyze_parser(sub) -> None:
    from ..pipeline.analyze import ANALYSES

    p = sub.add_parser("analyze", help="analyse checkpoints into NetCDF files (one per checkpoint)",
                       description="Analyse trained checkpoints on trajectories driven by their own "
                       "task data and write every requested analysis into one NetCDF file per "
                       "checkpoint (one group per analysis; open with dynalysis.open_results, or "
                       "many at once with dynalysis.open_sweep). With --out-dir, files that are "
                       "already complete are skipped, so an interrupted run resumes; --workers/"
                       "--scheduler run the checkpoints in parallel on Dask.")
    p.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT",
                   help="a .ckpt file written by `cli.py fit`, a folder, or a quoted glob such as 'runs/**/*.ckpt'")
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
    p.add_argument("--analyses", default="all",
                   help=f"comma-separated subset of: {', '.join(ANALYSES)} (default: all)")
    p.add_argument("--split", default="test", choices=["train", "val", "test"], help="data split driving the trajectories")
    p.add_argument("--n-trajectories", type=int, default=8, help="number of driven trajectories (default 8)")
    p.add_argument("--steps", type=int, default=None,
                   help="trajectory length; task sequences are concatenated in time (default: max(1000, one sequence))")
    p.add_argument("--transient", type=int, default=100, help="steps discarded before averaging (default 100)")
    p.add_argument("--n-exponents", type=int, default=None, help="leading Lyapunov exponents to compute (default: all)")
    p.add_argument("--reortho-every", default="1", metavar="K|auto",
                   help="re-orthonormalise the QR frame every K steps (default 1), or 'auto': K from 1 "
                   "to 16 chosen from the spread of the exponents so that round-off stays below "
                   "sqrt(u) (several times faster for near-isometric nets such as WCRNNs)")
    p.add_argument("--max-lag", type=int, default=50, help="largest lag of memory kernels/curves (default 50)")
    p.add_argument("--seed", type=int, default=0, help="seed of random frames, starts and data choice (default 0)")
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"], help="analysis precision (default float64)")
    p.add_argument("--overwrite", action="store_true", help="replace existing results files")
    p.add_argument("--progress", action="store_true", help="show progress bars for long analyses (--out only)")


def _sweep_parser(sub) -> None:
    p = sub.add_parser("sweep", help="train a grid of runs from one config",
                       description="Train one run per combination of --grid values and --seeds, each "
                       "in its own folder under --out with its resolved config.yaml. Runs one after "
                       "another here (a finished run is skipped, an interrupted one resumes from its "
                       "last checkpoint), or prints one command per run (--print-commands) to submit "
                       "as independent jobs, e.g. a SLURM array.")
    p.add_argument("--config", required=True, help="base training config (as for `cli.py fit --config`)")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="dotted config key and its values, e.g. "
                   "model.init_args.cell_options.residual_scale=0.9,1.0,1.1 (repeat for a product grid)")
    p.add_argument("--seeds", default=None, metavar="S1,S2,...",
                   help="replicate seeds: each sets seed_everything, the cell's init seed "
                   "(model.init_args.cell_options.seed) and the shuffling seed (data.init_args.shuffle_seed)")
    p.add_argument("--out", required=True, help="root folder of the sweep; one sub-folder per run")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="check every run's config and show the plan; write nothing")
    mode.add_argument("--print-commands", action="store_true",
                      help="write the run folders and configs, print one training command per run, train nothing")


def _plot_parser(sub) -> None:
    p = sub.add_parser("plot", help="draw PNG figures from a results file",
                       description="Draw the figures of every analysis in a results file.")
    p.add_argument("results", help="a .nc file written by `cli.py analyze`")
    p.add_argument("--out", required=True, help="folder for the PNG files (created if needed)")


def _demo_parser(sub) -> None:
    p = sub.add_parser("demo", help="train a small WCRNN on digits, analyse it, plot it, summarise",
                       description="The main job: fit the default config with the Lightning CLI, "
                       "analyse the checkpoint, write results.nc and figures/ into the run's folder "
                       "and print a summary.")
    p.add_argument("--out", default="runs/demo", help="root folder of the run (default runs/demo)")
    p.add_argument("--config", default=str(Path(__file__).resolve().parents[2] / "configs" / "wcrnn_digits.yaml"),
                   help="training config (default configs/wcrnn_digits.yaml)")
    p.add_argument("--max-epochs", type=int, default=None, help="override the config's epochs")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="dynalysis: train recurrent networks (fit/validate/test/predict: "
        "the Lightning CLI, see `cli.py fit --help`) and analyse them as dynamical systems.")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="{fit,validate,test,predict,analyze,plot,demo,sweep}")
    _analyze_parser(sub)
    _sweep_parser(sub)
    _plot_parser(sub)
    _demo_parser(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {category.__name__}: {first_line(message)}", file=sys.stderr)


def run(argv: list[str]) -> int:
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    args.debug = debug
    shown = warnings.showwarning
    if not debug:
        warnings.showwarning = _one_line_warning
    try:
        from . import _run

        return getattr(_run, args.command)(args) or 0
    except DynalysisError as e:
        if debug:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished results files are kept and no partial file was written "
              "(run the same command again to resume)", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = shown
