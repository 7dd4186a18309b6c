"""The n-bit flip-flop (Sussillo & Barak 2013): hold the sign of each channel's last pulse.

Each of ``n_bits`` input channels carries sparse pulses of ±1; output channel ``k`` must hold
the sign of the last pulse on input ``k`` until the next one. A network that solves it stores
``2^n_bits`` memories, which are stable fixed points of its zero-input dynamics (the input
between pulses), with saddles between them (docs/science.md §6).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .._core.options import check_positive_int
from ._base import GeneratedTask, Split, check_bool, check_float, register_task

__all__ = ["FlipFlopTask", "flipflop_targets"]


def flipflop_targets(inputs: Tensor) -> Tensor:
    """The flip-flop targets of ``inputs (n, T, n_bits)``: each channel's last nonzero value.

    ``targets[i, t, k]`` is ``inputs[i, s, k]`` for the last step ``s <= t`` with a nonzero
    input on channel ``k`` (the pulse at step ``t`` itself counts), and 0 before the first
    pulse. Vectorised over time by a running maximum of the pulse times.

    >>> x = torch.tensor([[[0.], [1.], [0.], [-1.], [0.]]])
    >>> flipflop_targets(x)[0, :, 0].tolist()
    [0.0, 1.0, 1.0, -1.0, -1.0]
    """
    n, T, d = inputs.shape
    steps = torch.arange(T).view(1, T, 1).expand(n, T, d)
    last = torch.where(inputs != 0, steps, torch.full_like(steps, -1)).cummax(dim=1).values
    held = inputs.gather(1, last.clamp(min=0))
    return torch.where(last >= 0, held, torch.zeros_like(held))


@register_task("flipflop")
class FlipFlopTask(GeneratedTask):
    """n-bit flip-flop memory: per-step MSE against the sign of each channel's last pulse.

    Parameters
    ----------
    n_bits : int, default 3
        Number of input channels = output channels (memories: ``2^n_bits``).
    pulse_probability : float, default 0.05
        ``p``: probability of a pulse on a channel at a step, independently over channels and
        steps; its sign is ±1 with probability 1/2 each. ``0 < p <= 1``.
    seq_len : int, default 100
        ``T``.
    initial_pulse : bool, default True
        Put a pulse on every channel at step 0 (as Golub & Sussillo's FixedPointFinder data
        does), so every target is ±1 and the network only ever holds ``2^n_bits`` memories.
        With False, targets are 0 before a channel's first pulse ("nothing stored yet").
    n_train, n_val, n_test : int
        Number of sequences per split.
    seed : int, default 0

    Notes
    -----
    ``inputs (n, T, n_bits)`` float32 with entries in {−1, 0, +1}; ``targets (n, T, n_bits)``
    float32 = `flipflop_targets` of the inputs (the pulse at step ``t`` is already reflected
    in the target at ``t``); ``target_mode = "sequence"``, ``loss = "mse"`` (mean over steps
    and channels).

    Chance baseline: the pulse signs are symmetric and independent of the pulse times, so the
    best input-independent predictor is ``E[y_t] = 0`` at every step, with MSE
    ``E[y_t²] = P(a pulse at or before step t)``. With ``initial_pulse`` that is 1; without it
    ``1 − (1 − p)^(t+1)`` at step ``t`` (0-based), whose mean over the ``T`` steps is

        chance_loss = 1 − (1 − p)(1 − (1 − p)^T) / (p T).

    Fixed points are sought at the zero input that holds between pulses
    (``input_conditions() == {"zero": 0}``).

    References
    ----------
    D. Sussillo and O. Barak, "Opening the black box: low-dimensional dynamics in
    high-dimensional recurrent neural networks", Neural Computation 25 (2013) 626–649.
    M. D. Golub and D. Sussillo, "FixedPointFinder", JOSS 3 (2018) 1003.

    Examples
    --------
    >>> task = FlipFlopTask(n_bits=2, seq_len=6, n_train=1, n_val=1, n_test=1, seed=3)
    >>> x, y = task.split("train")
    >>> tuple(x.shape), tuple(y.shape), task.chance_loss
    ((1, 6, 2), (1, 6, 2), 1.0)
    >>> bool((y == flipflop_targets(x)).all()), sorted(task.input_conditions())
    (True, ['zero'])
    """

    def __init__(self, *, n_bits: int = 3, pulse_probability: float = 0.05, seq_len: int = 100,
                 initial_pulse: bool = True, n_train: int = 1000, n_val: int = 200,
                 n_test: int = 200, seed: int = 0):
        self.options = dict(n_bits=check_positive_int("n_bits", n_bits),
                            pulse_probability=check_float("pulse_probability", pulse_probability,
                                                          low=0.0, high=1.0),
                            seq_len=check_positive_int("seq_len", seq_len),
                            initial_pulse=check_bool("initial_pulse", initial_pulse),
                            **self._size_options(n_train, n_val, n_test, seed))
        self.seq_len = self.options["seq_len"]
        self.input_size = self.output_size = self.options["n_bits"]
        self.target_mode = "sequence"
        self.loss = "mse"

    @property
    def chance_loss(self) -> float:
        if self.options["initial_pulse"]:
            return 1.0
        p, T = self.options["pulse_probability"], self.seq_len
        return 1.0 - (1.0 - p) * (1.0 - (1.0 - p) ** T) / (p * T)

    def _sample(self, n: int, generator: torch.Generator, split: str) -> Split:
        o = self.options
        shape = (n, self.seq_len, o["n_bits"])
        pulse = torch.rand(shape, generator=generator) < o["pulse_probability"]
        if o["initial_pulse"]:
            pulse[:, 0] = True
        sign = 2.0 * torch.randint(0, 2, shape, generator=generator) - 1.0
        inputs = torch.where(pulse, sign, torch.zeros(shape))
        return Split(inputs, flipflop_targets(inputs))

