"""Task definitions shared by training (DataModules) and analysis (driving inputs).

A `Task` generates tensors deterministically from its seed, with no Lightning import, so an
analysis can re-create the very inputs a checkpoint was trained on from the task spec stored
in the checkpoint.

Shapes: ``inputs (n, T, input_size)`` float32; targets depend on ``target_mode`` and ``loss``:

============  ===============  =====================================
target_mode   loss             targets
============  ===============  =====================================
"last"        "cross_entropy"  ``(n,)`` int64 class of the last step
"last"        "mse"            ``(n, output_size)`` float32
"sequence"    "cross_entropy"  ``(n, T)`` int64 class per step
"sequence"    "mse"            ``(n, T, output_size)`` float32
============  ===============  =====================================
"""
from __future__ import annotations

import abc
import math
from typing import NamedTuple

import torch
from torch import Tensor

from ..errors import OptionError
from .._core.options import check_option, check_positive_int

__all__ = ["Task", "GeneratedTask", "Split", "register_task", "build_task", "split_generator",
           "TASKS", "SPLITS"]

TASKS: dict[str, type["Task"]] = {}
SPLITS = ("train", "val", "test")


class Split(NamedTuple):
    inputs: Tensor
    targets: Tensor


def register_task(name: str):
    """Class decorator: make a `Task` buildable as ``build_task(name, ...)``."""

    def deco(cls):
        cls.name = name
        TASKS[name] = cls
        return cls

    return deco


class Task(abc.ABC):
    """A supervised sequence task.

    Subclasses set ``input_size``, ``output_size``, ``target_mode``, ``loss`` and
    ``seq_len`` in ``__init__``, store their options in ``self.options`` (primitives only)
    and implement `_generate`.
    """

    name: str = ""
    input_size: int
    output_size: int
    seq_len: int
    target_mode: str  # "last" | "sequence"
    loss: str  # "cross_entropy" | "mse"
    options: dict
    #: class left out of accuracy (e.g. the copy task's blank steps), or None
    metric_ignore_index: int | None = None

    @abc.abstractmethod
    def _generate(self, split: str) -> Split:
        """Return the whole ``split`` (deterministic given the task's options and seed)."""

    @property
    @abc.abstractmethod
    def chance_loss(self) -> float:
        """Loss of the best input-independent predictor (the paper's chance baseline)."""

    @property
    def success_loss(self) -> float:
        """Orhan & Pitkow's success criterion: a validation loss below half of `chance_loss`."""
        return 0.5 * self.chance_loss

    def input_conditions(self) -> dict[str, Tensor]:
        """Constant inputs the task holds for stretches of time, by name: ``{name: (input_size,)}``.

        Fixed points of a trained network are sought per condition (docs/science.md §6): the
        input the network actually sees between events, not an arbitrary one. The default is
        ``{"zero": 0}``, the input between the events of tasks with sparse inputs (flip-flop,
        adding mask, i.i.d. streams of mean 0); tasks with one-hot inputs name each code.
        """
        return {"zero": torch.zeros(self.input_size)}

    def labels(self, split: str = "train") -> dict[str, Tensor]:
        """Per-step labels of ``split`` beyond the targets, ``{name: (n, T)}``, by which analyses
        can split trajectories (e.g. the trial epoch of a neurogym task); none by default."""
        check_option("split", split, SPLITS)
        return {}

    def split(self, split: str = "train") -> Split:
        """The ``split`` ("train", "val" or "test") as ``(inputs, targets)``; cached."""
        check_option("split", split, SPLITS)
        cache = self.__dict__.setdefault("_cache", {})
        if split not in cache:
            cache[split] = self._generate(split)
        return cache[split]

    def spec(self) -> dict:
        """Primitive-only description from which `build_task` rebuilds this task."""
        return {"name": self.name, **self.options}

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({opts})"


def build_task(name: str, **options) -> Task:
    """Build a registered task by name, e.g. ``build_task("digits", order="pixel")``."""
    if name not in TASKS:
        raise OptionError(f"invalid task={name!r}; allowed values: {', '.join(sorted(TASKS))}")
    return TASKS[name](**options)


def split_generator(seed: int, split: str) -> torch.Generator:
    """A generator seeded per split so splits are independent and reproducible."""
    return torch.Generator().manual_seed(int(seed) * 1000 + SPLITS.index(split))


class GeneratedTask(Task):
    """A task sampled from a seeded generator (no data files).

    Subclasses call `_size_options` in ``__init__`` and implement `_sample`; split ``s`` holds
    ``n_s`` samples drawn from ``split_generator(seed, s)``, so the three splits are
    independent draws and every split is reproducible on its own.
    """

    @staticmethod
    def _size_options(n_train: int, n_val: int, n_test: int, seed: int) -> dict:
        return dict(n_train=check_positive_int("n_train", n_train),
                    n_val=check_positive_int("n_val", n_val),
                    n_test=check_positive_int("n_test", n_test),
                    seed=check_positive_int("seed", seed, minimum=0))

    @abc.abstractmethod
    def _sample(self, n: int, generator: torch.Generator, split: str) -> Split:
        """Draw ``n`` samples of ``split`` from ``generator``."""

    def _generate(self, split: str) -> Split:
        g = split_generator(self.options["seed"], split)
        return self._sample(self.options[f"n_{split}"], g, split)


def check_bool(name: str, value) -> bool:
    """Return ``value`` if it is a bool, else raise `OptionError`."""
    if not isinstance(value, bool):
        raise OptionError(f"{name} must be true or false, got {value!r}")
    return value


def check_float(name: str, value, *, low: float | None = None,
                high: float | None = None) -> float:
    """Return ``value`` as a finite float in ``(low, high]``, else raise `OptionError`."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise OptionError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or (low is not None and v <= low) or (high is not None and v > high):
        lo = "" if low is None else f" > {low}"
        hi = "" if high is None else f" and <= {high}"
        raise OptionError(f"{name} must be a finite number{lo}{hi}, got {value!r}")
    return v
