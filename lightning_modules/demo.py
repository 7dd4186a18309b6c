"""The main job: train a small WCRNN on sequential digits, analyse it, plot it, summarise.

The summary prints each headline number with what says how far to trust it: the largest
Lyapunov exponent with its confidence interval and "(not converged)" when the analysis says so,
the memory time as "≥ N steps" when the memory kernel has not decayed within the lags computed,
Henrici's index with "(not reliable in float64)" when it cannot be determined.
"""
from __future__ import annotations

import contextlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np

from dynalysis.errors import DynalysisError, NumericalReliabilityWarning

from .console import quiet_lightning_console

__all__ = ["run_demo", "summary_numbers", "summary_lines", "DEMO_STEPS"]

#: trajectory length of the demo's analysis: long enough that the running Lyapunov estimates
#: have settled (the QR schedule "auto" keeps it to a few seconds per 10 000 steps here)
DEMO_STEPS = 20_000


def _value(ds, name):
    return float(ds[name]) if name in ds else None


def summary_numbers(results: Path, test_metrics: dict) -> dict:
    """The headline numbers of a results file, with their reliability where the file has it."""
    from dynalysis.io.netcdf import open_results, result_groups

    groups = set(result_groups(results))
    out = {"test_accuracy": test_metrics.get("test_acc")}
    if "lyapunov" in groups:
        lyap = open_results(results, group="lyapunov")
        out["largest_lyapunov_exponent_per_step"] = float(lyap.exponent[0])
        if "exponent_ci_low" in lyap and "exponent_ci_high" in lyap:
            out["largest_lyapunov_exponent_ci"] = [float(lyap.exponent_ci_low[0]), float(lyap.exponent_ci_high[0])]
        if "converged" in lyap:
            out["largest_lyapunov_exponent_converged"] = bool(int(lyap.converged[0]))
        out["kaplan_yorke_dimension"] = float(lyap.kaplan_yorke_dimension)
        if "kaplan_yorke_ci_low" in lyap and "kaplan_yorke_ci_high" in lyap:
            out["kaplan_yorke_ci"] = [float(lyap.kaplan_yorke_ci_low), float(lyap.kaplan_yorke_ci_high)]
        if "all_converged" in lyap:
            out["all_exponents_converged"] = bool(int(lyap.all_converged))
    if "nonnormality" in groups:
        nn = open_results(results, group="nonnormality")
        if "henrici" in nn:
            out["henrici_index"] = float(nn["henrici"])
            out["henrici_index_normalized"] = float(nn["henrici_normalized"])
            if "henrici_reliable" in nn:
                out["henrici_reliable"] = bool(int(nn["henrici_reliable"]))
    if "memory" in groups:
        mem = open_results(results, group="memory")
        if "memory_time" in mem:
            out["memory_time_steps"] = float(mem["memory_time"])
            censored = bool(int(mem["memory_time_censored"])) if "memory_time_censored" in mem else None
            if censored or np.isnan(out["memory_time_steps"]):  # NaN: beyond the lags computed
                censored = True
            if censored is not None:
                out["memory_time_censored"] = censored
                out["memory_max_lag"] = int(mem["lag"].max())
        if "memory_capacity" in mem:
            out["memory_capacity"] = float(mem["memory_capacity"])
    return out


def _g(x: float) -> str:
    return f"{x:.4g}"


def summary_lines(numbers: dict) -> list[str]:
    """One ``name value`` line per headline number, each with its reliability.

    >>> summary_lines({"largest_lyapunov_exponent_per_step": 0.0004,
    ...                "largest_lyapunov_exponent_ci": [0.0002, 0.0006],
    ...                "largest_lyapunov_exponent_converged": False,
    ...                "memory_time_steps": 49.6, "memory_time_censored": True, "memory_max_lag": 50})
    ['largest_lyapunov_exponent_per_step   0.0004 (CI 0.0002 to 0.0006) (not converged)', 'memory_time_steps                    ≥ 50 steps (the kernel has not decayed within max_lag)']
    """
    lines = []
    for key, value in numbers.items():
        if key == "largest_lyapunov_exponent_per_step":
            text = _g(value)
            if "largest_lyapunov_exponent_ci" in numbers:
                lo, hi = numbers["largest_lyapunov_exponent_ci"]
                text += f" (CI {_g(lo)} to {_g(hi)})"
            if numbers.get("largest_lyapunov_exponent_converged") is False:
                text += " (not converged)"
        elif key == "kaplan_yorke_dimension":
            text = _g(value)
            if "kaplan_yorke_ci" in numbers:  # the dimension is nondecreasing in every exponent
                lo, hi = numbers["kaplan_yorke_ci"]
                text += f" (from the exponents' CIs: {_g(lo)} to {_g(hi)})"
            if numbers.get("all_exponents_converged") is False:
                text += " (exponents not all converged)"
        elif key == "henrici_index":
            text = _g(value) + (" (not reliable in float64)" if numbers.get("henrici_reliable") is False else "")
        elif key == "memory_time_steps":
            text = (f"≥ {numbers['memory_max_lag']} steps (the kernel has not decayed within max_lag)"
                    if numbers.get("memory_time_censored") else f"{_g(value)} steps")
        elif key in ("largest_lyapunov_exponent_ci", "largest_lyapunov_exponent_converged", "kaplan_yorke_ci",
                     "all_exponents_converged", "henrici_reliable", "memory_time_censored", "memory_max_lag"):
            continue  # printed with the number they qualify
        else:
            text = _g(value) if isinstance(value, float) else str(value)
        lines.append(f"{key:36s} {text}")
    return lines


@contextlib.contextmanager
def _no_command_line():
    """LightningCLI warns when given ``args`` while ``sys.argv`` has arguments (ours, `demo ...`)."""
    argv = sys.argv[1:]
    sys.argv[1:] = []
    try:
        yield
    finally:
        sys.argv[1:] = argv


def run_demo(out: Path, config: Path, *, max_epochs: int | None = None, steps: int | None = None,
             echo=print) -> dict:
    """Fit ``config`` with the Lightning CLI under ``out``, then analyse and plot the checkpoint.

    Writes ``<run>/checkpoints/*.ckpt``, ``<run>/results.nc``, ``<run>/figures/*.png`` and
    ``<run>/summary.json`` where ``<run>`` is the Lightning log folder (a new ``version_N``
    each time, so nothing earlier is overwritten). ``steps`` is the trajectory length of the
    analysis (default `DEMO_STEPS`). ``echo`` receives the console lines. Returns the summary.
    """
    from dynalysis.pipeline import analyze_checkpoint
    from dynalysis.plotting import plot_results

    from .cli import cli_main

    if not config.exists():
        raise DynalysisError(f"config {config} does not exist")
    echo(f"[1/4] training ({config.name}) — Lightning CLI, progress below")
    args = ["--config", str(config), "--trainer.default_root_dir", str(out),
            "--trainer.logger", "pytorch_lightning.loggers.CSVLogger",
            "--trainer.logger.init_args.save_dir", str(out)]
    if max_epochs is not None:
        args += ["--trainer.max_epochs", str(max_epochs)]
    with quiet_lightning_console(), _no_command_line():
        cli = cli_main(args, run=False)
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
        ckpt = Path(cli.trainer.checkpoint_callback.best_model_path)
        test = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)[0]
    run_dir = ckpt.parent.parent
    echo(f"[2/4] analysing {ckpt}")
    with warnings.catch_warnings():  # the summary states each number's reliability itself
        warnings.simplefilter("ignore", NumericalReliabilityWarning)
        results = analyze_checkpoint(ckpt, run_dir / "results.nc", steps=steps or DEMO_STEPS,
                                     reortho_every="auto", progress=lambda line: echo(f"      {line}"))
    echo(f"[3/4] plotting into {run_dir / 'figures'}")
    figures = plot_results(results, run_dir / "figures")
    numbers = summary_numbers(results, test)
    summary = {"run": str(run_dir), "checkpoint": str(ckpt), "results": str(results),
               "figures": [str(f) for f in figures], **numbers}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    echo("[4/4] summary")
    for key in ("run", "checkpoint", "results"):
        echo(f"  {key:36s} {summary[key]}")
    for line in summary_lines(numbers):
        echo(f"  {line}")
    echo(f"  {'figures':36s} {len(figures)} PNG files")
    return summary
