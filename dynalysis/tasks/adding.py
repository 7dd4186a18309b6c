"""Adding problem (Hochreiter & Schmidhuber 1997; the setting of Le et al. 2015 and Orhan &
Pitkow 2020): add the two signal values that the mask marks, one in each half of the sequence.
"""
from __future__ import annotations

import torch

from .._core.options import check_positive_int
from ._base import GeneratedTask, Split, register_task

__all__ = ["AddingTask"]


@register_task("adding")
class AddingTask(GeneratedTask):
    """Sum of two marked numbers, read out at the last step.

    Parameters
    ----------
    seq_len : int, default 750
        ``T`` (at least 2). The paper (Orhan & Pitkow) uses 750.
    n_train, n_val, n_test : int
        Number of sequences per split.
    seed : int, default 0

    Notes
    -----
    ``inputs (n, T, 2)`` float32 with channels ``[mask, signal]``: ``signal_t ~ U(0, 1)``
    i.i.d., ``mask_t = 1`` at one step ``a`` drawn uniformly from the first half
    ``[0, ⌊T/2⌋)`` and one step ``b`` from the second half ``[⌊T/2⌋, T)``, 0 elsewhere.
    ``targets (n, 1)`` float32 ``= signal_a + signal_b``; ``target_mode = "last"``,
    ``loss = "mse"``.

    Chance baseline: the best input-independent predictor is the mean ``E[y] = 1``; its MSE is
    ``Var(u_1 + u_2) = 2 · 1/12 = 1/6``.

    References
    ----------
    S. Hochreiter and J. Schmidhuber, "Long short-term memory", Neural Computation 1997.
    Q. V. Le, N. Jaitly and G. E. Hinton, "A simple way to initialize recurrent networks of
    rectified linear units", arXiv:1504.00941, 2015.
    """

    def __init__(self, *, seq_len: int = 750, n_train: int = 1000, n_val: int = 200,
                 n_test: int = 200, seed: int = 0):
        self.options = dict(seq_len=check_positive_int("seq_len", seq_len, minimum=2),
                            **self._size_options(n_train, n_val, n_test, seed))
        self.seq_len = self.options["seq_len"]
        self.input_size = 2
        self.output_size = 1
        self.target_mode = "last"
        self.loss = "mse"

    @property
    def chance_loss(self) -> float:
        return 1.0 / 6.0

    def _sample(self, n: int, generator: torch.Generator, split: str) -> Split:
        T, half = self.seq_len, self.seq_len // 2
        signal = torch.rand(n, T, generator=generator)
        first = torch.randint(0, half, (n,), generator=generator)
        second = torch.randint(half, T, (n,), generator=generator)
        rows = torch.arange(n)
        mask = torch.zeros(n, T)
        mask[rows, first] = 1.0
        mask[rows, second] = 1.0
        targets = (signal[rows, first] + signal[rows, second]).unsqueeze(1)
        return Split(torch.stack([mask, signal], dim=-1), targets)
