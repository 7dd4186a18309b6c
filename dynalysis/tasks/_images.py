"""Images read as sequences: pixel by pixel or row by row, optionally through a fixed permutation.

Shared by the 8×8 digits and MNIST / Fashion-MNIST. For an ``H × W`` image:

=========  =========  ===========  ==============================================
order      T          input_size   step t holds
=========  =========  ===========  ==============================================
"pixel"    ``H W``    1            pixel ``perm[t]`` of the row-major flattening
"row"      ``H``      ``W``        row ``t``
=========  =========  ===========  ==============================================

``perm`` is the identity unless ``permute=True`` (pixel order only), then a random
permutation fixed by ``permutation_seed`` (the psMNIST protocol of Le et al. 2015).
"""
from __future__ import annotations

import math

import torch

from ..errors import OptionError
from .._core.options import check_option, check_positive_int
from ._base import Task

__all__ = ["ImageSequenceTask"]


class ImageSequenceTask(Task):
    """10-way classification of an ``H × W`` image read as a sequence (label at the last step).

    Subclasses set ``image_shape = (H, W)`` and call `_image_options` in ``__init__``.
    """

    image_shape: tuple[int, int]

    def _image_options(self, order: str, permute: bool, permutation_seed: int) -> dict:
        check_option("order", order, ("pixel", "row"))
        if permute and order != "pixel":
            raise OptionError("permute=True needs order='pixel' (rows are not permuted)")
        H, W = self.image_shape
        self.input_size, self.seq_len = (1, H * W) if order == "pixel" else (W, H)
        self.output_size = 10
        self.target_mode = "last"
        self.loss = "cross_entropy"
        return dict(order=order, permute=bool(permute),
                    permutation_seed=check_positive_int("permutation_seed", permutation_seed,
                                                        minimum=0))

    @property
    def chance_loss(self) -> float:
        """``ln 10``: cross-entropy of the uniform prediction over the 10 classes."""
        return math.log(10)

    def permutation(self) -> torch.Tensor | None:
        """The fixed pixel permutation ``(H W,)`` int64 (None when ``permute=False``)."""
        if not self.options["permute"]:
            return None
        g = torch.Generator().manual_seed(self.options["permutation_seed"])
        return torch.randperm(self.image_shape[0] * self.image_shape[1], generator=g)

    def to_sequences(self, images: torch.Tensor) -> torch.Tensor:
        """``(n, H, W)`` images → ``(n, T, input_size)`` contiguous float32 sequences."""
        x = images.to(torch.float32)
        if self.options["order"] == "pixel":
            x = x.reshape(len(x), -1, 1)
            perm = self.permutation()
            if perm is not None:
                x = x[:, perm]
        return x.contiguous()
