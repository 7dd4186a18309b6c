"""Implementations of the analysis-side commands."""
from __future__ import annotations

from pathlib import Path

from .._errors import DynalysisError


def analyze(args) -> int:
    from .._analyze import analyze_checkpoint

    path = analyze_checkpoint(args.checkpoint, args.out, analyses=args.analyses, split=args.split,
                              n_trajectories=args.n_trajectories, steps=args.steps,
                              transient=args.transient, n_exponents=args.n_exponents,
                              reortho_every=args.reortho_every, max_lag=args.max_lag,
                              seed=args.seed, dtype=args.dtype, overwrite=args.overwrite,
                              progress=args.progress)
    print(f"wrote {path}")
    return 0


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
