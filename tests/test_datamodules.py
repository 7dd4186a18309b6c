"""DataModules: documented batch shapes, every model trains on every task, the shipped configs
parse and run, and a checkpoint carries what the analyses need to re-create the task's inputs."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import torchmetrics
import yaml

import dynalysis
from dynalysis.models import MODELS
from dynalysis.tasks import MNIST_FILES, build_task, write_idx
from lightning_modules import SequenceModel
from lightning_modules import data
from lightning_modules.cli import cli_main
from lightning_modules.data import (AddingDataModule, CopyDataModule, DelayedRecallDataModule,
                                    DigitsDataModule, FlipFlopDataModule, LinearTeacherDataModule,
                                    MNISTDataModule, TomitaDataModule)

CONFIGS = sorted([*(Path(__file__).parents[1] / "configs").glob("task_*.yaml"),
                  *(Path(__file__).parents[1] / "configs").glob("flipflop_*.yaml")])
OPTIONAL = {"neurogym": "NeurogymDataModule"}  # optional extras: tests/test_neurogym.py
SIZES = dict(n_train=8, n_val=4, n_test=4)


def _tiny_mnist(folder: Path) -> str:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for part, n in (("train", 20), ("t10k", 6)):
        write_idx(folder / MNIST_FILES[part][0], rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / MNIST_FILES[part][1], rng.integers(0, 10, n, dtype=np.uint8))
    return str(folder)


# name -> (factory(tmp_path), documented input shape (T, d), targets shape after B, dtype)
MODULES = {
    "copy": (lambda p: CopyDataModule(seq_len=24, batch_size=4, **SIZES), (24, 10), (24,),
             torch.int64),
    "adding": (lambda p: AddingDataModule(seq_len=10, batch_size=4, **SIZES), (10, 2), (1,),
               torch.float32),
    "digits": (lambda p: DigitsDataModule(order="row", batch_size=4), (8, 8), (), torch.int64),
    "mnist": (lambda p: MNISTDataModule(root=_tiny_mnist(p), permute=True, batch_size=4),
              (784, 1), (), torch.int64),
    "tomita": (lambda p: TomitaDataModule(grammar=5, max_len=6, test_min_len=7, test_max_len=8,
                                          batch_size=4, **SIZES), (6, 3), (), torch.int64),
    "delayed_recall": (lambda p: DelayedRecallDataModule(seq_len=9, lags=[1, 3], batch_size=4,
                                                         **SIZES), (9, 1), (9, 2), torch.float32),
    "linear_teacher": (lambda p: LinearTeacherDataModule(seq_len=9, kernel="single_lag", lag=2,
                                                         batch_size=4, **SIZES),
                       (9, 1), (9, 1), torch.float32),
    "flipflop": (lambda p: FlipFlopDataModule(n_bits=3, seq_len=9, batch_size=4, **SIZES),
                 (9, 3), (9, 3), torch.float32),
}


@pytest.fixture(params=sorted(MODULES))
def module(request, tmp_path):
    factory, shape, target_shape, dtype = MODULES[request.param]
    return request.param, factory(tmp_path), shape, target_shape, dtype


def test_every_task_has_a_datamodule_and_a_config():
    from dynalysis.tasks import TASKS

    assert set(MODULES) == set(TASKS) - set(OPTIONAL)
    classes = set(data.__all__) - {"TaskDataModule", "GeneratedDataModule", *OPTIONAL.values()}
    assert {getattr(data, c)().task.name if c != "MNISTDataModule" else "mnist"
            for c in classes} == set(TASKS) - set(OPTIONAL)
    used = {yaml.safe_load(p.read_text())["data"]["class_path"].rsplit(".", 1)[1] for p in CONFIGS}
    assert used == classes


def test_batches_have_the_documented_shapes_and_dtypes(module):
    name, dm, (T, d), target_shape, dtype = module
    test_T = 8 if name == "tomita" else T  # Tomita's test strings are longer (test_max_len)
    for loader, steps in ((dm.train_dataloader(), T), (dm.val_dataloader(), T),
                          (dm.test_dataloader(), test_T)):
        x, y = next(iter(loader))
        B = len(x)
        assert 1 <= B <= 4
        assert x.dtype == torch.float32 and tuple(x.shape) == (B, steps, d) and d == dm.input_size
        y_shape = tuple(s if s != T else steps for s in target_shape)
        assert tuple(y.shape) == (B, *y_shape) and y.dtype == dtype
    assert dm.success_loss == pytest.approx(0.5 * dm.chance_loss) and dm.chance_loss > 0
    assert dm.chance_loss == dm.task.chance_loss


def test_train_loader_shuffles_reproducibly(module):
    dm = module[1]
    first = [x for x, _ in dm.train_dataloader()]
    again = [x for x, _ in dm.train_dataloader()]
    assert all(torch.equal(a, b) for a, b in zip(first, again))


@pytest.mark.parametrize("cell", sorted(MODELS))
def test_every_model_in_the_zoo_fits_every_task(module, cell):
    """Outputs line up with the targets and the loss back-propagates, for each cell."""
    dm = module[1]
    model = SequenceModel(cell=cell, hidden_size=4, input_size=dm.input_size,
                          output_size=dm.output_size, target_mode=dm.target_mode, loss=dm.loss)
    x, y = next(iter(dm.train_dataloader()))
    out = model(x)
    if dm.loss == "cross_entropy":
        assert out.shape == (*y.shape, dm.output_size)
        loss = F.cross_entropy(out.reshape(-1, dm.output_size), y.reshape(-1))
    else:
        assert out.shape == y.shape
        loss = F.mse_loss(out, y)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_fit_then_checkpoint_recreates_the_training_inputs_for_analysis(module, tmp_path):
    name, dm = module[:2]
    torch.manual_seed(0)
    model = SequenceModel(cell="wcrnn", hidden_size=4, input_size=dm.input_size,
                          output_size=dm.output_size, target_mode=dm.target_mode, loss=dm.loss)
    trainer = pl.Trainer(max_steps=2, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         limit_train_batches=2, limit_val_batches=1, default_root_dir=tmp_path)
    trainer.fit(model, dm)
    assert math.isfinite(trainer.callback_metrics["val_loss"].item())
    assert "val_loss_over_chance" in trainer.callback_metrics
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    system = dynalysis.load_checkpoint(tmp_path / "m.ckpt")
    spec = dict(system.metadata["task"])
    task = build_task(spec.pop("name"), **spec)
    inputs = task.split("train").inputs
    assert torch.equal(inputs, dm.task.split("train").inputs)
    steps = min(inputs.shape[1], 12)
    ds = dynalysis.lyapunov_spectrum(system, inputs[:2, :steps], transient=2, n_exponents=2)
    assert ds["exponent"].shape == (2,) and np.isfinite(ds["exponent"].values).all()


def test_copy_metric_scores_the_recall_steps_only():
    dm = CopyDataModule(seq_len=24, **SIZES)
    _, y = dm.task.split("train")
    metric = dm.make_metric()
    wrong_blanks = torch.where(y == 0, torch.ones_like(y), y)  # every blank step predicted wrong
    assert metric(wrong_blanks.reshape(-1), y.reshape(-1)).item() == 1.0
    metric = dm.make_metric()
    wrong_recall = torch.where(y == 0, y, torch.zeros_like(y))
    assert metric(wrong_recall.reshape(-1), y.reshape(-1)).item() == 0.0
    assert isinstance(AddingDataModule(**SIZES).make_metric(), torchmetrics.MeanSquaredError)
    assert isinstance(TomitaDataModule(**SIZES).make_metric(),
                      torchmetrics.classification.MulticlassAccuracy)


def test_mnist_datamodule_without_files_fails_with_the_expected_names(tmp_path):
    dm = MNISTDataModule(root=str(tmp_path))
    with pytest.raises(dynalysis.DynalysisError, match="train-images-idx3-ubyte"):
        dm.train_dataloader()


# --- the shipped configs ----------------------------------------------------------------------
TINY_OVERRIDES = {"seq_len": "24", "n_train": "8", "n_val": "4", "n_test": "4", "max_len": "6",
                  "test_min_len": "7", "test_max_len": "8", "lags": "[1, 2]", "lag": "3",
                  "kernel_length": "4", "batch_size": "4"}


@pytest.mark.parametrize("config", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_config_parses_and_runs_one_step(config, tmp_path):
    data_args = yaml.safe_load(config.read_text())["data"]["init_args"]
    args = ["fit", "--config", str(config), "--trainer.fast_dev_run", "1",
            "--trainer.default_root_dir", str(tmp_path), "--trainer.accelerator", "cpu",
            "--model.init_args.hidden_size", "4"]
    for key in data_args:
        if key in TINY_OVERRIDES:
            args += [f"--data.init_args.{key}", TINY_OVERRIDES[key]]
    if "root" in data_args:
        args += ["--data.init_args.root", _tiny_mnist(tmp_path / "mnist")]
    cli = cli_main(args)
    assert cli.model.hparams.input_size == cli.datamodule.input_size
    assert cli.model.hparams.loss == cli.datamodule.loss
    assert math.isfinite(cli.trainer.callback_metrics["train_loss_step"].item())
