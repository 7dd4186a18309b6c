"""The CTRNN, LRU and selective SSM train through Lightning and from their shipped configs, and
their checkpoints load back as the same step maps (through Python and the real CLI)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pl = pytest.importorskip("pytorch_lightning")
import lightning_modules as lm  # noqa: E402

import dynalysis  # noqa: E402
from dynalysis.models import build_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CELLS = {"ctrnn": {"gain": 1.5, "dt": 0.5}, "lru": {"r_min": 0.5}, "ssm": {"d_state": 2}}
CONFIGS = sorted(p for cell in CELLS for p in (ROOT / "configs").glob(f"{cell}_*.yaml"))


def small_trainer():
    return pl.Trainer(max_steps=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
                      accelerator="cpu")


@pytest.fixture(scope="module")
def digits():
    return lm.TaskDataModule("digits", {"order": "row"}, batch_size=16)


def _fit_and_save(cell, digits, path):
    model = lm.SequenceModel(cell=cell, hidden_size=6, cell_options={**CELLS[cell], "seed": 0},
                             input_size=digits.input_size, output_size=digits.output_size)
    initial = {k: v.clone() for k, v in model.net.state_dict().items()}
    trainer = small_trainer()
    trainer.fit(model, datamodule=digits)
    assert trainer.global_step == 3
    unchanged = [k for k, v in model.net.state_dict().items() if torch.equal(v, initial[k])]
    assert not unchanged, f"three optimiser steps left {unchanged} unchanged"
    trainer.save_checkpoint(path)
    return model.net.eval()


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_cell_trains_and_checkpoint_loads_as_step_map(cell, digits, tmp_path):
    net = _fit_and_save(cell, digits, tmp_path / f"{cell}.ckpt")
    system = dynalysis.load_checkpoint(tmp_path / f"{cell}.ckpt")
    assert system.metadata["model"] == net.spec()
    assert system.state_size == net.state_size and system.input_size == digits.input_size
    g = torch.Generator().manual_seed(0)
    h = torch.randn(4, system.state_size, generator=g)
    x = torch.randn(4, digits.input_size, generator=g)
    torch.testing.assert_close(system.step(h, x), net.step(h, x), rtol=0, atol=0)
    torch.testing.assert_close(system.readout(h), net.readout(h), rtol=0, atol=0)
    torch.testing.assert_close(system.recurrent_matrix(), net.recurrent_matrix(), rtol=0, atol=0)
    xs = torch.randn(2, 5, digits.input_size, generator=g)
    torch.testing.assert_close(system.net(xs)[0], net(xs)[0], rtol=1e-5, atol=1e-6)


def test_ctrnn_checkpoint_reports_rates_per_unit_time(digits, tmp_path):
    _fit_and_save("ctrnn", digits, tmp_path / "ctrnn.ckpt")
    system = dynalysis.load_checkpoint(tmp_path / "ctrnn.ckpt")
    ds = dynalysis.lyapunov_spectrum(system, torch.zeros(1, 200, digits.input_size), n_exponents=2)
    assert ds.exponent.attrs["units"] == "1/time" and ds.attrs["time_step"] == 0.5


def test_every_new_cell_has_a_shipped_config():
    assert {p.name.split("_")[0] for p in CONFIGS} == set(CELLS)


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_builds_and_round_trips(path):
    from lightning_modules.cli import cli_main

    cli = cli_main(["--config", str(path), "--trainer.logger", "false"], run=False)
    net = cli.model.net
    assert net.cell_name == path.name.split("_")[0]
    assert build_model(**net.spec()).spec() == net.spec()
    x, _ = next(iter(cli.datamodule.train_dataloader()))
    y, _ = net(x[:2])
    assert torch.isfinite(y).all()


@pytest.mark.slow
def test_cli_fit_then_analyze_an_lru_reports_its_exact_spectrum(tmp_path):
    """`cli.py fit` on the shipped LRU config (two steps), `cli.py analyze` its checkpoint: the
    exponents in the results file are ln|λ_j| of the trained weights, each twice."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}

    def cli(*args):
        res = subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], cwd=tmp_path,
                             capture_output=True, text=True, env=env, timeout=600)
        assert res.returncode == 0, res.stdout + res.stderr
        return res

    cli("fit", "--config", ROOT / "configs" / "lru_delayed_recall.yaml", "--trainer.max_steps", "2",
        "--trainer.default_root_dir", "run", "--trainer.enable_progress_bar", "false",
        "--trainer.logger", "false", "--model.init_args.hidden_size", "4",
        "--data.init_args.n_train", "64", "--data.init_args.n_val", "32")
    (ckpt,) = (tmp_path / "run").rglob("*.ckpt")
    cli("analyze", ckpt, "--out", "r.nc", "--analyses", "lyapunov", "--steps", "400", "--transient", "300")
    ds = dynalysis.open_results(tmp_path / "r.nc", group="lyapunov")
    net = dynalysis.load_checkpoint(ckpt).net
    expected = np.sort(np.repeat(-np.exp(net.nu_log.detach().double().numpy()), 2))[::-1]
    np.testing.assert_allclose(ds.exponent.values, expected, rtol=0, atol=1e-6)
    assert ds.exponent.attrs["units"] == "1/step"
