"""Fading memory in weakly coupled residual RNNs (Dubinin & Effenberger 2024; docs/science.md §1).

    h_t = ρ(h_{t-1}) + ε tanh(W h_{t-1} + V x_t + b),      J_t = R + ε diag(tanh'(a_t)) W

With the scaled identity ``ρ(h) = λ h`` the residual sets the memory: λ < 1 forgets with
time constant ``−1/ln λ``, λ = 1 is the edge of chaos, λ > 1 amplifies. As ε → 0 the Lyapunov
spectrum tends to ``ln|eig R|``, so the largest exponent of a trained WCRNN should sit near
``ln λ``. This study

1. sweeps λ through sub-critical, critical and super-critical values on sequential digits
   (8×8, pixel by pixel) and on the adding problem, and measures the largest Lyapunov exponent
   of every trained network driven by its own task data (`dynalysis.task_inputs` +
   `dynalysis.lyapunov_spectrum`);
2. compares rotational residuals whose frequency matches the 8-pixel row period (θ = 2π/8)
   with mismatched and random ones, heterogeneous against homogeneous residuals, and the
   non-linear residual ``λ tanh(h)``;
3. trains Elman RNNs from the WCRNN initialisation ``W_hh = I + ε W_0`` and from standard inits.

Run (from the repository root)::

    .venv/bin/python analyses/wcrnn_fading_memory/study.py               # small, 8-13 min on 2 cores
    .venv/bin/python analyses/wcrnn_fading_memory/study.py --size paper --mnist-root DIR
    .venv/bin/python analyses/wcrnn_fading_memory/study.py --size paper --dry-run   # plan, cost

Writes ``OUT/runs/*.nc`` (one Lyapunov spectrum per run), ``OUT/wcrnn_fading_memory.nc``
(combined along ``run``), ``OUT/figures/*.png`` and ``OUT/REPORT.md``; checkpoints go to
``OUT/checkpoints/``. The verdicts and REPORT.md text come from report.py, the figures from
figures.py (beside this file).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr

import dynalysis
import figures
import report
from dynalysis.models import build_model
from lightning_modules import train_run
from lightning_modules.studies import PlannedRun, Study, task_shape

# images: the sequential-image task and its row length (the period a rotational residual can lock
# onto); adding: the adding problem's length and size; lams: identity residual scales λ;
# sweep_seeds: training seeds (batch order; each run also has its own init seed) of the λ sweep;
# periods: rotational frequencies as periods in steps (θ = 2π/period), the first one matched.
# The WCRNN paper's widths and schedules are not in docs/science.md: "paper" uses its benchmarks
# (sequential MNIST, adding with T = 750) at widths of our choice.
SIZES = {
    "tiny": dict(hidden=8, epsilon=0.1, images=("digits", dict(order="row")), row_period=8,
                 image_epochs=1, adding=dict(seq_len=10, n_train=64, n_val=32, n_test=32),
                 adding_epochs=1, lams=(0.9, 1.0), sweep_seeds=(0,), periods=(8, 5), elman_inits=("wcrnn", "default"),
                 lr=1e-2, image_batch=64, adding_batch=16, lyap_sequences=2, seed=0),
    "small": dict(hidden=32, epsilon=0.1, images=("digits", dict(order="pixel")), row_period=8,
                  image_epochs=10, adding=dict(seq_len=30, n_train=1000, n_val=200, n_test=200),
                  adding_epochs=10, lams=(0.7, 0.9, 0.95, 1.0, 1.02, 1.1), sweep_seeds=(0, 1),
                  periods=(8, 5, 13),
                  elman_inits=("wcrnn", "default", "orthogonal"), lr=1e-2, image_batch=64,
                  adding_batch=16, lyap_sequences=5, seed=0),
    "paper": dict(hidden=128, epsilon=0.1, images=("mnist", dict(order="pixel")), row_period=28,
                  image_epochs=20, adding=dict(seq_len=750, n_train=20000, n_val=1000, n_test=1000),
                  adding_epochs=20, lams=(0.7, 0.9, 0.95, 0.99, 1.0, 1.01, 1.02, 1.05, 1.1), sweep_seeds=(0, 1, 2),
                  periods=(28, 20, 40), elman_inits=("wcrnn", "default", "orthogonal", "xavier"),
                  lr=1e-3, image_batch=64, adding_batch=32, lyap_sequences=5, seed=0),
}
MEASURED_WALL_S = {"small": 792.0}  # results/small/REPORT.md


def settings(cfg: dict) -> list[tuple]:
    """``(group, task, cell, label, λ of the residual's leading eigenvalue, cell options, replicate)``
    of every run, in the order they train."""
    eps, out = cfg["epsilon"], []
    for replicate in cfg["sweep_seeds"]:
        for task in ("digits", "adding"):
            for lam in cfg["lams"]:
                out.append(("lambda_sweep", task, "wcrnn", f"identity λ={lam:g}", lam,
                            dict(epsilon=eps, residual="identity", residual_scale=lam), replicate))
    first = cfg["sweep_seeds"][0]  # the training seed of every run outside the sweep
    for period in cfg["periods"]:
        out.append(("rotational", "digits", "wcrnn", f"rotational θ=2π/{period}", 1.0,
                    dict(epsilon=eps, residual="rotational", residual_scale=1.0,
                         frequencies=2 * math.pi / period), first))
    out.append(("rotational", "digits", "wcrnn", "rotational θ~U[0,π]", 1.0,
                dict(epsilon=eps, residual="rotational", residual_scale=1.0, frequencies="uniform"), first))
    for task in ("digits", "adding"):
        out.append(("heterogeneous", task, "wcrnn", "heterogeneous λ_i~U[0.9,1]", float("nan"),
                    dict(epsilon=eps, residual="heterogeneous", scale_range=[0.9, 1.0]), first))
        out.append(("nonlinear", task, "wcrnn", "nonlinear λ tanh(h), λ=1", 1.0,
                    dict(epsilon=eps, residual="nonlinear", residual_scale=1.0), first))
    for init in cfg["elman_inits"]:
        opts = dict(nonlinearity="tanh", init=init)
        if init == "wcrnn":
            opts["init_options"] = dict(epsilon=eps, residual="identity", residual_scale=1.0)
        out.append(("elman", "digits", "elman", f"Elman, {init} init", float("nan"), opts, first))
    return out


def tasks(cfg: dict, mnist_root: str | None = None) -> dict:
    """``{name: (registered task, options, epochs, batch)}`` of the two tasks."""
    image_task, image_options = cfg["images"]
    image_options = dict(image_options, **({"root": mnist_root} if image_task == "mnist" and mnist_root else {}))
    return {"digits": (image_task, image_options, cfg["image_epochs"], cfg["image_batch"]),
            "adding": ("adding", cfg["adding"], cfg["adding_epochs"], cfg["adding_batch"])}


def plan(cfg: dict) -> list[PlannedRun]:
    """The runs of `settings`; run ``i`` draws its init from seed + i."""
    budgets = {name: (*task_shape(t, o), epochs, batch) for name, (t, o, epochs, batch) in tasks(cfg).items()}
    runs = []
    for i, (group, task, cell, label, lam, options, replicate) in enumerate(settings(cfg)):
        n_train, seq_len, epochs, batch = budgets[task]
        runs.append(PlannedRun(f"run{i:02d}", f"{task:<6s} {label:<28s}", epochs=epochs,
                               n_train=n_train, seq_len=seq_len, batch_size=batch,
                               hidden_size=cfg["hidden"],
                               spec=dict(index=i, group=group, task=task, cell=cell, label=label,
                                         lam=lam, options=options, replicate=replicate)))
    return runs


def residual_log_moduli(net) -> np.ndarray:
    """Sorted ``ln|eig R|`` of a WCRNN's residual (``ln λ_i`` for the non-linear one, whose
    Jacobian at h = 0 is ``diag(λ_i)``)."""
    R = net.residual_matrix()
    moduli = net.residual_scales.abs() if R is None else torch.linalg.eigvals(R.double()).abs()
    return np.sort(np.log(moduli.detach().double().cpu().numpy()))[::-1].copy()


def coupling_norm(net) -> float:
    """``ε ‖W‖₂``, the size of the non-linear part of a WCRNN's Jacobian."""
    return float(net.epsilon * torch.linalg.matrix_norm(net.W.detach().double().cpu(), ord=2))


def epoch_curve(metrics_csv: Path, column: str) -> np.ndarray:
    """Validation ``column`` at the end of each epoch from Lightning's CSV log."""
    log = pd.read_csv(metrics_csv)
    if column not in log:
        return np.array([])
    return log.dropna(subset=[column]).groupby("epoch")[column].last().to_numpy()


def run_one(study: Study, run: PlannedRun) -> xr.Dataset:
    """Train one network; its Lyapunov spectrum, and that of its initialisation, on task data."""
    cfg, s = study.config, run.spec
    i, cell, options, N = s["index"], s["cell"], s["options"], run.hidden_size
    name, task_options, epochs, batch = tasks(cfg, study.args.mnist_root)[s["task"]]
    root = study.checkpoint_dir(run.name)
    result = train_run(cell=cell, task=name, task_options=task_options, hidden_size=N, root_dir=root,
                       cell_options=dict(options, seed=cfg["seed"] + i),
                       max_epochs=epochs, batch_size=batch, optimizer="adam", lr=cfg["lr"], gradient_clip_val=10.0,
                       seed=cfg["seed"] + s["replicate"])
    system = dynalysis.load_checkpoint(result.checkpoint)
    T = dynalysis.task_inputs(system, n_trajectories=1).shape[1]  # length of one task sequence
    # driven by the task's own data, sequences back to back (no reset), one sequence of transient
    inputs = dynalysis.task_inputs(system, n_trajectories=8, steps=cfg["lyap_sequences"] * T, seed=i)
    lyap = dynalysis.lyapunov_spectrum(system, inputs, transient=T, seed=i)
    # control: the same network at its initialisation (same seed), driven by the same inputs
    init_net = build_model(cell, input_size=system.input_size, hidden_size=N,
                           output_size=system.output_size, **dict(options, seed=cfg["seed"] + i))
    lyap_init = dynalysis.lyapunov_spectrum(dynalysis.ModuleSystem(init_net), inputs, transient=T, seed=i)
    trained_net = result.model.net  # the trained WCRNN, for its residual R and coupling W
    wcrnn = cell == "wcrnn"
    log_moduli = residual_log_moduli(trained_net) if wcrnn else np.full(system.state_size, np.nan)
    lyap["residual_log_modulus"] = ("exponent_index", log_moduli)
    lyap["residual_log_modulus"].attrs.update(long_name="ln|eig R| of the residual, sorted", units="1/step")
    lyap["exponent_init"] = ("exponent_index", lyap_init.exponent.values)
    lyap["exponent_init"].attrs.update(long_name="Lyapunov exponent of the untrained network", units="1/step")
    metrics = result.metrics
    curve, acc_curve = epoch_curve(root / "metrics.csv", "val_loss_over_chance"), epoch_curve(root / "metrics.csv", "val_acc")
    lyap.attrs.update(group=s["group"], task=s["task"], cell=cell, label=s["label"], lam=s["lam"],
                      replicate=s["replicate"],
                      coupling_norm=coupling_norm(trained_net) if wcrnn else float("nan"),
                      coupling_norm_init=coupling_norm(init_net) if wcrnn else float("nan"),
                      val_loss_over_chance=metrics["val_loss_over_chance"],
                      val_acc=metrics.get("val_acc", float("nan")),
                      success=int(result.success), curve=curve.tolist(), acc_curve=acc_curve.tolist())
    return lyap


LABELS = {  # variable: (long_name, units) of the combined results
    "exponent": ("Lyapunov exponent driven by task data (sorted)", "1/step"),
    "exponent_std": ("spread of the exponent across trajectories", "1/step"),
    "residual_log_modulus": ("ln|eig R| of the residual, sorted (ln lambda_i for nonlinear; NaN: Elman)", "1/step"),
    "val_loss_over_chance": ("final validation loss / chance loss", "1"),
    "val_acc": ("final validation accuracy (NaN: regression task)", "1"),
    "success": ("val loss below half of chance", "1"),
    "val_loss_over_chance_curve": ("validation loss / chance after each epoch", "1"),
    "val_acc_curve": ("validation accuracy after each epoch", "1"),
    "lyapunov_max": ("largest Lyapunov exponent", "1/step"),
    "exponent_init": ("Lyapunov exponent of the untrained network (same seed, same inputs)", "1/step"),
    "lyapunov_max_init": ("largest Lyapunov exponent of the untrained network", "1/step"),
    "coupling_norm": ("epsilon * spectral norm of W after training (NaN: Elman)", "1"),
    "coupling_norm_init": ("epsilon * spectral norm of W at initialisation (NaN: Elman)", "1"),
    "run": ("run index", "1"), "exponent_index": ("exponent index (descending)", "1"),
    "epoch": ("training epoch", "1"),
    "group": ("comparison the run belongs to", "1"), "task": ("task", "1"), "cell": ("cell", "1"),
    "label": ("residual / initialisation", "1"),
    "lam": ("residual scale lambda (NaN: heterogeneous residual or Elman)", "1"),
    "replicate": ("training seed of the run (batch order)", "1"),
}


def combine(runs: list[xr.Dataset]) -> xr.Dataset:
    """One row per run: spectra, performance, per-epoch curves (NaN-padded), the run's setting."""
    n_runs, n_epochs = len(runs), max(len(r.attrs["curve"]) for r in runs)

    def padded(key):
        rows = np.full((n_runs, n_epochs), np.nan)
        for i, r in enumerate(runs):
            values = np.atleast_1d(np.asarray(r.attrs[key], dtype=float))
            rows[i, : values.size] = values
        return rows

    def per_run(key):
        return np.array([float(r.attrs[key]) for r in runs])

    def stacked(var):
        return (("run", "exponent_index"), np.stack([r[var].values for r in runs]))

    combined = xr.Dataset(
        {**{var: stacked(var) for var in ("exponent", "exponent_std", "exponent_init", "residual_log_modulus")},
         **{var: ("run", per_run(var)) for var in ("coupling_norm", "coupling_norm_init",
                                                    "val_loss_over_chance", "val_acc")},
         "success": ("run", per_run("success").astype(np.int8)),
         "val_loss_over_chance_curve": (("run", "epoch"), padded("curve")),
         "val_acc_curve": (("run", "epoch"), padded("acc_curve"))},
        coords={"run": np.arange(n_runs), "exponent_index": runs[0].exponent_index.values,
                "epoch": np.arange(n_epochs),
                **{key: ("run", [r.attrs[key] for r in runs])
                   for key in ("group", "task", "cell", "label", "lam", "replicate")}})
    combined["lyapunov_max"] = combined.exponent.isel(exponent_index=0)
    combined["lyapunov_max_init"] = combined.exponent_init.isel(exponent_index=0)
    for name, (long_name, units) in LABELS.items():
        combined[name].attrs.update(long_name=long_name, units=units)
    return combined


def main(argv=None) -> None:
    study = Study("wcrnn_fading_memory", SIZES, plan=plan, script=__file__, description=__doc__,
                  argv=argv, measured_wall_s=MEASURED_WALL_S,
                  add_arguments=lambda p: p.add_argument(
                      "--mnist-root", default=None, help="folder with the MNIST IDX files (--size paper)"))
    if study.config["images"][0] == "mnist" and not study.args.mnist_root and not study.args.dry_run:
        study.error(f"--size {study.size} trains on sequential MNIST: pass --mnist-root DIR (the IDX files)")
    if not study.start():
        return
    runs = []
    for run in study.plan:
        lyap = run_one(study, run)
        study.save_run(lyap, run.name)
        acc, a = lyap.attrs["val_acc"], lyap.attrs
        perf = f"val_acc={acc:.3f}" if np.isfinite(acc) else f"val_loss/chance={a['val_loss_over_chance']:.3f}"
        study.log(run, f"{perf}  λ_max={float(lyap.exponent[0]):+.4f} (init {float(lyap.exponent_init[0]):+.4f}, "
                       f"ln|eig R|_max={float(lyap.residual_log_modulus[0]):+.4f})")
        runs.append(lyap)
    combined = combine(runs)
    numbers = report.measure(combined, study.config)
    combined.attrs.update(hidden=study.config["hidden"], epsilon=study.config["epsilon"],
                          verdict=numbers["verdict"],
                          checks=";".join(f"{k}={'yes' if v else 'no'}" for k, v in numbers["checks"].items()))
    study.save_results(combined)
    figures.make(study, combined, numbers)
    study.write_report(report.text(combined, numbers, study.config, study.size))


if __name__ == "__main__":
    main()
