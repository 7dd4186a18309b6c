"""Analysis-side commands (no Lightning import): analyze, plot, demo."""
from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from .._errors import DynalysisError

PROG = "cli.py"


def _analyze_parser(sub) -> None:
    from .._analyze import ANALYSES

    p = sub.add_parser("analyze", help="analyse a checkpoint into one NetCDF file",
                       description="Analyse a trained checkpoint on trajectories driven by its own "
                       "task data and write every requested analysis into one NetCDF file (one "
                       "group per analysis; open with xarray.open_dataset(FILE, group=NAME) or "
                       "dynalysis.open_results).")
    p.add_argument("checkpoint", help="a .ckpt file written by `cli.py fit`")
    p.add_argument("--out", required=True, help="results file to write (.nc); never overwritten without --overwrite")
    p.add_argument("--analyses", default="all",
                   help=f"comma-separated subset of: {', '.join(ANALYSES)} (default: all)")
    p.add_argument("--split", default="test", choices=["train", "val", "test"], help="data split driving the trajectories")
    p.add_argument("--n-trajectories", type=int, default=8, help="number of driven trajectories (default 8)")
    p.add_argument("--steps", type=int, default=None,
                   help="trajectory length; task sequences are concatenated in time (default: max(1000, one sequence))")
    p.add_argument("--transient", type=int, default=100, help="steps discarded before averaging (default 100)")
    p.add_argument("--n-exponents", type=int, default=None, help="leading Lyapunov exponents to compute (default: all)")
    p.add_argument("--reortho-every", type=int, default=1, help="re-orthonormalise the QR frame every k steps (default 1)")
    p.add_argument("--max-lag", type=int, default=50, help="largest lag of memory kernels/curves (default 50)")
    p.add_argument("--seed", type=int, default=0, help="seed of random frames, starts and data choice (default 0)")
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"], help="analysis precision (default float64)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing results file")
    p.add_argument("--progress", action="store_true", help="show progress bars for long analyses")


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
    sub = parser.add_subparsers(dest="command", metavar="{fit,validate,test,predict,analyze,plot,demo}")
    _analyze_parser(sub)
    _plot_parser(sub)
    _demo_parser(sub)
    return parser


def run(argv: list[str]) -> int:
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        from . import _run

        return getattr(_run, args.command)(args) or 0
    except DynalysisError as e:
        if debug:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; no partial result file was written", file=sys.stderr)
        return 130
