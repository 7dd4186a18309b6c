"""LightningModule that trains any `dynalysis.models` network on any `dynalysis.tasks` task.

The network itself is a plain `torch.nn.Module` (``self.net``); this class adds the loss,
metrics, optimiser and the ``checkpoint["dynalysis"]`` record (`dynalysis.io.record`) that lets
`dynalysis.load_checkpoint` rebuild the step map without importing Lightning.
"""
from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from dynalysis.errors import OptionError
from dynalysis.io.record import make_checkpoint_record
from dynalysis.models import build_model

from .callbacks import TrainingLossTerm

__all__ = ["SequenceModel", "OPTIMIZERS"]

OPTIMIZERS = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD}
_CHOICES = {"target_mode": ("last", "sequence"), "loss": ("cross_entropy", "mse"),
            "optimizer": tuple(OPTIMIZERS)}


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

    Notes
    -----
    The Lightning CLI's own ``--optimizer CLASS --optimizer.lr X`` replaces this class's
    optimiser; the checkpoint record then names the optimiser that actually ran (it is read
    from the trainer, not from these arguments).
    """

    def __init__(self, cell: str = "wcrnn", hidden_size: int = 64,
                 cell_options: dict | None = None, input_size: int = 1, output_size: int = 10,
                 target_mode: str = "last", loss: str = "cross_entropy",
                 optimizer: str = "adam", lr: float = 1e-3, weight_decay: float = 0.0):
        super().__init__()
        for name, value in (("target_mode", target_mode), ("loss", loss), ("optimizer", optimizer)):
            if value not in _CHOICES[name]:
                raise OptionError(f"invalid {name}={value!r}; allowed values: "
                                  f"{', '.join(map(repr, _CHOICES[name]))}")
        self.save_hyperparameters()
        self.net = build_model(cell, input_size=input_size, hidden_size=hidden_size,
                               output_size=output_size, **(cell_options or {}))
        self.classify = loss == "cross_entropy"
        self.metrics = torch.nn.ModuleDict()  # the task's, from the data module (setup)
        self.metric_name = "acc" if self.classify else "mse"

    def setup(self, stage: str) -> None:
        """Take the task's metric from the data module (e.g. copy-task accuracy on the recall
        steps only, where per-step accuracy over all steps says nothing); without a data
        module only the loss is logged."""
        make = getattr(getattr(self.trainer, "datamodule", None), "make_metric", None)
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
            y, target = y.reshape(-1, y.shape[-1]), target.reshape(-1)
            loss = F.cross_entropy(y, target)
        else:
            loss = F.mse_loss(y, target)
            y, target = y.reshape(-1), target.reshape(-1)
        on_step = stage == "train"
        self.log(f"{stage}_loss", loss, prog_bar=True, on_step=on_step, on_epoch=True)
        if stage + "_" in self.metrics:
            metric = self.metrics[stage + "_"]
            metric.update(y, target)
            self.log(f"{stage}_{self.metric_name}", metric, prog_bar=stage != "train",
                     on_step=False, on_epoch=True)
        chance = getattr(getattr(self.trainer, "datamodule", None), "chance_loss", None)
        if chance and stage != "train":
            self.log(f"{stage}_loss_over_chance", loss / chance, on_epoch=True)
        return loss

    def training_step(self, batch, batch_idx):
        """The task loss plus the terms of `TrainingLossTerm` callbacks (gradient flossing)."""
        loss = self._shared_step(batch, "train")
        for callback in self.trainer.callbacks if self._trainer is not None else ():
            if isinstance(callback, TrainingLossTerm):
                term = callback.loss_term(self.trainer, self, batch, batch_idx)
                loss = loss if term is None else loss + term
        return loss

    def validation_step(self, batch, batch_idx):
        self._shared_step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._shared_step(batch, "test")

    def configure_optimizers(self):
        opt = OPTIMIZERS[self.hparams.optimizer]
        return opt(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)

    def _optimizer_used(self) -> dict:
        """The optimiser that ran: its class and initial learning rate, read from the trainer
        (the Lightning CLI's ``--optimizer`` replaces `configure_optimizers`), else the
        arguments of this module when it has not been trained."""
        optimizers = self.trainer.optimizers if self._trainer is not None else []
        if not optimizers:
            return {"optimizer": self.hparams.optimizer, "lr": float(self.hparams.lr),
                    "weight_decay": float(self.hparams.weight_decay)}
        opt = optimizers[0]
        group = opt.param_groups[0]
        return {"optimizer": type(opt).__name__.lower(),
                "lr": float(group.get("initial_lr", group["lr"])),  # schedulers keep the start in initial_lr
                "weight_decay": float(group.get("weight_decay", 0.0))}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Record what `dynalysis.load_checkpoint` needs, as primitives only."""
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        task = getattr(dm, "task", None)
        checkpoint["dynalysis"] = make_checkpoint_record(
            model=self.net.spec(), task=task.spec() if task is not None else None,
            training={**self._optimizer_used(), "target_mode": self.hparams.target_mode,
                      "loss": self.hparams.loss})
