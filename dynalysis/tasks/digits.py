"""Sequential 8×8 handwritten digits (scikit-learn's shipped copy of the UCI set).

Read pixel by pixel (64 steps × 1 feature) or row by row (8 steps × 8 features), optionally
through a fixed random permutation of the pixels (psMNIST-style). 1797 images are split
70/15/15 into train/val/test by a seeded shuffle.
"""
from __future__ import annotations

import math

import torch

from .._errors import OptionError, check_option
from ._base import Split, Task, register_task

__all__ = ["DigitsTask"]

_FRACTIONS = {"train": (0.0, 0.7), "val": (0.7, 0.85), "test": (0.85, 1.0)}


def _load_digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits  # lazy: scikit-learn import is slow

    d = load_digits()
    images = torch.tensor(d.images, dtype=torch.float32) / 16.0  # (1797, 8, 8) in [0, 1]
    return images, torch.tensor(d.target, dtype=torch.int64)


@register_task("digits")
class DigitsTask(Task):
    """Sequential digits classification.

    Parameters
    ----------
    order : {"pixel", "row"}, default "pixel"
        ``"pixel"``: T = 64, d = 1. ``"row"``: T = 8, d = 8.
    permute : bool, default False
        Apply a fixed pixel permutation drawn from ``permutation_seed`` (pixel order only).
    permutation_seed : int, default 0
    seed : int, default 0
        Seed of the train/val/test shuffle.
    """

    def __init__(self, *, order: str = "pixel", permute: bool = False,
                 permutation_seed: int = 0, seed: int = 0):
        check_option("order", order, ("pixel", "row"))
        if permute and order != "pixel":
            raise OptionError("permute=True needs order='pixel'")
        self.options = dict(order=order, permute=bool(permute),
                            permutation_seed=int(permutation_seed), seed=int(seed))
        self.input_size, self.seq_len = (1, 64) if order == "pixel" else (8, 8)
        self.output_size = 10
        self.target_mode = "last"
        self.loss = "cross_entropy"

    @property
    def chance_loss(self) -> float:
        return math.log(10)

    def permutation(self) -> torch.Tensor | None:
        """The fixed pixel permutation (None when ``permute=False``)."""
        if not self.options["permute"]:
            return None
        g = torch.Generator().manual_seed(self.options["permutation_seed"])
        return torch.randperm(64, generator=g)

    def _generate(self, split: str) -> Split:
        images, labels = _load_digits()
        g = torch.Generator().manual_seed(self.options["seed"])
        order = torch.randperm(len(labels), generator=g)
        lo, hi = _FRACTIONS[split]
        idx = order[int(lo * len(order)): int(hi * len(order))]
        x = images[idx]
        if self.options["order"] == "pixel":
            x = x.reshape(len(idx), 64, 1)
            perm = self.permutation()
            if perm is not None:
                x = x[:, perm]
        return Split(x.contiguous(), labels[idx])
