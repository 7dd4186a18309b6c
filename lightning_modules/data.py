"""LightningDataModules over the tasks in `dynalysis.tasks`.

Every module exposes ``input_size``, ``output_size``, ``target_mode``, ``loss`` and
``chance_loss``; the CLI links the first four into the model so configs never repeat them.
Batches are ``(inputs (B, T, input_size) float32, targets)`` with targets as documented in
`dynalysis.tasks`. One thin subclass per task spells out the task's options as typed
arguments, so ``python cli.py fit --data CopyDataModule --help`` documents them.

- DigitsDataModule: (B, 64, 1) or (B, 8, 8) → (B,) int64, cross-entropy, chance ln 10
- MNISTDataModule: (B, 784, 1) or (B, 28, 28) → (B,) int64, cross-entropy, chance ln 10
- CopyDataModule: (B, T, S+2) → (B, T) int64, cross-entropy, chance M ln S / T
- AddingDataModule: (B, T, 2) → (B, 1) float32, MSE, chance 1/6
- TomitaDataModule: (B, T, 3) → (B,) int64, cross-entropy, chance ln 2
- DelayedRecallDataModule: (B, T, 1) → (B, T, m) float32, MSE, chance Σ_i (T − k_i) / (T m)
- LinearTeacherDataModule: (B, T, 1) → (B, T, 1) float32, MSE, chance Σ_j K_j² (T − j) / T
- FlipFlopDataModule: (B, T, n) → (B, T, n) float32, MSE, chance 1 (with initial_pulse)
- NeurogymDataModule: (B, T, d) → (B, T) int64 or (B, T, k) float32, chance per-step prior
"""
from __future__ import annotations

from typing import Literal

import pytorch_lightning as pl
import torch
import torchmetrics
from torch.utils.data import DataLoader, TensorDataset

from dynalysis.tasks import Task, build_task

__all__ = ["TaskDataModule", "GeneratedDataModule", "DigitsDataModule", "MNISTDataModule", "CopyDataModule",
           "AddingDataModule", "TomitaDataModule", "DelayedRecallDataModule",
           "LinearTeacherDataModule", "FlipFlopDataModule", "NeurogymDataModule"]


class TaskDataModule(pl.LightningDataModule):
    """Any registered task by name.

    Parameters
    ----------
    task : str
        Name in `dynalysis.tasks.TASKS`.
    task_options : dict, optional
        Keyword options of the task (see its docstring).
    batch_size : int
        Sequences per batch.
    shuffle_seed : int
        Seed of the training-set shuffling (data generation has its own ``seed`` option).
    num_workers : int
        DataLoader worker processes.
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
        """Loss of the best input-independent predictor (see the task's docstring)."""
        return self.task.chance_loss

    @property
    def success_loss(self) -> float:
        """A run succeeds when its validation loss is below this (half of `chance_loss`)."""
        return self.task.success_loss

    def make_metric(self) -> torchmetrics.Metric:
        """A fresh torchmetrics metric that fits the task: accuracy (leaving out the task's
        ``metric_ignore_index`` class, e.g. the copy task's blanks) or mean squared error."""
        if self.loss == "cross_entropy":
            return torchmetrics.classification.MulticlassAccuracy(
                self.output_size, average="micro", ignore_index=self.task.metric_ignore_index)
        return torchmetrics.MeanSquaredError()

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


class MNISTDataModule(TaskDataModule):
    """Sequential, permuted or row-by-row MNIST / Fashion-MNIST from local IDX files.

    Parameters
    ----------
    root : str
        Folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte,
        t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (plain or .gz). Nothing is downloaded.
    dataset : {"mnist", "fashion_mnist"}
    order : {"pixel", "row"}
        ``"pixel"``: (B, 784, 1). ``"row"``: (B, 28, 28).
    permute : bool
        Fixed pixel permutation (psMNIST), pixel order only.
    permutation_seed : int
    val_fraction : float
        Share of the training file used for validation.
    seed : int
        Seed of the train/val split.
    batch_size, shuffle_seed, num_workers
        See `TaskDataModule`.
    """

    def __init__(self, root: str, dataset: Literal["mnist", "fashion_mnist"] = "mnist",
                 order: Literal["pixel", "row"] = "pixel",
                 permute: bool = False, permutation_seed: int = 0, val_fraction: float = 0.1,
                 seed: int = 0, batch_size: int = 64, shuffle_seed: int = 0, num_workers: int = 0):
        super().__init__("mnist", dict(root=root, dataset=dataset, order=order, permute=permute,
                                       permutation_seed=permutation_seed,
                                       val_fraction=val_fraction, seed=seed),
                         batch_size=batch_size, shuffle_seed=shuffle_seed, num_workers=num_workers)


class GeneratedDataModule(TaskDataModule):
    """Base of the DataModules whose task is sampled from a seed (no data files).

    Parameters
    ----------
    n_train : int
        Sequences in the training split.
    n_val : int
        Sequences in the validation split.
    n_test : int
        Sequences in the test split.
    seed : int
        Seed of the data (each split draws from its own stream, so they are independent).
    """


class CopyDataModule(GeneratedDataModule):
    """Copy task (Orhan & Pitkow 2020): replay ``n_copy`` symbols after a delay and a cue.

    Batches: inputs (B, T, n_symbols + 2) one-hot float32, targets (B, T) int64 per-step classes.

    Parameters
    ----------
    seq_len : int
        T (500 in the paper).
    n_symbols : int
        Symbols are drawn from {1..n_symbols} (8 in the paper).
    n_copy : int
        Symbols to remember (10 in the paper).
    n_train, n_val, n_test, seed, batch_size, shuffle_seed, num_workers
        See `GeneratedDataModule`.
    """

    def __init__(self, seq_len: int = 500, n_symbols: int = 8, n_copy: int = 10,
                 n_train: int = 1000, n_val: int = 200, n_test: int = 200, seed: int = 0,
                 batch_size: int = 16, shuffle_seed: int = 0, num_workers: int = 0):
        super().__init__("copy", dict(seq_len=seq_len, n_symbols=n_symbols, n_copy=n_copy,
                                      n_train=n_train, n_val=n_val, n_test=n_test, seed=seed),
                         batch_size=batch_size, shuffle_seed=shuffle_seed, num_workers=num_workers)


class AddingDataModule(GeneratedDataModule):
    """Adding problem: the sum of the two marked values.

    Batches: inputs (B, T, 2) channels ``[mask, signal]``, targets (B, 1) float32.

    Parameters
    ----------
    seq_len : int
        T (750 in Orhan & Pitkow).
    n_train, n_val, n_test, seed, batch_size, shuffle_seed, num_workers
        See `GeneratedDataModule`.
    """

    def __init__(self, seq_len: int = 750, n_train: int = 1000, n_val: int = 200,
                 n_test: int = 200, seed: int = 0, batch_size: int = 16, shuffle_seed: int = 0,
                 num_workers: int = 0):
        super().__init__("adding", dict(seq_len=seq_len, n_train=n_train, n_val=n_val,
                                        n_test=n_test, seed=seed),
                         batch_size=batch_size, shuffle_seed=shuffle_seed, num_workers=num_workers)


class TomitaDataModule(GeneratedDataModule):
    """Tomita grammar 1–7 membership, balanced classes; the test split has longer strings.

    Batches: inputs (B, T, 3) one-hot ``[pad, 0, 1]``, left-padded (T = max_len; test_max_len
    for the test split); targets (B,) int64, 1 = in the language.

    Parameters
    ----------
    grammar : int
        1 to 7.
    min_len, max_len : int
        String lengths of the train and val splits.
    test_min_len, test_max_len : int
        String lengths of the test (generalisation) split.
    n_train, n_val, n_test, seed, batch_size, shuffle_seed, num_workers
        See `GeneratedDataModule`.
    """

    def __init__(self, grammar: int = 1, min_len: int = 1, max_len: int = 20,
                 test_min_len: int = 21, test_max_len: int = 30, n_train: int = 1000,
                 n_val: int = 200, n_test: int = 200, seed: int = 0, batch_size: int = 32,
                 shuffle_seed: int = 0, num_workers: int = 0):
        super().__init__("tomita", dict(grammar=grammar, min_len=min_len, max_len=max_len,
                                        test_min_len=test_min_len, test_max_len=test_max_len,
                                        n_train=n_train, n_val=n_val, n_test=n_test, seed=seed),
                         batch_size=batch_size, shuffle_seed=shuffle_seed, num_workers=num_workers)


class DelayedRecallDataModule(GeneratedDataModule):
    """Delayed recall of an i.i.d. stream: outputs ``x_{t−k}`` for each lag k, at every step.

    Batches: inputs (B, T, 1), targets (B, T, len(lags)) float32 (0 before the lag).

    Parameters
    ----------
    seq_len : int
    lags : list of int
        Distinct lags 0 <= k < seq_len (default [1, 2, 4, 8, 16]).
    distribution : {"gaussian", "uniform"}
        Unit-variance N(0, 1) or U(−√3, √3) inputs.
    n_train, n_val, n_test, seed, batch_size, shuffle_seed, num_workers
        See `GeneratedDataModule`.
    """

    def __init__(self, seq_len: int = 100, lags: list[int] | None = None,
                 distribution: Literal["gaussian", "uniform"] = "gaussian", n_train: int = 1000,
                 n_val: int = 200, n_test: int = 200, seed: int = 0, batch_size: int = 64,
                 shuffle_seed: int = 0, num_workers: int = 0):
        super().__init__("delayed_recall", dict(
            seq_len=seq_len, lags=lags, distribution=distribution, n_train=n_train, n_val=n_val,
            n_test=n_test, seed=seed),
            batch_size=batch_size, shuffle_seed=shuffle_seed, num_workers=num_workers)


class LinearTeacherDataModule(GeneratedDataModule):
    """Linear teacher ``y_t = Σ_j K_j x_{t−j}`` on an i.i.d. stream (Emami et al. 2021).

    Batches: inputs (B, T, 1), targets (B, T, 1) float32.

    Parameters
    ----------
    seq_len : int
    kernel : {"exponential", "single_lag", "custom"}
        ``amplitude · exp(−j/tau)`` for j < kernel_length; ``amplitude · δ_{j,lag}``; or
        ``kernel_values``.
    kernel_length : int
    tau : float
    lag : int
    amplitude : float
    kernel_values : list of float, optional
        Taps K_0, K_1, ... for kernel="custom".
    distribution : {"gaussian", "uniform"}
    n_train, n_val, n_test, seed, batch_size, shuffle_seed, num_workers
        See `GeneratedDataModule`.
    """

    def __init__(self, seq_len: int = 100,
                 kernel: Literal["exponential", "single_lag", "custom"] = "exponential",
                 kernel_length: int = 32, tau: float = 4.0, lag: int = 8, amplitude: float = 1.0,
                 kernel_values: list[float] | None = None,
                 distribution: Literal["gaussian", "uniform"] = "gaussian",
                 n_train: int = 1000, n_val: int = 200, n_test: int = 200, seed: int = 0,
                 batch_size: int = 64, shuffle_seed: int = 0, num_workers: int = 0):
        super().__init__("linear_teacher", dict(
            seq_len=seq_len, kernel=kernel, kernel_length=kernel_length, tau=tau, lag=lag,
            amplitude=amplitude, kernel_values=kernel_values, distribution=distribution,
            n_train=n_train, n_val=n_val, n_test=n_test, seed=seed),
            batch_size=batch_size, shuffle_seed=shuffle_seed, num_workers=num_workers)


class FlipFlopDataModule(GeneratedDataModule):
    """n-bit flip-flop (Sussillo & Barak 2013): hold the sign of each channel's last ±1 pulse.

    Batches: inputs (B, T, n_bits) in {−1, 0, +1}, targets (B, T, n_bits) float32, per-step MSE.

    Parameters
    ----------
    n_bits : int
        Input = output channels; a solution stores 2^n_bits memories.
    pulse_probability : float
        Probability of a pulse per channel and step (0 < p <= 1).
    seq_len : int
        T.
    initial_pulse : bool
        A pulse on every channel at step 0 (targets never 0); else targets are 0 before the
        first pulse.
    n_train, n_val, n_test, seed, batch_size, shuffle_seed, num_workers
        See `GeneratedDataModule`.
    """

    def __init__(self, n_bits: int = 3, pulse_probability: float = 0.05, seq_len: int = 100,
                 initial_pulse: bool = True, n_train: int = 1000, n_val: int = 200,
                 n_test: int = 200, seed: int = 0, batch_size: int = 64, shuffle_seed: int = 0,
                 num_workers: int = 0):
        super().__init__("flipflop", dict(
            n_bits=n_bits, pulse_probability=pulse_probability, seq_len=seq_len,
            initial_pulse=initial_pulse, n_train=n_train, n_val=n_val, n_test=n_test, seed=seed),
            batch_size=batch_size, shuffle_seed=shuffle_seed, num_workers=num_workers)


class NeurogymDataModule(GeneratedDataModule):
    """A neurogym environment's trials laid end to end (optional extra: ``dynalysis[neurogym]``).

    Batches: inputs (B, T, d) observations; targets (B, T) int64 actions (discrete action
    space, cross-entropy) or (B, T, k) float32 (box action space, MSE). The task's
    ``labels(split)`` holds each step's epoch (fixation, stimulus, delay, decision, ...).

    Parameters
    ----------
    env : str
        neurogym environment id, e.g. PerceptualDecisionMaking-v0, ContextDecisionMaking-v0.
    env_options : dict, optional
        Keyword options of the environment, e.g. {"dt": 100, "timing": {"stimulus": 1000}}.
    seq_len : int
        T; each sequence starts at a trial start, the last trial is cut at T.
    epochs : list of str, optional
        Epoch names in label order (default: the environment's timing periods).
    n_train, n_val, n_test, seed, batch_size, shuffle_seed, num_workers
        See `GeneratedDataModule`.
    """

    def __init__(self, env: str = "PerceptualDecisionMaking-v0", env_options: dict | None = None,
                 seq_len: int = 100, epochs: list[str] | None = None, n_train: int = 1000,
                 n_val: int = 200, n_test: int = 200, seed: int = 0, batch_size: int = 32,
                 shuffle_seed: int = 0, num_workers: int = 0):
        super().__init__("neurogym", dict(
            env=env, env_options=env_options, seq_len=seq_len, epochs=epochs, n_train=n_train,
            n_val=n_val, n_test=n_test, seed=seed),
            batch_size=batch_size, shuffle_seed=shuffle_seed, num_workers=num_workers)
