"""The training commands: ``fit``, ``validate``, ``test``, ``predict`` (the Lightning CLI),
``sweep`` (a grid of runs) and ``demo`` (train, analyse, plot, summarise).

`main` dispatches them (``python -m lightning_modules ...``, ``cli.py``); each is also an entry
point of the group ``dynalysis.commands``, so the ``dynalysis`` console script finds them by
name without the analysis package knowing this one. Every command takes the whole argument
list (``["fit", "--config", ...]``; None: ``sys.argv[1:]``) and returns the exit status: 2 and
one line for user errors (``--debug`` adds the traceback). Lightning is imported only when a
command runs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dynalysis.cli import run_guarded

__all__ = ["main", "fit", "validate", "test", "predict", "sweep", "demo", "TRAIN_VERBS", "COMMANDS"]

TRAIN_VERBS = ("fit", "validate", "test", "predict")
COMMANDS = (*TRAIN_VERBS, "sweep", "demo")
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "wcrnn_digits.yaml"


def _split(argv: list[str] | None) -> tuple[list[str], bool]:
    """The arguments (``sys.argv[1:]`` for None) without ``--debug``, and whether it was there."""
    args = list(sys.argv[1:] if argv is None else argv)
    return [a for a in args if a != "--debug"], "--debug" in args


def _train(argv: list[str] | None) -> int:
    args, debug = _split(argv)
    if argv is None:  # Lightning reads sys.argv itself (and DDP relaunches it)
        sys.argv[1:] = args

    def run() -> int:
        from .cli import cli_main

        cli_main(None if argv is None else args)
        return 0

    return run_guarded(run, debug=debug, translate=False, one_line_warnings=False,
                       interrupted="interrupted; checkpoints written so far are kept "
                       "(`fit --ckpt_path last` continues from the newest)")


def fit(argv: list[str] | None = None) -> int:
    """train a network (the Lightning CLI; `cli.py fit --help`)"""
    return _train(argv)


def validate(argv: list[str] | None = None) -> int:
    """evaluate a checkpoint on the validation split (the Lightning CLI)"""
    return _train(argv)


def test(argv: list[str] | None = None) -> int:
    """evaluate a checkpoint on the test split (the Lightning CLI)"""
    return _train(argv)


def predict(argv: list[str] | None = None) -> int:
    """predict with a checkpoint (the Lightning CLI)"""
    return _train(argv)


def _sweep_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cli.py sweep", description="Train one run per combination of --grid values and --seeds, "
        "each in its own folder under --out with its resolved config.yaml. Every run's config is "
        "checked first as `fit` would check it (parsed, model, data and trainer built). Runs one after "
        "another here (a finished run is skipped, an interrupted one resumes from its last "
        "checkpoint), or prints one command per run (--print-commands) to submit as independent "
        "jobs, e.g. a SLURM array.")
    p.add_argument("--config", required=True, help="base training config (as for `cli.py fit --config`)")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="dotted config key and its values, e.g. "
                   "model.init_args.cell_options.residual_scale=0.9,1.0,1.1 (repeat for a product grid)")
    p.add_argument("--seeds", default=None, metavar="S1,S2,...",
                   help="replicate seeds: each sets seed_everything, the cell's init seed "
                   "(model.init_args.cell_options.seed) and the shuffling seed (data.init_args.shuffle_seed)")
    p.add_argument("--out", required=True, help="root folder of the sweep; one sub-folder per run")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true",
                      help="check every run's config as fit would and show the plan; write nothing")
    mode.add_argument("--print-commands", action="store_true",
                      help="write the run folders and configs, print one training command per run, train nothing")
    return p


def sweep(argv: list[str] | None = None) -> int:
    """train a grid of runs from one config"""
    args, debug = _split(argv)
    opts = _sweep_parser().parse_args(args[1:])

    def run() -> int:
        from .sweep import run_sweep

        return run_sweep(Path(opts.config), opts.grid, opts.seeds, Path(opts.out), dry_run=opts.dry_run,
                         print_commands=opts.print_commands)

    return run_guarded(run, debug=debug, translate=False)


def _demo_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cli.py demo", description="The main job: fit the default config with the Lightning CLI, "
        "analyse the checkpoint, write results.nc and figures/ into the run's folder and print a "
        "summary with the reliability of each headline number.")
    p.add_argument("--out", default="runs/demo", help="root folder of the run (default runs/demo)")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="training config (default configs/wcrnn_digits.yaml)")
    p.add_argument("--max-epochs", type=int, default=None, help="override the config's epochs")
    p.add_argument("--steps", type=int, default=None,
                   help="trajectory length of the analysis (default: the demo's, chosen so that its "
                   "headline numbers converge)")
    return p


def demo(argv: list[str] | None = None) -> int:
    """train a small WCRNN on digits, analyse it, plot it, summarise"""
    args, debug = _split(argv)
    opts = _demo_parser().parse_args(args[1:])

    def run() -> int:
        from .demo import run_demo

        run_demo(Path(opts.out), Path(opts.config), max_epochs=opts.max_epochs, steps=opts.steps)
        return 0

    return run_guarded(run, debug=debug)


_DISPATCH = {"fit": fit, "validate": validate, "test": test, "predict": predict, "sweep": sweep, "demo": demo}


def main(argv: list[str] | None = None) -> int:
    """``python -m lightning_modules COMMAND ...``; returns the exit status."""
    args, _ = _split(argv)
    name = args[0] if args else None
    if name not in _DISPATCH:
        print(f"usage: python -m lightning_modules {{{','.join(COMMANDS)}}} ... "
              f"(analysis: `python cli.py analyze --help`)", file=sys.stderr)
        return 2
    return _DISPATCH[name](argv)
