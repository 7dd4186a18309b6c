"""Eigen initializer: Dou & Principe (arXiv:2307.15679), "Dynamic analysis and an eigen
initializer for recurrent neural networks" (docs/science.md §2).

Claims checked here:

1. The eigen initializer (``W = Q · blockdiag(r_k Rot(θ_k)) · Qᵀ``, ``r_k ~ U[0.9, 1]``,
   ``θ_k ~ U[0, π]``; every hidden-to-hidden gate block for LSTM / GRU) outperforms Xavier,
   Kaiming, orthogonal, IRNN (identity + ReLU) and np-RNN on the Tomita grammars and on
   pixel-by-pixel digit classification, for vanilla RNN, LSTM and GRU.
2. Trained networks have recurrent eigenvalues near the unit circle, and regression and
   classification tasks shape the eigenvalues differently.

Run (from the repository root)::

    .venv/bin/python analyses/eigen_init/study.py                 # small, ~10 min CPU
    .venv/bin/python analyses/eigen_init/study.py --size paper --mnist-root DIR   # see SIZES
    .venv/bin/python analyses/eigen_init/study.py --size paper --dry-run          # the plan, its cost

Writes OUT/runs/*.nc (one per training run), OUT/eigen_init.nc (runs combined along ``run``),
OUT/figures/*.png and OUT/REPORT.md; checkpoints go to OUT/checkpoints/ (not committed).
The REPORT.md text is written by report.py, the figures by figures.py (beside this file).
"""
from __future__ import annotations

import itertools

import numpy as np
import torch
import xarray as xr

import dynalysis
import figures
import report
from dynalysis.models import build_model
from lightning_modules import train_run
from lightning_modules.studies import PlannedRun, Study, task_shape

INITS = ("xavier", "kaiming", "orthogonal", "irnn", "np_rnn", "eigen")
CELLS = ("elman", "lstm", "gru")
CLASSIFICATION = ("tomita", "digits", "mnist")
MNIST_ROOT = "<--mnist-root>"  # replaced by the command-line option
GATE_COORD = ["recurrent", "input", "forget", "cell", "output", "reset", "update", "new"]

# A "block" is one group of runs: (cells, tasks with options, inits, seeds, training settings).
# Each size lists its blocks; the classification blocks give the accuracy table, the regression
# block (Elman, eigen and Xavier init) the spectra to set beside the classification ones.


def _tomita(g, max_len, test_max_len, n_train):
    return ("tomita", dict(grammar=g, min_len=1, max_len=max_len, test_min_len=max_len + 1,
                           test_max_len=test_max_len, n_train=n_train, n_val=n_train // 2,
                           n_test=n_train // 2))


SIZES = {
    "tiny": dict(blocks=[
        dict(cells=CELLS, tasks=[_tomita(4, 6, 8, 32)], inits=INITS, seeds=[0], hidden=4,
             epochs=1, batch_size=32),
        dict(cells=("elman",), tasks=[("delayed_recall", dict(seq_len=10, lags=[1, 2], n_train=32,
                                                              n_val=16, n_test=16))],
             inits=("eigen",), seeds=[0], hidden=4, epochs=1, batch_size=32),
    ], lr=5e-3, clip=1.0),
    # All 7 grammars for the vanilla RNN; the full cell set on grammar 3 and on the digits;
    # N = 16 (Tomita) / 32 (digits); strings of length 1-10 for training, 11-14 for the test
    # split; 256 training strings, 8 epochs; digits 3 epochs; 2 seeds everywhere.
    "small": dict(blocks=[
        dict(cells=("elman",), tasks=[_tomita(g, 10, 14, 256) for g in range(1, 8)], inits=INITS,
             seeds=[0, 1], hidden=16, epochs=8, batch_size=32),
        dict(cells=("lstm", "gru"), tasks=[_tomita(3, 10, 14, 256)], inits=INITS, seeds=[0, 1],
             hidden=16, epochs=8, batch_size=32),
        dict(cells=CELLS, tasks=[("digits", dict(order="pixel"))], inits=INITS, seeds=[0, 1],
             hidden=32, epochs=3, batch_size=32),
        dict(cells=("elman",), tasks=[("delayed_recall", dict(seq_len=50, lags=[1, 2, 4, 8],
                                                              n_train=512, n_val=128, n_test=128)),
                                      ("adding", dict(seq_len=30, n_train=512, n_val=128, n_test=128))],
             inits=("eigen", "xavier"), seeds=[0, 1], hidden=16, epochs=8, batch_size=32),
    ], lr=5e-3, clip=1.0),
    # docs/science.md does not give the paper's network sizes or schedules: the tasks are the
    # paper's (Tomita 1-7 and pixel-by-pixel MNIST, T = 784, for all three cells); N = 128,
    # 5 seeds and 50 / 20 epochs are our choice. MNIST IDX files are read from --mnist-root.
    "paper": dict(blocks=[
        dict(cells=CELLS, tasks=[_tomita(g, 20, 30, 5000) for g in range(1, 8)], inits=INITS,
             seeds=list(range(5)), hidden=128, epochs=50, batch_size=64),
        dict(cells=CELLS, tasks=[("mnist", dict(root=MNIST_ROOT, order="pixel"))], inits=INITS,
             seeds=list(range(5)), hidden=128, epochs=20, batch_size=64),
        dict(cells=("elman",), tasks=[("delayed_recall", dict(seq_len=200, lags=[1, 5, 10, 20, 50])),
                                      ("adding", dict(seq_len=200))],
             inits=("eigen", "xavier"), seeds=list(range(5)), hidden=128, epochs=50, batch_size=64),
    ], lr=1e-3, clip=1.0),
}
MEASURED_WALL_S = {"small": 498.0}  # results/small/REPORT.md: 8.3 min


def plan(cfg: dict) -> list[PlannedRun]:
    """Every (block, task, cell, initializer, seed), in the order they train."""
    runs = []
    for b in cfg["blocks"]:
        for task, topts in b["tasks"]:
            n_train, seq_len = task_shape(task, topts)
            setting = report.setting_label(task, topts.get("grammar", 0))
            for cell, init, seed in itertools.product(b["cells"], b["inits"], b["seeds"]):
                runs.append(PlannedRun(f"{setting}_{cell}_{init}_seed{seed}",
                                       f"task={setting} cell={cell} init={init} seed={seed}",
                                       epochs=b["epochs"], n_train=n_train, seq_len=seq_len,
                                       batch_size=b["batch_size"], hidden_size=b["hidden"],
                                       spec=dict(cell=cell, task=task, topts=topts, init=init, seed=seed)))
    return runs


def cell_options(cell: str, init: str, seed: int) -> dict:
    """IRNN is the identity with ReLU (Le et al. 2015); np-RNN is ReLU too (Talathi & Vartak 2015);
    gated cells keep their own non-linearities and get the initializer on every gate block."""
    opts = dict(init="identity" if init == "irnn" else init, seed=seed)
    if cell == "elman":
        opts["nonlinearity"] = "relu" if init in ("irnn", "np_rnn") else "tanh"
    return opts


def spectrum_array(system: dynalysis.System, n: int) -> np.ndarray:
    """Eigenvalues ``(gate, eigen_index)`` on the GATE_COORD grid, NaN where a cell has no block:
    W_hh of the Elman RNN (its recurrent matrix), every gate block of LSTM / GRU."""
    W = system.recurrent_matrix()
    blocks = {"recurrent": W} if W is not None else system.gate_matrices()
    out = np.full((len(GATE_COORD), n), np.nan + 0j)
    for gate, W in blocks.items():
        ev = torch.linalg.eigvals(W.detach().double()).numpy()
        out[GATE_COORD.index(gate)] = ev[np.argsort(-np.abs(ev), kind="stable")]
    return out


LABELS = {  # variable: (long_name, units); None: the units of the task's loss
    "eigenvalue": ("eigenvalue of the trained hidden-to-hidden block (decreasing modulus)", "1"),
    "initial_eigenvalue": ("eigenvalue of the initial hidden-to-hidden block", "1"),
    "val_loss": ("final validation loss", None),
    "test_loss": ("test loss (Tomita: longer strings than training)", None),
    "loss_over_chance": ("validation loss / chance loss", "1"),
    "val_acc": ("validation accuracy (classification tasks)", "1"),
    "test_acc": ("test accuracy (Tomita: longer strings than training)", "1"),
    "val_mse": ("validation mean squared error (regression tasks)", "1"),
    "jacobian_spectral_radius": ("mean spectral radius of the state Jacobian J_t on test inputs", "1"),
    "gate": ("hidden-to-hidden block (Elman: recurrent; LSTM: i,f,g,o; GRU: r,z,n)", "1"),
    "eigen_index": ("eigenvalue rank (0 = largest modulus)", "1"),
}


def run_one(study: Study, run: PlannedRun) -> xr.Dataset:
    """Train one network; record accuracy and the initial and trained recurrent spectra."""
    cell, task, init, seed = (run.spec[k] for k in ("cell", "task", "init", "seed"))
    topts = run.spec["topts"]
    if topts.get("root") == MNIST_ROOT:
        topts = {**topts, "root": study.args.mnist_root}
    opts, N, cfg = cell_options(cell, init, seed), run.hidden_size, study.config
    res = train_run(cell=cell, task=task, root_dir=study.checkpoint_dir(run.name), hidden_size=N,
                    cell_options=opts, task_options=topts, max_epochs=run.epochs,
                    batch_size=run.batch_size, optimizer="adam", lr=cfg["lr"],
                    gradient_clip_val=cfg["clip"], seed=seed, test=True)
    system = dynalysis.load_checkpoint(res.checkpoint)
    initial = dynalysis.ModuleSystem(build_model(cell, input_size=system.input_size, hidden_size=N,
                                                 output_size=system.output_size, **opts))
    m = res.metrics
    classify = task in CLASSIFICATION
    ds = xr.Dataset(
        {"eigenvalue": (("gate", "eigen_index"), spectrum_array(system, N)),
         "initial_eigenvalue": (("gate", "eigen_index"), spectrum_array(initial, N)),
         "val_loss": ((), m["val_loss"]), "test_loss": ((), m["test_loss"]),
         "loss_over_chance": ((), m["val_loss"] / res.chance_loss),
         "val_acc": ((), m.get("val_acc", np.nan)), "test_acc": ((), m.get("test_acc", np.nan)),
         "val_mse": ((), m.get("val_mse", np.nan))},
        coords={"gate": GATE_COORD, "eigen_index": np.arange(N)})
    if cell == "elman":  # state-Jacobian spectra along test trajectories (Elman only: cheap)
        x = dynalysis.task_inputs(system, split="test", n_trajectories=8, seed=seed)
        jac = dynalysis.jacobian_eigenvalues(system, x, every=max(1, x.shape[1] // 8))
        ds["jacobian_spectral_radius"] = float(jac.spectral_radius.mean())
    else:
        ds["jacobian_spectral_radius"] = np.nan
    for var, (long_name, units) in LABELS.items():
        loss_units = "nat" if classify else "1 (squared error)"
        ds[var].attrs.update(long_name=long_name, units=units or loss_units)
    grammar = int(topts.get("grammar", 0))
    ds = ds.expand_dims(run=[run.name]).assign_coords(
        cell=("run", [cell]), task=("run", [task]), grammar=("run", [grammar]),
        init=("run", [init]), seed=("run", [int(seed)]), hidden_size=("run", [N]),
        task_kind=("run", ["classification" if classify else "regression"]))
    ds.attrs.update(checkpoint_task=str(system.metadata.get("task")))
    return ds


def main(argv=None) -> None:
    study = Study("eigen_init", SIZES, plan=plan, script=__file__, description=__doc__, argv=argv,
                  measured_wall_s=MEASURED_WALL_S,
                  add_arguments=lambda p: p.add_argument(
                      "--mnist-root", default="data/mnist",
                      help="folder with the MNIST IDX files (--size paper only)"))
    if not study.start():
        return
    runs = []
    for run in study.plan:
        ds = run_one(study, run)
        study.save_run(ds, run.name)
        metric = (f"test_acc={ds.test_acc.item():.3f}" if run.spec["task"] in CLASSIFICATION
                  else f"val_mse={ds.val_mse.item():.4f}")
        study.log(run, metric)
        runs.append(ds)
    ds = xr.concat(runs, dim="run", join="outer", combine_attrs="drop_conflicts")
    ds.attrs.update(paper="Dou & Principe, arXiv:2307.15679")
    study.save_results(ds)
    rows = report.accuracy_table(ds, inits=INITS, cells=CELLS)
    figures.make(study, ds, rows, inits=INITS)
    study.write_report(report.text(ds, rows, study.size, study.config, inits=INITS))


if __name__ == "__main__":
    main()
