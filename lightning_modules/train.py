"""Train one network from Python: what studies and sweeps call instead of hand-built Trainers.

The command line (``python cli.py fit --config ...``) and `train_run` build the same
`SequenceModel` and `TaskDataModule`, with the data module's sizes linked into the model.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytorch_lightning as pl

from .data import TaskDataModule
from .model import SequenceModel

__all__ = ["RunResult", "train_run"]


@dataclass
class RunResult:
    """Outcome of `train_run`.

    Attributes
    ----------
    checkpoint : Path
        The last checkpoint (loads with `dynalysis.load_checkpoint`).
    metrics : dict
        Final ``val_*`` (and ``test_*`` when ``test=True``) metrics as floats, e.g. ``val_loss``,
        ``val_acc``/``val_mse``, ``val_loss_over_chance``.
    chance_loss : float
        The task's chance-level loss (success criterion: ``val_loss < chance_loss / 2``).
    model : SequenceModel
        The trained module.
    """

    checkpoint: Path
    metrics: dict
    chance_loss: float
    model: SequenceModel = field(repr=False)

    @property
    def success(self) -> bool:
        """Orhan & Pitkow's criterion: validation loss below 50 % of chance."""
        return self.metrics["val_loss"] < 0.5 * self.chance_loss


def train_run(*, cell: str, task: str, root_dir, hidden_size: int = 32,
              cell_options: dict | None = None, task_options: dict | None = None,
              max_epochs: int = 5, max_steps: int = -1, batch_size: int = 64,
              optimizer: str = "adam", lr: float = 1e-3, gradient_clip_val: float | None = None,
              seed: int = 0, test: bool = False, callbacks: list | None = None,
              progress: bool = False) -> RunResult:
    """Fit a `SequenceModel` on a registered task and return its checkpoint and metrics.

    Parameters
    ----------
    cell, hidden_size, cell_options
        The network (see `dynalysis.models.build_model`).
    task, task_options
        The task (see `dynalysis.tasks.build_task`).
    root_dir : path-like
        Run folder: ``root_dir/checkpoints/last.ckpt`` and ``root_dir/metrics.csv``.
    max_epochs, max_steps, batch_size, optimizer, lr, gradient_clip_val
        Training settings.
    seed : int
        `pytorch_lightning.seed_everything` seed (weights unless ``cell_options["seed"]`` is
        given, and batch order).
    test : bool
        Also evaluate the test split.
    callbacks : list, optional
        Extra Lightning callbacks.
    progress : bool
        Show Lightning's progress bar.
    """
    pl.seed_everything(seed, verbose=False)
    root = Path(root_dir)
    dm = TaskDataModule(task, task_options, batch_size=batch_size, shuffle_seed=seed)
    model = SequenceModel(cell=cell, hidden_size=hidden_size, cell_options=cell_options,
                          input_size=dm.input_size, output_size=dm.output_size,
                          target_mode=dm.target_mode, loss=dm.loss, optimizer=optimizer, lr=lr)
    ckpt_cb = pl.callbacks.ModelCheckpoint(dirpath=root / "checkpoints", save_last=True,
                                           save_top_k=0)
    trainer = pl.Trainer(max_epochs=max_epochs, max_steps=max_steps, default_root_dir=root,
                         accelerator="auto", devices=1, gradient_clip_val=gradient_clip_val,
                         logger=pl.loggers.CSVLogger(root, name="", version=""),
                         callbacks=[ckpt_cb, *(callbacks or [])], enable_progress_bar=progress,
                         enable_model_summary=False, log_every_n_steps=10)
    trainer.fit(model, datamodule=dm)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val_")}
    if test:
        metrics.update({k: float(v) for k, v in trainer.test(model, datamodule=dm, verbose=False)[0].items()})
    return RunResult(Path(ckpt_cb.last_model_path), metrics, float(dm.chance_loss), model)
