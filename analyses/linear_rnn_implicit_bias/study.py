"""Implicit bias of linear RNNs toward short lags (Emami et al., ICML 2021; docs/science.md §4).

    h_t = A h_{t-1} + B x_t,   y_t = C h_t   ⇒   y_t = Σ_j K_j x_{t−j},   K_j = C A^j B

Linear RNNs (`cell="linear"`, ``A = U/√n``, ``U ~ N(0, s_A²)``, ``B ~ N(0, s_B²)``,
``C = cᵀ/√n``, ``c ~ N(0, s_C²)``) are trained by plain gradient descent on the parameters
``(U, B, c)`` to imitate linear teachers ``y_t = Σ_j K*_j x_{t−j}`` with a short lag, a long lag
and several lags at once. The learned kernel ``K_j = C A^j B`` is recorded during training with
`dynalysis.memory_kernel` and compared with the wide-limit prediction of docs/science.md §4: each
lag relaxes independently toward the teacher at rate ``β_j``,

    β_j = s_A^{2j} (s_B² + s_C²) + j s_A^{2(j−1)} s_B² s_C²
    K_j(s) = K*_j + (K_j(0) − K*_j) (1 − 2 η β_j w_j)^s,      w_j = (T − j) / T

(``s`` optimiser steps, ``η`` the learning rate, ``w_j`` the share of time steps that see lag
``j`` with a zero history; the loss is the per-step MSE ``Σ_j w_j (K_j − K*_j)²`` for unit-variance
white inputs.) So a tap at lag ``j`` reaches half of its way to the teacher after
``t½ = ln 2 / −ln(1 − 2ηβ_j w_j)`` steps.

Run (from the repository root)::

    .venv/bin/python analyses/linear_rnn_implicit_bias/study.py              # small, 6-12 min on 2 cores
    .venv/bin/python analyses/linear_rnn_implicit_bias/study.py --size paper # wide nets, long runs
    .venv/bin/python analyses/linear_rnn_implicit_bias/study.py --size paper --dry-run   # plan, cost

Writes ``OUT/runs/*.nc`` (one per run), ``OUT/linear_rnn_implicit_bias.nc`` (combined along
``run``), ``OUT/figures/*.png`` and ``OUT/REPORT.md``; checkpoints go to ``OUT/checkpoints/``.
The verdict and REPORT.md text come from report.py, the figures from figures.py (beside this file).
"""
from __future__ import annotations

import copy
import math

import numpy as np
import pytorch_lightning as pl
import torch
import xarray as xr

import dynalysis
import figures
import report
from dynalysis.tasks import build_task
from lightning_modules import train_run
from lightning_modules.studies import PlannedRun, Study

# Teacher kernels K*: one short lag, one long lag, and equal taps at several lags.
TEACHERS = {
    "short": dict(kernel="single_lag", lag=2, amplitude=1.0),
    "long": dict(kernel="single_lag", lag=10, amplitude=1.0),
    "multi": dict(kernel="custom", kernel_values=[0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]),
}

# hidden: width n; s_A: init scales of A (s_B = s_C = 1); lr: gradient-descent step η on (U, B, c);
# epochs × n_train / batch = optimiser steps; records: kernel snapshots (log-spaced steps).
# The paper's widths and step counts are not in docs/science.md: "paper" is our wide-limit choice.
SIZES = {
    "tiny": dict(hidden=8, s_A=(0.3, 0.9), teachers=("multi",), seq_len=16, n_train=128,
                 batch=32, epochs=2, lr=0.1, records=6, max_lag=12, seed=0),
    "small": dict(hidden=64, s_A=(0.3, 0.6, 0.9), teachers=("short", "long", "multi"), seq_len=32,
                  n_train=2048, batch=32, epochs=25, lr=0.1, records=40, max_lag=12, seed=0),
    "paper": dict(hidden=1024, s_A=(0.2, 0.4, 0.6, 0.8, 0.9), teachers=("short", "long", "multi"),
                  seq_len=64, n_train=8192, batch=64, epochs=100, lr=0.1, records=60, max_lag=12,
                  seed=0),
}
MEASURED_WALL_S = {"small": 693.0}  # results/small/REPORT.md
S_B = S_C = 1.0


def plan(cfg: dict) -> list[PlannedRun]:
    """Every (teacher, s_A), in the order they train; run ``i`` draws its init from seed + i."""
    settings = [(s_A, t) for t in cfg["teachers"] for s_A in cfg["s_A"]]
    return [PlannedRun(f"run{i:02d}_{teacher}_sA{s_A:g}", f"teacher={teacher} s_A={s_A:g}",
                       epochs=cfg["epochs"], n_train=cfg["n_train"], seq_len=cfg["seq_len"],
                       batch_size=cfg["batch"], hidden_size=cfg["hidden"],
                       spec=dict(index=i, s_A=s_A, teacher=teacher))
            for i, (s_A, teacher) in enumerate(settings)]


def total_steps(cfg: dict) -> int:
    return cfg["epochs"] * math.ceil(cfg["n_train"] / cfg["batch"])


def record_steps(cfg: dict) -> np.ndarray:
    """Step 0 and ``records`` log-spaced optimiser steps up to the last one."""
    steps = np.unique(np.round(np.geomspace(1, total_steps(cfg), cfg["records"])).astype(int))
    return np.concatenate([[0], steps])


def beta(s_A: float, lags: np.ndarray) -> np.ndarray:
    """Wide-limit per-lag learning rate β_j (docs/science.md §4)."""
    j = lags.astype(float)
    return s_A ** (2 * j) * (S_B**2 + S_C**2) + j * s_A ** (2 * np.maximum(j - 1, 0)) * S_B**2 * S_C**2


class NTKStep(pl.Callback):
    """Gradient descent on ``(U, B, c)`` with ``A = U/√n``, ``C = cᵀ/√n``: the step on ``A`` and
    ``C`` is ``η/n`` times their gradient (the parameterisation in which β_j is derived)."""

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        net = pl_module.net
        net.A.grad.div_(net.hidden_size)
        net.C.grad.div_(net.hidden_size)


class KernelRecorder(pl.Callback):
    """The memory kernel ``C A^j B`` (`dynalysis.memory_kernel` on a copy of the step map) at
    the optimiser steps in ``steps``."""

    def __init__(self, steps, probe: torch.Tensor, max_lag: int):
        self.steps, self.probe, self.max_lag = set(int(s) for s in steps), probe, max_lag
        self.kernels: dict[int, np.ndarray] = {}
        self.radius: dict[int, float] = {}

    def _record(self, pl_module, step: int) -> None:
        system = dynalysis.ModuleSystem(copy.deepcopy(pl_module.net))
        ds = dynalysis.memory_kernel(system, self.probe, max_lag=self.max_lag)
        self.kernels[step] = ds.kernel.values[:, 0, 0]
        A = system.recurrent_matrix().double()
        self.radius[step] = float(torch.linalg.eigvals(A).abs().max())

    def on_train_start(self, trainer, pl_module):
        self._record(pl_module, 0)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step in self.steps and trainer.global_step not in self.kernels:
            self._record(pl_module, trainer.global_step)


def half_time(steps: np.ndarray, fraction: np.ndarray) -> float:
    """First step at which ``fraction`` reaches 0.5 (linear interpolation in log-step), NaN if never."""
    above = np.nonzero(fraction >= 0.5)[0]
    if above.size == 0:
        return float("nan")
    i = above[0]
    if i == 0:
        return float(steps[0])
    s0, s1 = np.log(max(steps[i - 1], 0.5)), np.log(steps[i])
    f0, f1 = fraction[i - 1], fraction[i]
    return float(np.exp(s0 + (0.5 - f0) / (f1 - f0) * (s1 - s0)))


def run_one(study: Study, run: PlannedRun) -> xr.Dataset:
    """Train one linear RNN, recording its kernel; set it beside the wide-limit prediction."""
    cfg, (i, s_A, teacher) = study.config, (run.spec[k] for k in ("index", "s_A", "teacher"))
    T, L, eta = cfg["seq_len"], cfg["max_lag"], cfg["lr"]
    lags = np.arange(L + 1)
    task_options = dict(seq_len=T, n_train=cfg["n_train"], n_val=256, n_test=256, seed=cfg["seed"],
                        **TEACHERS[teacher])
    task = build_task("linear_teacher", **task_options)
    K_star = np.zeros(L + 1)
    k = task.teacher_kernel().numpy()
    K_star[: len(k)] = k
    probe = dynalysis.task_inputs(task, n_trajectories=2, steps=L + 1)
    recorder = KernelRecorder(record_steps(cfg), probe, L)
    result = train_run(cell="linear", task="linear_teacher", task_options=task_options,
                       root_dir=study.checkpoint_dir(run.name), hidden_size=run.hidden_size,
                       cell_options=dict(s_A=s_A, s_B=S_B, s_C=S_C, seed=cfg["seed"] + i),
                       max_epochs=run.epochs, batch_size=run.batch_size, optimizer="sgd", lr=eta,
                       seed=cfg["seed"], callbacks=[NTKStep(), recorder])
    steps = np.array(sorted(recorder.kernels))
    K = np.stack([recorder.kernels[s] for s in steps])  # (record, lag)
    b = beta(s_A, lags)
    w = (T - lags) / T
    factor = 1.0 - 2.0 * eta * b * w  # per-step contraction of K_j − K*_j in the wide limit
    K_pred = K_star + (K[0] - K_star) * factor[None, :] ** steps[:, None]
    taps = K_star != 0
    frac = np.where(taps, (K - K[0]) / np.where(taps, K_star - K[0], 1.0), np.nan)
    t_half = np.array([half_time(steps, frac[:, j]) if taps[j] else np.nan for j in lags])
    t_half_pred = np.where(taps, np.log(2) / -np.log(np.abs(factor)), np.nan)
    ds = xr.Dataset(
        {"kernel": (("step", "lag"), K), "kernel_predicted": (("step", "lag"), K_pred),
         "teacher_kernel": ("lag", K_star), "beta": ("lag", b), "tap_fraction": (("step", "lag"), frac),
         "half_time": ("lag", t_half), "half_time_predicted": ("lag", t_half_pred),
         "spectral_radius": ("step", np.array([recorder.radius[s] for s in steps])),
         "val_loss_over_chance": ((), result.metrics["val_loss_over_chance"])},
        coords={"step": steps, "lag": lags})
    ds.attrs.update(s_A=s_A, teacher=teacher, hidden=run.hidden_size, lr=eta,
                    checkpoint=str(result.checkpoint))
    return ds


LABELS = {  # variable: (long_name, units) of the combined results
    "kernel": ("learned memory kernel C A^j B (dynalysis.memory_kernel) after `step` steps", "1"),
    "kernel_predicted": ("wide-limit prediction K*_j + (K_j(0) - K*_j)(1 - 2 eta beta_j w_j)^step", "1"),
    "teacher_kernel": ("teacher kernel K*_j", "1"),
    "beta": ("wide-limit learning rate beta_j of lag j (docs/science.md section 4)", "1"),
    "tap_fraction": ("(K_j - K_j(0)) / (K*_j - K_j(0)) at teacher taps", "1"),
    "half_time": ("measured steps until a teacher tap is half learned (NaN: never)", "step"),
    "half_time_predicted": ("wide-limit steps until half learned, ln2 / -ln(1 - 2 eta beta_j w_j)", "step"),
    "val_loss_over_chance": ("final validation MSE / chance MSE", "1"),
    "spectral_radius": ("spectral radius max|eig A| after `step` steps", "1"),
    "step": ("optimiser step", "step"), "lag": ("lag j", "step"),
    "s_A": ("init standard deviation of U (A = U / sqrt(n))", "1"),
    "teacher": ("teacher name (short / long lag, multi: several lags)", "1"),
    "run": ("run index", "1"),
}


def combine(runs: list[xr.Dataset], plan: list[PlannedRun]) -> xr.Dataset:
    """The runs along ``run``, labelled by s_A and teacher."""
    combined = xr.concat(runs, dim="run", combine_attrs="drop")
    combined = combined.assign_coords(run=np.arange(len(runs)),
                                      s_A=("run", [r.spec["s_A"] for r in plan]),
                                      teacher=("run", [r.spec["teacher"] for r in plan]))
    for name, (long_name, units) in LABELS.items():
        if name in combined.variables:
            combined[name].attrs.update(long_name=long_name, units=units)
    return combined


def main(argv=None) -> None:
    study = Study("linear_rnn_implicit_bias", SIZES, plan=plan, script=__file__, description=__doc__,
                  argv=argv, measured_wall_s=MEASURED_WALL_S)
    if not study.start():
        return
    cfg, runs = study.config, []
    for run in study.plan:
        ds = run_one(study, run)
        study.save_run(ds, run.name)
        K, K_star = ds.kernel.values, ds.teacher_kernel.values
        tap = int(ds.lag.values[K_star != 0][-1])
        study.log(run, f"val_loss/chance={float(ds.val_loss_over_chance):.3f}  "
                       f"K_{tap}: {K[-1, tap]:+.2f} (teacher {K_star[tap]:g})")
        runs.append(ds)
    combined = combine(runs, study.plan)
    numbers = report.measure(combined, cfg)
    combined.attrs.update(hidden=cfg["hidden"], lr=cfg["lr"], s_B=S_B, s_C=S_C, seq_len=cfg["seq_len"],
                          total_steps=total_steps(cfg),
                          optimizer="SGD on (U, B, c): lr on B, lr/n on A and C", claim=report.CLAIM,
                          verdict=numbers["verdict"])
    study.save_results(combined)
    figures.make(study, combined)
    study.write_report(report.text(combined, numbers, cfg, study.size))


if __name__ == "__main__":
    main()
