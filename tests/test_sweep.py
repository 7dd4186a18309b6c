"""Scale-out: many checkpoints on Dask workers, `open_sweep`, and training grids (`cli.py sweep`)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import dynalysis
from dynalysis.pipeline.batch import Outcome, _Report, _run_on_dask, local_cluster
from lightning_modules.commands import main

ROOT = Path(__file__).resolve().parents[1]
FAST = dict(analyses="lyapunov", steps=300, transient=50, n_trajectories=2)


def _variant(tiny: Path, dst: Path, *, scale: float, seed: int) -> Path:
    """The tiny trained WCRNN with its residual set to ``scale``·I and its cell seed relabelled."""
    ckpt = torch.load(tiny, map_location="cpu", weights_only=True)
    ckpt["dynalysis"]["model"].update(residual="identity", frequencies=None, residual_scale=scale, seed=seed)
    ckpt["state_dict"]["net.R"] = scale * torch.eye(8)
    ckpt["state_dict"]["net.W"] = ckpt["state_dict"]["net.W"] * (1 + 0.1 * seed)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, dst)
    return dst


def _untrained(tiny: Path, dst: Path, hidden_size: int) -> Path:
    """A checkpoint in the format `SequenceModel` writes, of a network of another size."""
    ref = torch.load(tiny, map_location="cpu", weights_only=True)
    spec = {**ref["dynalysis"]["model"], "hidden_size": hidden_size, "seed": 7}
    net = dynalysis.models.build_model(**spec)
    record = {**ref["dynalysis"], "model": net.spec()}
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": 0, "global_step": 0, "dynalysis": record,
                "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()}}, dst)
    return dst


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes, shared by this module's tests (``--scheduler``)."""
    with local_cluster(2) as c:
        yield c.scheduler_address


@pytest.fixture(scope="module")
def grid(tmp_path_factory, tiny_checkpoint) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    for scale in (0.9, 1.1):
        for seed in (0, 1):
            _variant(tiny_checkpoint, runs / f"lam{scale}_s{seed}" / "checkpoints" / "last.ckpt", scale=scale, seed=seed)
    return runs


def test_two_dask_workers_match_the_in_process_run_and_open_as_a_sweep(grid, cluster, tmp_path, capsys):
    pattern = str(grid / "**" / "*.ckpt")
    serial = dynalysis.analyze_checkpoints(pattern, tmp_path / "serial", workers=0, **FAST)
    lines = []
    parallel = dynalysis.analyze_checkpoints(pattern, tmp_path / "dask", scheduler=cluster, progress=lines.append, **FAST)
    assert [o.status for o in serial] == [o.status for o in parallel] == ["done"] * 4
    assert any(f"on the Dask cluster at {cluster}" in ln for ln in lines) and any("[4/4] done" in ln for ln in lines)
    assert capsys.readouterr().out == ""  # the library prints nothing of its own
    names = sorted(p.relative_to(tmp_path / "dask").as_posix() for p in (tmp_path / "dask").rglob("*.nc"))
    assert names == sorted(f"lam{s}_s{k}/checkpoints/last.nc" for s in (0.9, 1.1) for k in (0, 1))
    for o in parallel:  # the same numbers, whichever process computed them
        serial_file = tmp_path / "serial" / Path(o.out).relative_to(tmp_path / "dask")
        a = dynalysis.open_results(o.out, group="lyapunov")
        b = dynalysis.open_results(serial_file, group="lyapunov")
        np.testing.assert_array_equal(a.exponent_per_trajectory.values, b.exponent_per_trajectory.values)

    sweep = dynalysis.open_sweep(str(tmp_path / "dask" / "**" / "*.nc"))
    assert sweep.sizes["checkpoint"] == 4 and sweep.exponent.chunks is not None  # lazy (dask)
    assert sorted(sweep["lambda"].values.tolist()) == [0.9, 0.9, 1.1, 1.1]
    np.testing.assert_array_equal(sweep["lambda"].values, sweep.residual_scale.values)
    assert set(sweep.seed.values.tolist()) == {0, 1} and set(sweep.hidden_size.values.tolist()) == {8}
    assert set(sweep.task.values.tolist()) == {"digits"} and "lr" in sweep.coords and "epoch" in sweep.coords
    lead = sweep.exponent.sel(exponent_index=0).groupby("lambda").mean().compute()
    for lam in (0.9, 1.1):
        files = [o.out for o in parallel if f"lam{lam}_" in o.out]
        by_hand = np.mean([float(dynalysis.open_results(f, group="lyapunov").exponent[0]) for f in files])
        assert float(lead.sel({"lambda": lam})) == pytest.approx(by_hand, rel=1e-12)
    # residual λI plus a weak (ε = 0.1) tanh coupling: the leading exponent sits near ln λ
    assert float(lead.sel({"lambda": 1.1})) > float(lead.sel({"lambda": 0.9}))
    for lam in (0.9, 1.1):
        assert abs(float(lead.sel({"lambda": lam})) - np.log(lam)) < 0.2

    again = dynalysis.analyze_checkpoints(pattern, tmp_path / "dask", scheduler=cluster, progress=False, **FAST)
    assert [o.status for o in again] == ["skipped"] * 4


def test_open_sweep_pads_networks_of_other_sizes(grid, tiny_checkpoint, tmp_path):
    small = _untrained(tiny_checkpoint, tmp_path / "small" / "model.ckpt", hidden_size=6)
    files = [dynalysis.analyze_checkpoint(c, tmp_path / f"{i}.nc", **FAST)
             for i, c in enumerate([small, grid / "lam0.9_s0" / "checkpoints" / "last.ckpt"])]
    sweep = dynalysis.open_sweep(files)
    assert sweep.hidden_size.values.tolist() == [6, 8] and sweep.sizes["exponent_index"] == 8
    assert np.isnan(sweep.exponent.values[0, 6:]).all() and np.isfinite(sweep.exponent.values[1]).all()
    assert sweep.checkpoint.values.tolist() == [str(small.resolve()), str((grid / "lam0.9_s0" / "checkpoints" / "last.ckpt").resolve())]
    jac = dynalysis.open_sweep(files[1:], group=None)  # the root group: provenance only
    assert jac.sizes["checkpoint"] == 1


def test_a_crashing_worker_costs_one_checkpoint_not_the_sweep(cluster):
    def task(ck, out):
        if ck == "segfaults":
            os._exit(139)  # what a crash inside a native library looks like to Dask
        return Outcome(ck, out, "done")

    report = _Report(3, None)
    _run_on_dask(task, [("a", "a.nc"), ("segfaults", "b.nc"), ("c", "c.nc")], 0, cluster, report)
    status = {o.checkpoint: (o.status, o.message) for o in report.outcomes}
    assert status["a"] == ("done", "") and status["c"] == ("done", "")
    assert status["segfaults"][0] == "failed" and "worker lost" in status["segfaults"][1]


# ---------------------------------------------------------------- training grids


def test_sweep_command_plans_checks_and_prints_one_command_per_run(tmp_path, capsys):
    base = ROOT / "configs" / "wcrnn_digits.yaml"
    argv = ["sweep", "--config", str(base), "--grid", "model.init_args.cell_options.residual_scale=0.9,1.1",
            "--grid", "model.init_args.hidden_size=4", "--seeds", "0,1", "--out", str(tmp_path / "sweep")]
    assert main([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run: 4 configs checked, nothing written" in out and not (tmp_path / "sweep").exists()

    assert main([*argv, "--print-commands"]) == 0
    commands = capsys.readouterr().out.strip().splitlines()
    names = sorted(p.name for p in (tmp_path / "sweep").iterdir())
    assert names == sorted(f"residual_scale={s}_seed={k}" for s in (0.9, 1.1) for k in (0, 1))
    assert len(commands) == 4 and all(" -m lightning_modules fit --config " in c and c.endswith("--ckpt_path last")
                                      for c in commands)
    config = yaml.safe_load((tmp_path / "sweep" / "residual_scale=1.1_seed=1" / "config.yaml").read_text())
    assert config["seed_everything"] == 1 and config["model"]["init_args"]["hidden_size"] == 4
    given = yaml.safe_load(base.read_text())
    assert config["model"]["init_args"]["cell_options"] == {**given["model"]["init_args"]["cell_options"],
                                                             "residual_scale": 1.1, "seed": 1}
    assert config["data"]["init_args"]["shuffle_seed"] == 1 and config["data"]["init_args"]["seed"] == 0
    assert config["trainer"]["default_root_dir"] == str((tmp_path / "sweep" / names[-1]).resolve())
    assert config["trainer"]["max_epochs"] == given["trainer"]["max_epochs"]  # the rest is kept
    assert main([*argv, "--print-commands"]) == 0  # the same plan again: the folders are reused
    capsys.readouterr()


@pytest.mark.parametrize("argv, message", [
    (["--grid", "model.init_args.not_an_option=1,2"], "run not_an_option=1: invalid config"),
    (["--grid", "model.init_args.hidden_size"], "invalid --grid 'model.init_args.hidden_size'"),
    (["--grid", "trainer.max_epochs=1,"], "empty value"),
    (["--seeds", "0,x"], "invalid --seeds '0,x'"),
])
def test_sweep_command_rejects_bad_grids_in_one_line(tmp_path, capsys, argv, message):
    status = main(["sweep", "--config", str(ROOT / "configs" / "wcrnn_digits.yaml"), "--out",
                   str(tmp_path / "s"), "--dry-run", *argv])
    err = capsys.readouterr().err.strip()
    assert status == 2 and message in err and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.slow
def test_train_a_grid_then_analyse_it_on_two_workers(tmp_path):
    """The whole path with real processes: sweep → checkpoints → analyze --workers 2 → open_sweep."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}

    def cli(*args):
        res = subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], cwd=tmp_path,
                             capture_output=True, text=True, env=env, timeout=600)
        assert res.returncode == 0, res.stdout + res.stderr
        return res.stdout

    tiny = ["--grid", "model.init_args.hidden_size=4", "--grid", "trainer.max_epochs=1",
            "--grid", "trainer.limit_train_batches=2", "--grid", "trainer.limit_val_batches=1",
            "--grid", "trainer.enable_progress_bar=false", "--grid", "data.init_args.order=row"]
    out = cli("sweep", "--config", ROOT / "configs" / "wcrnn_digits.yaml", "--out", "sweep",
              "--grid", "model.init_args.cell_options.residual_scale=0.9,1.1", *tiny)
    assert "2 done, 0 skipped" in out
    assert "0 done, 2 skipped (finished earlier)" in cli("sweep", "--config", ROOT / "configs" / "wcrnn_digits.yaml",
                                                        "--out", "sweep", "--grid",
                                                        "model.init_args.cell_options.residual_scale=0.9,1.1", *tiny)
    out = cli("analyze", "sweep/**/*.ckpt", "--out-dir", "results", "--workers", "2", "--analyses", "lyapunov",
              "--steps", "200", "--transient", "20", "--n-trajectories", "2")
    assert "2 done, 0 skipped (already complete), 0 failed" in out
    sweep = dynalysis.open_sweep(tmp_path / "results")
    assert sorted(sweep["lambda"].values.tolist()) == [0.9, 1.1]
    assert set(sweep.seed_everything.values.tolist()) == {0} and set(sweep.hidden_size.values.tolist()) == {4}
    lead = sweep.exponent.sel(exponent_index=0).groupby("lambda").mean().compute()
    assert float(lead.sel({"lambda": 1.1})) > float(lead.sel({"lambda": 0.9}))


# ---------------------------------------------------------------- training config mistakes


@pytest.mark.parametrize("grid, message", [
    ("model.init_args.cell_options.residual_scale=0.9,1.O", "run residual_scale=1.O: invalid config (ValueError: "
     "could not convert string to float: '1.O')"),
    ("model.init_args.cell_options.residual_sclae=0.9", "unknown option 'residual_sclae' for cell 'wcrnn' (did you mean 'residual_scale'?)"),
])
def test_dry_run_rejects_what_fit_would_reject(tmp_path, grid, message):
    """`fit` builds the model; so does --dry-run (issue 14: both typos used to pass it)."""
    res = subprocess.run([sys.executable, str(ROOT / "cli.py"), "sweep", "--config", str(ROOT / "configs" / "wcrnn_digits.yaml"),
                          "--out", "s", "--dry-run", "--grid", grid], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"}, timeout=600)
    err = res.stderr.strip()
    assert res.returncode == 2 and message in err and len(err.splitlines()) == 1, res.stdout + err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_the_record_names_the_optimizer_that_ran(tmp_path, tiny_checkpoint):
    """LightningCLI's --optimizer replaces configure_optimizers: the record must follow it."""
    from lightning_modules.cli import cli_main

    cli_main(["fit", "--config", str(ROOT / "configs" / "wcrnn_digits.yaml"), "--trainer.default_root_dir",
              str(tmp_path / "run"), "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
              "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false",
              "--trainer.enable_model_summary", "false", "--model.init_args.hidden_size", "4",
              "--data.init_args.order", "row", "--optimizer", "SGD", "--optimizer.lr", "0.5"])
    (ck,) = (tmp_path / "run").rglob("*.ckpt")
    saved = torch.load(ck, weights_only=True)
    ran = saved["optimizer_states"][0]["param_groups"][0]
    assert ran["lr"] == 0.5 and "momentum" in ran  # SGD's own state: what actually trained
    assert saved["dynalysis"]["training"]["optimizer"] == "sgd" and saved["dynalysis"]["training"]["lr"] == 0.5
    files = [dynalysis.analyze_checkpoint(c, tmp_path / f"{i}.nc", **FAST) for i, c in enumerate([ck, tiny_checkpoint])]
    sweep = dynalysis.open_sweep(files)
    assert sweep.optimizer.values.tolist() == ["sgd", "adam"] and sweep.lr.values.tolist() == [0.5, 0.003]
