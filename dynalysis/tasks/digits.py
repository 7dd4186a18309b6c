"""Sequential 8×8 handwritten digits (scikit-learn's shipped copy of the UCI set).

Read pixel by pixel (64 steps × 1 feature) or row by row (8 steps × 8 features), optionally
through a fixed random permutation of the pixels (psMNIST-style). 1797 images are split
70/15/15 into train/val/test by a seeded shuffle.
"""
from __future__ import annotations

import torch

from .._core.options import check_positive_int
from ._base import Split, register_task
from ._images import ImageSequenceTask

__all__ = ["DigitsTask"]

_FRACTIONS = {"train": (0.0, 0.7), "val": (0.7, 0.85), "test": (0.85, 1.0)}


def _load_digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits  # lazy: scikit-learn import is slow

    d = load_digits()
    images = torch.tensor(d.images, dtype=torch.float32) / 16.0  # (1797, 8, 8) in [0, 1]
    return images, torch.tensor(d.target, dtype=torch.int64)


@register_task("digits")
class DigitsTask(ImageSequenceTask):
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

    Notes
    -----
    ``inputs (n, T, d)`` float32 in ``[0, 1]`` (grey levels / 16), ``targets (n,)`` int64
    digit classes; ``target_mode = "last"``, ``loss = "cross_entropy"``,
    ``chance_loss = ln 10``. Split sizes: 1257 / 270 / 270.
    """

    image_shape = (8, 8)

    def __init__(self, *, order: str = "pixel", permute: bool = False,
                 permutation_seed: int = 0, seed: int = 0):
        self.options = dict(**self._image_options(order, permute, permutation_seed),
                            seed=check_positive_int("seed", seed, minimum=0))

    def _generate(self, split: str) -> Split:
        images, labels = _load_digits()
        g = torch.Generator().manual_seed(self.options["seed"])
        order = torch.randperm(len(labels), generator=g)
        lo, hi = _FRACTIONS[split]
        idx = order[int(lo * len(order)): int(hi * len(order))]
        return Split(self.to_sequences(images[idx]), labels[idx])
