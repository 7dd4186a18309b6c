"""LightningDataModules over the tasks in `dynalysis.tasks`.

Every module exposes ``input_size``, ``output_size``, ``target_mode``, ``loss`` and
``chance_loss``; the CLI links the first four into the model so configs never repeat them.
Batches are ``(inputs (B, T, input_size) float32, targets)`` with targets as documented in
`dynalysis.tasks`.
"""
from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from dynalysis.tasks import Task, build_task

__all__ = ["TaskDataModule", "DigitsDataModule"]


class TaskDataModule(pl.LightningDataModule):
    """Any registered task by name.

    Parameters
    ----------
    task : str
        Name in `dynalysis.tasks.TASKS`.
    task_options : dict, optional
        Keyword options of the task (see its docstring).
    batch_size : int
    shuffle_seed : int
        Seed of the training-set shuffling (data generation has its own ``seed`` option).
    num_workers : int
    """

    def __init__(self, task: str = "digits", task_options: dict | None = None,
                 batch_size: int = 64, shuffle_seed: int = 0, num_workers: int = 0):
        super().__init__()
        self.save_hyperparameters()
        self.task: Task = build_task(task, **(task_options or {}))
        self.batch_size = int(batch_size)

    # sizes linked into the model by the CLI
    @property
    def input_size(self) -> int:
        return self.task.input_size

    @property
    def output_size(self) -> int:
        return self.task.output_size

    @property
    def target_mode(self) -> str:
        return self.task.target_mode

    @property
    def loss(self) -> str:
        return self.task.loss

    @property
    def chance_loss(self) -> float:
        return self.task.chance_loss

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        ds = TensorDataset(*self.task.split(split))
        g = torch.Generator().manual_seed(self.hparams.shuffle_seed)
        return DataLoader(ds, batch_size=self.batch_size, shuffle=shuffle, generator=g,
                          num_workers=self.hparams.num_workers)

    def train_dataloader(self):
        return self._loader("train", True)

    def val_dataloader(self):
        return self._loader("val", False)

    def test_dataloader(self):
        return self._loader("test", False)


class DigitsDataModule(TaskDataModule):
    """Sequential 8×8 digits (scikit-learn), pixel by pixel or row by row, optionally permuted.

    Parameters
    ----------
    order : {"pixel", "row"}
    permute : bool
    permutation_seed : int
    seed : int
        Seed of the train/val/test split.
    batch_size : int
    shuffle_seed : int
    num_workers : int
    """

    def __init__(self, order: str = "pixel", permute: bool = False, permutation_seed: int = 0,
                 seed: int = 0, batch_size: int = 64, shuffle_seed: int = 0, num_workers: int = 0):
        super().__init__("digits", dict(order=order, permute=permute,
                                        permutation_seed=permutation_seed, seed=seed),
                         batch_size=batch_size, shuffle_seed=shuffle_seed, num_workers=num_workers)
