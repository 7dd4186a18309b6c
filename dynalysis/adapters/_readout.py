"""Readouts of adapted modules: an ``nn.Module`` (converted with the system) or any callable."""
from __future__ import annotations

import copy

import torch
from torch import Tensor

from ..errors import OptionError, first_line
from ..system._module import frozen_view

__all__ = ["Readout"]


class Readout:
    """``fn(h) -> y`` for a readout module or callable.

    A module is used through a frozen view (eval mode, gradient-free aliases of its weights,
    see `dynalysis.ModuleSystem`) and converted by `to` on a private copy; a plain callable
    cannot be converted, so `check` runs it once in the requested dtype.
    """

    def __init__(self, fn, *, _converted: torch.nn.Module | None = None):
        if not callable(fn):
            raise OptionError(f"readout must be an nn.Module or a callable, got {type(fn).__name__}")
        self.source = fn
        if _converted is not None:
            self._fn = _converted
        else:
            self._fn = frozen_view(fn) if isinstance(fn, torch.nn.Module) else fn

    def __call__(self, h: Tensor) -> Tensor:
        return self._fn(h)

    def to(self, *, dtype, device) -> "Readout":
        if not isinstance(self.source, torch.nn.Module):
            return self
        converted = copy.deepcopy(self.source).to(dtype=dtype, device=device)
        return Readout(self.source, _converted=converted.requires_grad_(False).eval())

    def check(self, h: Tensor, label: str) -> int:
        """Run on ``h`` (the readout's input in the system's dtype); return the output width."""
        what = f"{label}: the readout"
        fix = ("pass the readout as an nn.Module (it is converted with the system) or build its "
               f"tensors in {str(h.dtype).replace('torch.', '')} on {h.device}")
        with torch.no_grad():
            try:
                y = self(h)
            except Exception as error:
                raise OptionError(f"{what} fails on a {h.dtype} input of shape {tuple(h.shape)} "
                                  f"({first_line(error)}); {fix}") from error
        if not isinstance(y, Tensor) or y.ndim != 2 or y.shape[0] != h.shape[0]:
            got = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
            raise OptionError(f"{what} must return (batch, output_size), got {got} for an input "
                              f"of shape {tuple(h.shape)}")
        if y.dtype != h.dtype or y.device != h.device:
            raise OptionError(f"{what} returns {y.dtype} on {y.device} for {h.dtype} on {h.device}; {fix}")
        return int(y.shape[1])
