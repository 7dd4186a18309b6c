"""Copy task, Orhan & Pitkow's variant (ICLR 2020; after Hochreiter & Schmidhuber 1997).

A sequence of ``T`` steps (symbol codes; ``S = n_symbols``, ``M = n_copy``)::

    step      0 .. M-1      M .. T-M-2        T-M-1    T-M .. T-1
    input     s_1 .. s_M    blank (0)         cue      blank (0)
    target    blank (0) ..........................     s_1 .. s_M

with ``s_i`` i.i.d. uniform on ``{1, …, S}`` and the cue coded ``S + 1``. The paper's setting
is ``S = 8``, ``M = 10``, ``T = 500`` (``T − 21`` blanks, cue 9 at step ``T − 11``).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._core.options import check_positive_int
from ._base import GeneratedTask, Split, register_task

__all__ = ["CopyTask"]


@register_task("copy")
class CopyTask(GeneratedTask):
    """Remember ``n_copy`` symbols across a delay and replay them after a cue.

    Parameters
    ----------
    seq_len : int, default 500
        ``T`` (at least ``2 n_copy + 1``); the delay between the last symbol and the cue is
        ``T − 2 n_copy − 1`` steps.
    n_symbols : int, default 8
        ``S``: symbols are drawn from ``{1, …, S}``.
    n_copy : int, default 10
        ``M``: how many symbols to remember.
    n_train, n_val, n_test : int
        Number of sequences per split.
    seed : int, default 0
        Seed of the generator (each split draws from its own stream).

    Notes
    -----
    Inputs are one-hot over ``S + 2`` codes ``{0 blank, 1..S symbols, S+1 cue}``:
    ``inputs (n, T, S + 2)`` float32. Targets are per-step classes over ``S + 1`` codes
    ``{0 blank, 1..S}``: ``targets (n, T)`` int64, ``target_mode = "sequence"``,
    ``loss = "cross_entropy"`` (mean over all ``T`` steps).

    Chance baseline: an input-independent predictor may still know the step. It predicts
    blank with certainty for the first ``T − M`` steps (loss 0) and at best the uniform
    distribution over the ``S`` symbols in the last ``M`` steps (loss ``ln S`` each), so
    ``chance_loss = M ln S / T`` per step (``10 ln 8 / T`` in the paper).

    References
    ----------
    A. E. Orhan and X. Pitkow, "Improved memory in recurrent neural networks with sequential
    non-normal dynamics", ICLR 2020.
    """

    def __init__(self, *, seq_len: int = 500, n_symbols: int = 8, n_copy: int = 10,
                 n_train: int = 1000, n_val: int = 200, n_test: int = 200, seed: int = 0):
        n_copy = check_positive_int("n_copy", n_copy)
        self.options = dict(seq_len=check_positive_int("seq_len", seq_len, minimum=2 * n_copy + 1),
                            n_symbols=check_positive_int("n_symbols", n_symbols, minimum=2),
                            n_copy=n_copy, **self._size_options(n_train, n_val, n_test, seed))
        self.seq_len = self.options["seq_len"]
        self.input_size = self.options["n_symbols"] + 2
        self.output_size = self.options["n_symbols"] + 1
        self.target_mode = "sequence"
        self.loss = "cross_entropy"
        self.metric_ignore_index = 0  # accuracy on the recall steps only: blanks say nothing

    @property
    def cue(self) -> int:
        """Code of the cue symbol (``n_symbols + 1``)."""
        return self.options["n_symbols"] + 1

    def input_conditions(self) -> dict[str, torch.Tensor]:
        """Each one-hot code held constant: ``blank`` (the delay), ``symbol_1`` … ``symbol_S``
        and ``cue`` (the zero vector never occurs in the data)."""
        eye = torch.eye(self.input_size)
        symbols = {f"symbol_{s}": eye[s] for s in range(1, self.options["n_symbols"] + 1)}
        return {"blank": eye[0], **symbols, "cue": eye[self.cue]}

    @property
    def chance_loss(self) -> float:
        o = self.options
        return o["n_copy"] * math.log(o["n_symbols"]) / o["seq_len"]

    def _sample(self, n: int, generator: torch.Generator, split: str) -> Split:
        T, M = self.seq_len, self.options["n_copy"]
        symbols = torch.randint(1, self.options["n_symbols"] + 1, (n, M), generator=generator)
        codes = torch.zeros(n, T, dtype=torch.int64)
        codes[:, :M] = symbols
        codes[:, T - M - 1] = self.cue
        targets = torch.zeros(n, T, dtype=torch.int64)
        targets[:, T - M:] = symbols
        inputs = F.one_hot(codes, self.input_size).to(torch.float32)
        return Split(inputs, targets)
