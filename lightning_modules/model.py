"""LightningModule that trains any `dynalysis.models` network on any `dynalysis.tasks` task.

The network itself is a plain `torch.nn.Module` (``self.net``); this class adds the loss,
metrics, optimiser and the ``checkpoint["dynalysis"]`` record that lets
`dynalysis.load_checkpoint` rebuild the step map without importing Lightning.
"""
from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import torchmetrics

from dynalysis._core.options import check_option
from dynalysis.models import build_model

__all__ = ["SequenceModel", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = 1


class SequenceModel(pl.LightningModule):
    """Train a recurrent network (WCRNN, Elman, LSTM, GRU, linear) on a sequence task.

    Parameters
    ----------
    cell : str
        Network name in `dynalysis.models.MODELS` (``wcrnn``, ``elman``, ``lstm``, ``gru``, ``linear``).
    hidden_size : int
        Number of hidden units N.
    cell_options : dict, optional
        Keyword options of the cell: residual, ε, initializer, ... (see the cell's docstring).
    input_size, output_size : int
        Linked from the data module by the CLI; never set them in a config.
    target_mode : {"last", "sequence"}
        Linked from the data module: read out the last step or every step.
    loss : {"cross_entropy", "mse"}
        Linked from the data module.
    optimizer : {"adam", "rmsprop", "sgd"}
    lr : float
        Learning rate.
    weight_decay : float
    """

    def __init__(self, cell: str = "wcrnn", hidden_size: int = 64,
                 cell_options: dict | None = None, input_size: int = 1, output_size: int = 10,
                 target_mode: str = "last", loss: str = "cross_entropy",
                 optimizer: str = "adam", lr: float = 1e-3, weight_decay: float = 0.0):
        super().__init__()
        check_option("target_mode", target_mode, ("last", "sequence"))
        check_option("loss", loss, ("cross_entropy", "mse"))
        check_option("optimizer", optimizer, ("adam", "rmsprop", "sgd"))
        self.save_hyperparameters()
        self.net = build_model(cell, input_size=input_size, hidden_size=hidden_size,
                               output_size=output_size, **(cell_options or {}))
        self.classify = loss == "cross_entropy"
        self.metrics = torch.nn.ModuleDict({s: self._default_metric() for s in ("train_", "val_", "test_")})
        self.metric_name = "acc" if self.classify else "mse"

    def _default_metric(self) -> torchmetrics.Metric:
        if self.classify:
            return torchmetrics.classification.MulticlassAccuracy(self.hparams.output_size, average="micro")
        return torchmetrics.MeanSquaredError()

    def setup(self, stage: str) -> None:
        """Take the task's own metric when the data module offers one (e.g. copy-task accuracy
        on the recall steps only, where per-step accuracy over all steps says nothing)."""
        dm = getattr(self.trainer, "datamodule", None)
        make = getattr(dm, "make_metric", None)
        if make is not None:
            self.metrics = torch.nn.ModuleDict({s: make() for s in ("train_", "val_", "test_")})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``(B, O)`` (``target_mode="last"``) or ``(B, T, O)`` (``"sequence"``)."""
        y, _ = self.net(x)
        return y[:, -1] if self.hparams.target_mode == "last" else y

    def _shared_step(self, batch, stage: str) -> torch.Tensor:
        x, target = batch
        y = self(x)
        if self.classify:
            logits = y.reshape(-1, y.shape[-1])
            target = target.reshape(-1)
            loss = F.cross_entropy(logits, target)
            self.metrics[stage + "_"].update(logits, target)
        else:
            loss = F.mse_loss(y, target)
            self.metrics[stage + "_"].update(y.reshape(-1), target.reshape(-1))
        on_step = stage == "train"
        self.log(f"{stage}_loss", loss, prog_bar=True, on_step=on_step, on_epoch=True)
        self.log(f"{stage}_{self.metric_name}", self.metrics[stage + "_"], prog_bar=stage != "train",
                 on_step=False, on_epoch=True)
        chance = getattr(getattr(self.trainer, "datamodule", None), "chance_loss", None)
        if chance and stage != "train":
            self.log(f"{stage}_loss_over_chance", loss / chance, on_epoch=True)
        return loss

    def training_step(self, batch, batch_idx):
        return self._shared_step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._shared_step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._shared_step(batch, "test")

    def configure_optimizers(self):
        opt = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop,
               "sgd": torch.optim.SGD}[self.hparams.optimizer]
        return opt(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Record what `dynalysis.load_checkpoint` needs, as primitives only."""
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        task = getattr(dm, "task", None)
        checkpoint["dynalysis"] = {
            "format_version": CHECKPOINT_FORMAT,
            "model": self.net.spec(),
            "state_dict_prefix": "net.",
            "task": task.spec() if task is not None else None,
            "training": {"optimizer": self.hparams.optimizer, "lr": float(self.hparams.lr),
                         "target_mode": self.hparams.target_mode, "loss": self.hparams.loss},
        }
