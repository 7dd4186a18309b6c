"""Non-normal dynamics: Orhan & Pitkow (ICLR 2020), "Improved memory in recurrent neural
networks with sequential non-normal dynamics" (docs/science.md §3).

Claims checked here:

1. Copy task: vanilla RNNs initialised as a feed-forward chain (``W_ij = α δ_{i,j+1}``, input
   into the source unit) or a chain with weak feedback succeed where identity (``λ I``) and
   orthogonal (``λ Q``) initialisations fail. Paper: identity 0/594, orthogonal 0/594,
   chain 46/462, feedback chain 11/462 runs with validation loss < 50 % of chance.
2. Fisher memory (Ganguli et al. 2008) of the initial matrices: ``J_tot = 1`` for every
   normal W; the chain with ``v = e_1`` has ``J(k) = α^{2k}(α²−1)/(α^{2(k+1)}−1)``,
   ``J_tot(α=1, N=100) = H_100 ≈ 5.19``.
3. Training makes networks non-normal: Henrici index of trained vanilla RNNs on the addition
   task 2.33 (identity init) / 2.74 (orthogonal init), with a chain motif (mean weight vs
   peak-time order difference bumps at positive order difference; paper Table 2, Fig. 5).
4. Transient growth (the mechanism behind the paper's question "do chains grow transiently,
   does training create it"): ``‖W^k‖₂`` against the spectral prediction ``ρ(W)^k``, the
   Kreiss lower bound and the ε-pseudospectral radius of every initial and trained W
   (`dynalysis.transient_growth`, `dynalysis.pseudospectra`; Trefethen & Embree 2005).

Run (from the repository root)::

    .venv/bin/python analyses/nonnormal_dynamics/study.py                 # small, ~10 min CPU
    .venv/bin/python analyses/nonnormal_dynamics/study.py --size paper    # the paper's sizes
    .venv/bin/python analyses/nonnormal_dynamics/study.py --size paper --dry-run   # plan, cost

Writes OUT/runs/*.nc (one per training run), OUT/nonnormal_dynamics.nc (runs combined along
``run``, plus the Fisher memory curves along ``fisher_case``), OUT/figures/*.png and
OUT/REPORT.md; checkpoints go to OUT/checkpoints/ (not committed). The REPORT.md text is
written by report.py, the figures by figures.py (beside this file).
"""
from __future__ import annotations

import csv
import itertools
import warnings

import numpy as np
import pytorch_lightning as pl
import xarray as xr

import dynalysis
import figures
import report
from dynalysis.models import build_model
from dynalysis.models import initializers as I
from lightning_modules import train_run
from lightning_modules.studies import PlannedRun, Study, task_shape

# Scale grids: chain α ∈ [0.99, 1.05], feedback β ∈ [0.01, 0.07] at α = 0.99 (docs/science.md §3);
# for λI and λQ the paper's range is not in docs/science.md: [0.97, 1.05] is our choice.
# Paper run counts: 594 = 9 scales × 66 and 462 = 7 scales × 66 (learning rates × seeds); the
# 11 learning rates × 6 seeds below reproduce those counts, the lr values are our choice.
PAPER_SCALES = {"identity": [round(0.97 + 0.01 * i, 2) for i in range(9)],
                "orthogonal": [round(0.97 + 0.01 * i, 2) for i in range(9)],
                "chain": [round(0.99 + 0.01 * i, 2) for i in range(7)],
                "chain_feedback": [round(0.01 + 0.01 * i, 2) for i in range(7)]}
SIZES = {
    "tiny": dict(hidden=8, batch_size=16, lrs=[1e-3], seeds=[0],
                 scales={"identity": [1.0], "orthogonal": [1.0], "chain": [1.0], "chain_feedback": [0.04]},
                 tasks={"copy": dict(task=dict(seq_len=23, n_train=32, n_val=32, n_test=16),
                                     nonlinearity="elu", epochs=1),
                        "adding": dict(task=dict(seq_len=10, n_train=32, n_val=32, n_test=16),
                                       nonlinearity="relu", epochs=1)},
                 motif_steps=30),
    # ~100x fewer updates than the paper, so the upper end of its learning rates; T shortened
    # (copy 500 -> 30: delay 479 -> 9 steps; adding 750 -> 50), N 100 -> 32, the endpoints of
    # each scale range, one seed.
    "small": dict(hidden=32, batch_size=16, lrs=[1e-3, 3e-3], seeds=[0],
                  scales={"identity": [0.99, 1.05], "orthogonal": [0.99, 1.05],
                          "chain": [0.99, 1.05], "chain_feedback": [0.01, 0.07]},
                  tasks={"copy": dict(task=dict(seq_len=30, n_train=1024, n_val=256, n_test=64),
                                      nonlinearity="elu", epochs=12),
                         "adding": dict(task=dict(seq_len=50, n_train=1024, n_val=256, n_test=64),
                                        nonlinearity="relu", epochs=6)},
                  motif_steps=100),
    # The paper: N = 100, RMSprop, grad-clip 10, batch 16, 60000 training sequences, up to
    # 100 epochs with early stopping at val loss 0.0025, ELU (copy) / ReLU (addition).
    "paper": dict(hidden=100, batch_size=16, lrs=[float(v) for v in np.logspace(-5, -3, 11)],
                  seeds=list(range(6)), scales=PAPER_SCALES,
                  tasks={"copy": dict(task=dict(seq_len=500, n_train=60000, n_val=10000, n_test=10000),
                                      nonlinearity="elu", epochs=100),
                         "adding": dict(task=dict(seq_len=750, n_train=60000, n_val=10000, n_test=10000),
                                        nonlinearity="relu", epochs=100)},
                  motif_steps=100),
}
FISHER_N, FISHER_MAX_LAG = 100, 150  # the closed forms of docs/science.md are stated at N = 100
FISHER_CASES = [("chain", 0.99), ("chain", 1.0), ("chain", 1.05), ("chain_feedback", 0.02),
                ("chain_feedback", 0.07), ("identity", 0.99), ("orthogonal", 0.99)]
MOTIF_K = 5  # order differences summarised by the chain-motif asymmetry
PSEUDO_EPS = 1e-2  # ε of the pseudospectral sensitivity (ρ_ε − ρ)/ε (1 for every normal W)
GROWTH_POWERS = 4  # ‖W^k‖ for k = 0 .. GROWTH_POWERS · N
MEASURED_WALL_S = {"small": 390.0}  # results/small/REPORT.md: 6.5 min


def plan(cfg: dict) -> list[PlannedRun]:
    """Every (task, initialiser, scale, learning rate, seed), in the order they train."""
    runs = []
    for task, tcfg in cfg["tasks"].items():
        n_train, seq_len = task_shape(task, tcfg["task"])
        for init, scales in cfg["scales"].items():
            for s, lr, seed in itertools.product(scales, cfg["lrs"], cfg["seeds"]):
                runs.append(PlannedRun(f"{task}_{init}_{s:g}_lr{lr:.0e}_seed{seed}",
                                       f"task={task} init={init} scale={s:g} lr={lr:.0e} seed={seed}",
                                       epochs=tcfg["epochs"], n_train=n_train, seq_len=seq_len,
                                       batch_size=cfg["batch_size"], hidden_size=cfg["hidden"],
                                       spec=dict(task=task, init=init, scale=s, lr=lr, seed=seed)))
    return runs


def motif_asymmetry(profile: xr.DataArray) -> float:
    """Mean weight from earlier- to later-peaking units minus the reverse (|i − j| ≤ K, i ≠ j)."""
    k = profile.order_difference.values
    K = min(MOTIF_K, int(k.max()))
    p = profile.values
    return float(p[(k >= 1) & (k <= K)].mean() - p[(k <= -1) & (k >= -K)].mean())


def growth_measures(W, max_power: int) -> dict[str, float]:
    """Transient growth and pseudospectra of one recurrent matrix.

    ``amplification = max_k ‖W^k‖₂ / max(1, ρ^k)``: 1 for a normal W (``‖W^k‖ = ρ^k``), above
    1 when the powers grow beyond what the eigenvalues allow; with ``ρ < 1`` and a peak above 1
    at some ``k ≥ 1`` the growth is *transient* (it ends in decay).
    """
    tg = dynalysis.transient_growth(W, max_power=max_power)
    ps = dynalysis.pseudospectra(W, epsilons=(PSEUDO_EPS,), grid=8)  # radius by criss-cross, grid only a start
    rho = float(tg.spectral_radius)
    k = tg.power.values
    log_norm = tg.log_power_norm.values
    with np.errstate(divide="ignore"):
        spectral = np.maximum(0.0, k * np.log(rho)) if rho > 0 else np.zeros(k.size)
    peak = float(np.exp(log_norm[1:].max()))  # over k >= 1
    return {"peak_norm": peak, "peak_power": 1 + int(np.argmax(log_norm[1:])),
            "amplification": float(np.exp(np.max(log_norm - spectral))),
            "transient": float(rho < 1 and peak > 1 + 1e-9),
            "kreiss_lower_bound": float(tg.kreiss_lower_bound),
            "pseudo_sensitivity": float((ps.pseudospectral_radius.values[0] - rho) / PSEUDO_EPS)}


GROWTH_LABELS = {  # measure: (long_name, units)
    "peak_norm": ("peak of ||W^k||_2 over k = 1 .. 4N", "1"),
    "peak_power": ("power k of the peak of ||W^k||_2", "step"),
    "amplification": ("non-normal amplification max_k ||W^k||_2 / max(1, rho^k) (1 for a normal W)", "1"),
    "transient": ("transient growth: rho < 1 and ||W^k||_2 > 1 for some k >= 1", "1"),
    "kreiss_lower_bound": ("Kreiss constant lower bound (inf when rho > 1)", "1"),
    "pseudo_sensitivity": (f"pseudospectral sensitivity (rho_eps - rho)/eps at eps = {PSEUDO_EPS:g} "
                           "(1 for a normal W)", "1"),
}


def cell_options(init: str, scale: float, nonlinearity: str, seed: int) -> dict:
    """Recurrent and input initialisers of one run (Orhan & Pitkow's InitLoader)."""
    if init in ("chain", "chain_feedback"):
        opts = {"alpha": scale} if init == "chain" else {"alpha": 0.99, "beta": scale}
        return dict(nonlinearity=nonlinearity, init=init, init_options=opts, input_init="source",
                    seed=seed)
    opts = {"scale": scale} if init == "identity" else {"gain": scale}
    return dict(nonlinearity=nonlinearity, init=init, init_options=opts, input_init="normal",
                input_init_options={"gain": 0.9, "fan": "out"}, seed=seed)


LABELS = {  # variable: (long_name, units)
    "val_loss": ("final validation loss", "nat"),
    "chance_loss": ("loss of the best input-independent predictor", "nat"),
    "loss_over_chance": ("validation loss / chance loss", "1"),
    "success": ("val loss < 50% of chance (Orhan & Pitkow's criterion)", "1"),
    "epochs_run": ("training epochs run (early stop at val loss 0.0025)", "1"),
}


def run_one(study: Study, run: PlannedRun) -> xr.Dataset:
    """Train one network; analyse its initial and trained recurrent matrix."""
    task, init, scale, lr, seed = (run.spec[k] for k in ("task", "init", "scale", "lr", "seed"))
    cfg, tcfg = study.config, study.config["tasks"][task]
    opts = cell_options(init, scale, tcfg["nonlinearity"], seed)
    root = study.checkpoint_dir(run.name)
    stop = pl.callbacks.EarlyStopping(monitor="val_loss", stopping_threshold=0.0025, patience=10 ** 6)
    res = train_run(cell="elman", task=task, root_dir=root, hidden_size=run.hidden_size,
                    cell_options=opts, task_options=tcfg["task"], max_epochs=run.epochs,
                    batch_size=run.batch_size, optimizer="rmsprop", lr=lr, gradient_clip_val=10.0,
                    seed=seed, callbacks=[stop])
    trained = dynalysis.load_checkpoint(res.checkpoint)
    initial = build_model("elman", input_size=trained.input_size, hidden_size=run.hidden_size,
                          output_size=trained.output_size, **opts)
    with warnings.catch_warnings():  # unreliable Henrici values are flagged in the data
        warnings.simplefilter("ignore", dynalysis.NumericalReliabilityWarning)
        nn_trained = dynalysis.nonnormality(trained, motif_steps=cfg["motif_steps"], seed=seed)
        nn_init = dynalysis.nonnormality(initial.recurrent_matrix().detach(), motif_steps=cfg["motif_steps"])
    keep = ["henrici", "henrici_normalized", "henrici_reliable", "eigenvector_condition",
            "spectral_radius", "spectral_norm", "eigenvalue", "motif_profile"]
    ds = nn_trained[keep].rename({k: f"trained_{k}" for k in keep})
    for k in ("henrici", "henrici_normalized", "spectral_radius", "spectral_norm"):
        ds[f"initial_{k}"] = nn_init[k]
    ds["initial_motif_profile"] = nn_init["motif_profile"]
    max_power = GROWTH_POWERS * run.hidden_size
    for when, W in (("initial", initial.recurrent_matrix().detach().double()),
                    ("trained", trained.recurrent_matrix().detach().double())):
        for name, value in growth_measures(W, max_power).items():
            ds[f"{when}_{name}"] = value
            long_name, units = GROWTH_LABELS[name]
            ds[f"{when}_{name}"].attrs.update(long_name=long_name, units=units)  # "<when> W: " added below
    for when, prof in (("initial", nn_init.motif_profile), ("trained", nn_trained.motif_profile)):
        ds[f"{when}_motif_asymmetry"] = motif_asymmetry(prof)
        ds[f"{when}_motif_asymmetry"].attrs.update(
            long_name=f"{when} W: chain-motif asymmetry, mean profile at order difference 1..K minus -K..-1 "
                      f"(K = {MOTIF_K})", units="1")
    ds["val_loss"] = res.metrics["val_loss"]
    ds["chance_loss"] = res.chance_loss
    ds["loss_over_chance"] = res.metrics["val_loss"] / res.chance_loss
    ds["success"] = np.int8(res.success)
    with open(root / "metrics.csv") as f:
        ds["epochs_run"] = sum(1 for row in csv.DictReader(f) if row.get("val_loss"))
    for var, (long_name, units) in LABELS.items():
        ds[var].attrs.update(long_name=long_name, units=units)
    if task == "adding":
        for v in ("val_loss", "chance_loss"):
            ds[v].attrs["units"] = "1 (squared error)"
    for k in ds.data_vars:
        if k.startswith(("initial_", "trained_")) and "long_name" in ds[k].attrs:
            ds[k].attrs["long_name"] = k.split("_")[0] + " W: " + ds[k].attrs["long_name"]
    return ds.expand_dims(run=[run.name]).assign_coords(
        task=("run", [task]), init=("run", [init]), scale=("run", [float(scale)]),
        lr=("run", [float(lr)]), seed=("run", [int(seed)]))


def fisher_memory() -> tuple[xr.Dataset, float]:
    """Fisher memory curves of the initial matrices at N = 100; max error vs the chain formula."""
    g = I.make_generator(0)
    curves, totals, worst = [], [], 0.0
    k = np.arange(FISHER_MAX_LAG + 1)
    for init, s in FISHER_CASES:
        if init in ("chain", "chain_feedback"):
            W = I.chain(FISHER_N, alpha=s) if init == "chain" else I.chain_feedback(FISHER_N, alpha=0.99, beta=s)
            v = I.source_input(FISHER_N, 1, scale=1.0)[:, 0]  # e_1: the source unit
        else:
            W = I.identity(FISHER_N, scale=s) if init == "identity" else I.orthogonal(FISHER_N, gain=s, generator=g)
            v = I.normal(FISHER_N, 1, generator=g)[:, 0]
            v = v / v.norm()
        ds = dynalysis.fisher_memory_curve(W.double(), v.double(), max_lag=FISHER_MAX_LAG)
        if init == "chain":  # closed form (Ganguli et al. 2008): k < N, zero beyond
            with np.errstate(divide="ignore", invalid="ignore"):
                exact = (1.0 / (k + 1) if s == 1.0 else
                         s ** (2 * k) * (s * s - 1) / (s ** (2 * (k + 1)) - 1))
            exact = np.where(k < FISHER_N, exact, 0.0)
            worst = max(worst, float(np.abs(ds.fisher_memory.values - exact).max()))
        curves.append(ds.fisher_memory.values)
        totals.append(float(ds.fisher_memory_total))
    out = xr.Dataset(
        {"fisher_memory": (("fisher_case", "lag"), np.stack(curves)),
         "fisher_memory_total": ("fisher_case", np.array(totals))},
        coords={"fisher_case": [f"{i} {s}" for i, s in FISHER_CASES], "lag": k,
                "fisher_init": ("fisher_case", [i for i, _ in FISHER_CASES]),
                "fisher_scale": ("fisher_case", [float(s) for _, s in FISHER_CASES])})
    out.fisher_memory.attrs.update(long_name=f"Fisher memory J(k) of the initial W (N = {FISHER_N}, unit noise)", units="1")
    out.fisher_memory_total.attrs.update(long_name="total Fisher memory sum_k J(k)", units="1")
    out.lag.attrs.update(long_name="lag k", units="step")
    return out, worst


def main(argv=None) -> None:
    study = Study("nonnormal_dynamics", SIZES, plan=plan, script=__file__, description=__doc__,
                  argv=argv, measured_wall_s=MEASURED_WALL_S)
    if not study.start():
        return
    runs = []
    for run in study.plan:
        ds = run_one(study, run)
        study.save_run(ds, run.name)
        study.log(run, f"loss/chance={ds.loss_over_chance.item():.3f} success={bool(ds.success.item())} "
                       f"d={ds.trained_henrici.item():.3f}")
        runs.append(ds)
    ds = xr.concat(runs, dim="run", combine_attrs="drop_conflicts")
    fisher, fisher_err = fisher_memory()
    ds = xr.merge([ds, fisher], combine_attrs="drop_conflicts")
    ds.attrs.update(paper="Orhan & Pitkow, ICLR 2020", fisher_closed_form_max_error=fisher_err,
                    fisher_n=FISHER_N, motif_k=MOTIF_K)
    study.save_results(ds)
    figures.make(study, ds)
    study.write_report(report.text(ds, study.config, study.size))


if __name__ == "__main__":
    main()
