"""The main job: train a small WCRNN on sequential digits, analyse it, plot it, summarise."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import DynalysisError


def _summary(results: Path, test_metrics: dict) -> dict:
    from ..io.netcdf import open_results, result_groups

    groups = set(result_groups(results))
    out = {"test_accuracy": test_metrics.get("test_acc")}
    lyap = open_results(results, group="lyapunov")
    out["largest_lyapunov_exponent_per_step"] = float(lyap.exponent[0])
    out["kaplan_yorke_dimension"] = float(lyap.kaplan_yorke_dimension)
    if "nonnormality" in groups:
        nn = open_results(results, group="nonnormality")
        out["henrici_index"] = float(nn["henrici"])
        out["henrici_index_normalized"] = float(nn["henrici_normalized"])
    if "memory" in groups:
        mem = open_results(results, group="memory")
        if "memory_time" in mem:
            out["memory_time_steps"] = float(mem["memory_time"])
        if "memory_capacity" in mem:
            out["memory_capacity"] = float(mem["memory_capacity"])
    return out


def run_demo(out: Path, config: Path, *, max_epochs: int | None = None) -> dict:
    """Fit ``config`` with the Lightning CLI under ``out``, then analyse and plot the checkpoint.

    Writes ``<run>/checkpoints/*.ckpt``, ``<run>/results.nc``, ``<run>/figures/*.png`` and
    ``<run>/summary.json`` where ``<run>`` is the Lightning log folder (a new ``version_N``
    each time, so nothing earlier is overwritten). Returns the summary.
    """
    from ..pipeline.analyze import analyze_checkpoint
    from ..plotting import plot_results
    from . import training_cli

    if not config.exists():
        raise DynalysisError(f"config {config} does not exist")
    print(f"[1/4] training ({config.name}) — Lightning CLI, progress below", flush=True)
    args = ["--config", str(config), "--trainer.default_root_dir", str(out)]
    if max_epochs is not None:
        args += ["--trainer.max_epochs", str(max_epochs)]
    cli = training_cli().cli_main(args, run=False)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    ckpt = Path(cli.trainer.checkpoint_callback.best_model_path)
    test = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)[0]
    run_dir = ckpt.parent.parent
    print(f"[2/4] analysing {ckpt}", flush=True)
    results = analyze_checkpoint(ckpt, run_dir / "results.nc", progress=True)
    print(f"[3/4] plotting into {run_dir / 'figures'}", flush=True)
    figures = plot_results(results, run_dir / "figures")
    summary = {"run": str(run_dir), "checkpoint": str(ckpt), "results": str(results),
               "figures": [str(f) for f in figures], **_summary(results, test)}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print("[4/4] summary")
    for k, v in summary.items():
        if k != "figures":
            print(f"  {k:36s} {v:.4g}" if isinstance(v, float) else f"  {k:36s} {v}")
    print(f"  {'figures':36s} {len(figures)} PNG files")
    return summary
