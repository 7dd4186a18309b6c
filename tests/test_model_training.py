"""Every cell trains through Lightning on CPU, and its checkpoint loads back as the same step map;
every shipped model config builds and trains."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

pl = pytest.importorskip("pytorch_lightning")
import lightning_modules as lm  # noqa: E402

import dynalysis  # noqa: E402
from dynalysis.models import build_model  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
MODEL_CONFIGS = sorted(p for cell in ("wcrnn", "elman", "lstm", "gru", "linear")
                       for p in CONFIGS.glob(f"{cell}_*.yaml"))

CELLS = [
    ("wcrnn", {"residual": "heterogeneous", "memory_time_range": [2.0, 10.0]}),
    ("elman", {"nonlinearity": "elu", "init": "chain", "input_init": "source"}),
    ("lstm", {"init": "mixed"}),
    ("gru", {"init": "eigen"}),
    ("linear", {"s_A": 0.8, "direct": True}),
]


def small_trainer(**kw):
    return pl.Trainer(max_steps=3, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False,
                      num_sanity_val_steps=0, limit_val_batches=0, accelerator="cpu", **kw)


@pytest.fixture(scope="module")
def digits():
    return lm.TaskDataModule("digits", {"order": "row"}, batch_size=16)


@pytest.mark.parametrize("cell,options", CELLS, ids=[c for c, _ in CELLS])
def test_cell_trains_and_checkpoint_loads_as_step_map(cell, options, digits, tmp_path):
    model = lm.SequenceModel(cell=cell, hidden_size=8, cell_options={**options, "seed": 0},
                             input_size=digits.input_size, output_size=digits.output_size)
    initial = {k: v.clone() for k, v in model.net.state_dict().items()}
    trainer = small_trainer()
    trainer.fit(model, datamodule=digits)
    assert trainer.global_step == 3
    changed = [k for k, v in model.net.state_dict().items() if not torch.equal(v, initial[k])]
    assert changed, "three optimiser steps left every weight unchanged"

    path = tmp_path / f"{cell}.ckpt"
    trainer.save_checkpoint(path)
    system = dynalysis.load_checkpoint(path)
    assert system.metadata["model"]["cell"] == cell
    assert system.state_size == model.net.state_size and system.input_size == digits.input_size
    g = torch.Generator().manual_seed(0)
    h = torch.randn(4, system.state_size, generator=g)
    x = torch.randn(4, digits.input_size, generator=g)
    net = model.net.eval()
    torch.testing.assert_close(system.step(h, x), net.step(h, x), rtol=0, atol=0)
    torch.testing.assert_close(system.readout(h), net.readout(h), rtol=0, atol=0)
    # the rebuilt net also reproduces the trained net's training path (the fused kernels may
    # take another code path on the fresh module: float32 rounding only)
    xs = torch.randn(2, 5, digits.input_size, generator=g)
    torch.testing.assert_close(system.net(xs)[0], net(xs)[0], rtol=1e-5, atol=1e-6)


def test_every_cell_has_a_shipped_config():
    cells = {p.name.split("_")[0] for p in MODEL_CONFIGS}
    assert cells == {"wcrnn", "elman", "lstm", "gru", "linear"}


@pytest.mark.parametrize("path", MODEL_CONFIGS, ids=[p.name for p in MODEL_CONFIGS])
def test_model_config_builds_and_trains(path):
    from lightning_modules.cli import cli_main

    cli = cli_main(["--config", str(path), "--trainer.logger", "false"], run=False)
    net = cli.model.net
    assert net.cell_name == path.name.split("_")[0]
    assert build_model(**net.spec()).spec() == net.spec()  # checkpoint record round-trips
    trainer = small_trainer(max_epochs=1)
    trainer.fit(cli.model, datamodule=cli.datamodule)
    assert trainer.global_step == 3
    assert torch.isfinite(trainer.callback_metrics["train_loss"])
