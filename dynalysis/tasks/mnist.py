"""Sequential and permuted MNIST / Fashion-MNIST from the standard IDX files in a local folder.

Nothing is downloaded: point ``root`` at a folder holding the four files (as distributed by
LeCun et al. and by Zalando for Fashion-MNIST, plain or ``.gz``)::

    train-images-idx3-ubyte   train-labels-idx1-ubyte
    t10k-images-idx3-ubyte    t10k-labels-idx1-ubyte

Both datasets use the same file names, so keep each in its own folder.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .._core.options import check_option, check_positive_int
from ._base import Split, register_task, check_float
from ._idx import DataFileError, read_idx
from ._images import ImageSequenceTask

__all__ = ["MNISTTask", "MNIST_FILES"]

MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "t10k": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find(root: Path, name: str) -> Path | None:
    """``name``, ``name.gz``, or the dotted spelling of some mirrors (train-images.idx3-ubyte)."""
    dotted = name.replace("-idx", ".idx")
    for candidate in (name, name + ".gz", dotted, dotted + ".gz"):
        if (root / candidate).is_file():
            return root / candidate
    return None


@register_task("mnist")
class MNISTTask(ImageSequenceTask):
    """Pixel-by-pixel (sMNIST), permuted (psMNIST) or row-by-row MNIST / Fashion-MNIST.

    Parameters
    ----------
    root : str
        Folder holding the four IDX files (see the module docstring); stored as an absolute
        path so an analysis run from elsewhere finds the same data.
    dataset : {"mnist", "fashion_mnist"}, default "mnist"
        Which data the folder holds (recorded with checkpoints; the files are read the same way).
    order : {"pixel", "row"}, default "pixel"
        ``"pixel"``: T = 784, d = 1. ``"row"``: T = 28, d = 28.
    permute : bool, default False
        Apply a fixed pixel permutation drawn from ``permutation_seed`` (pixel order only).
    permutation_seed : int, default 0
    val_fraction : float, default 0.1
        Share of the training file held out as the validation split (chosen by ``seed``).
    seed : int, default 0
        Seed of the train/val shuffle. The test split is the t10k files in file order.

    Notes
    -----
    ``inputs (n, T, d)`` float32 in ``[0, 1]`` (grey level / 255), ``targets (n,)`` int64
    classes 0–9; ``target_mode = "last"``, ``loss = "cross_entropy"``; ``chance_loss = ln 10``
    (uniform prediction over 10 classes; both datasets are balanced).

    Raises
    ------
    DataFileError
        On the first `split` call, when files are missing (the message lists the expected
        names), corrupt (bad IDX magic number, truncated), or not 28×28 images with labels 0–9.

    References
    ----------
    Q. V. Le, N. Jaitly and G. E. Hinton, arXiv:1504.00941, 2015 (sequential and permuted MNIST).
    H. Xiao, K. Rasul and R. Vollgraf, "Fashion-MNIST", arXiv:1708.07747, 2017.
    """

    image_shape = (28, 28)

    def __init__(self, *, root: str, dataset: str = "mnist", order: str = "pixel",
                 permute: bool = False, permutation_seed: int = 0, val_fraction: float = 0.1,
                 seed: int = 0):
        check_option("dataset", dataset, ("mnist", "fashion_mnist"))
        self.options = dict(root=str(Path(os.fspath(root)).expanduser().resolve()), dataset=dataset,
                            **self._image_options(order, permute, permutation_seed),
                            val_fraction=check_float("val_fraction", val_fraction,
                                                     low=0.0, high=1.0),
                            seed=check_positive_int("seed", seed, minimum=0))

    def _read(self, part: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``(n, 28, 28)`` uint8 and labels ``(n,)`` int64 of ``part`` ("train"/"t10k")."""
        cache = self.__dict__.setdefault("_files", {})
        if part in cache:
            return cache[part]
        root = Path(self.options["root"])
        paths = {name: _find(root, name) for names in MNIST_FILES.values() for name in names}
        missing = [name for name, p in paths.items() if p is None]
        if missing:
            where = f"in {root}" if root.is_dir() else f"because the folder {root} does not exist"
            expected = ", ".join(n for names in MNIST_FILES.values() for n in names)
            raise DataFileError(
                f"{self.options['dataset']} files not found {where}: missing {', '.join(missing)}. "
                f"Expected the IDX files {expected} (optionally gzipped, *.gz); dynalysis downloads "
                "nothing, so copy them there and pass the folder as root")
        image_path, label_path = (paths[n] for n in MNIST_FILES[part])
        images, labels = read_idx(image_path, ndim=3), read_idx(label_path, ndim=1)
        if images.shape[1:] != self.image_shape or images.dtype != np.uint8:
            raise DataFileError(f"{image_path} holds {images.dtype} images of shape "
                                f"{images.shape[1:]}; expected uint8 28×28")
        if len(labels) != len(images):
            raise DataFileError(f"{label_path} has {len(labels)} labels for {len(images)} images "
                                f"in {image_path}")
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise DataFileError(f"{label_path} has labels outside 0..9")
        cache[part] = (torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)))
        return cache[part]

    def _generate(self, split: str) -> Split:
        if split == "test":
            images, labels = self._read("t10k")
        else:
            images, labels = self._read("train")
            n = len(labels)
            n_val = round(self.options["val_fraction"] * n)
            if not 1 <= n_val < n:
                raise DataFileError(f"val_fraction={self.options['val_fraction']} of {n} training "
                                    "images leaves an empty train or validation split")
            order = torch.randperm(n, generator=torch.Generator().manual_seed(self.options["seed"]))
            idx = order[:n_val] if split == "val" else order[n_val:]
            images, labels = images[idx], labels[idx]
        return Split(self.to_sequences(images) / 255.0, labels.clone())
