"""How a cell turns its ``init`` / ``input_init`` / ``bias_init`` options into weights.

Every cell takes the same option names:

- ``init`` (str) and ``init_options`` (dict): the recurrent (hidden-to-hidden) matrix, a
  name from `initializers.RECURRENT_INITS` (plus "mixed" for gated cells), or "default" for
  the cell's own standard initialisation (then ``init_options`` must be empty);
- ``input_init`` (str) and ``input_init_options`` (dict): the input matrix, a name from
  `initializers.INPUT_INITS` or "default";
- ``bias_init``: "zeros" or "uniform" (``U(-1/√N, 1/√N)``, PyTorch's default);
- ``seed``: int for a reproducible initialisation, None to use torch's global generator
  (so ``seed_everything`` applies).

Gated cells draw every gate block independently with the same initializer.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import OptionError
from .._core.options import check_option
from .initializers import INPUT_INITS, RECURRENT_INITS, input_init, mixed, recurrent_init
from .initializers._registry import call_with_options

__all__ = ["init_options_record", "recurrent_weight", "input_weight", "bias_vector"]

BIAS_INITS = ("zeros", "uniform")


def init_options_record(*, init: str, init_options, input_init: str, input_init_options,
                        seed, bias_init: str | None = None) -> dict:
    """The shared initialisation options as primitives (for ``RecurrentNet.options``).

    ``bias_init=None`` (cells without biases) leaves it out of the record.
    """
    for name, value in (("init_options", init_options), ("input_init_options", input_init_options)):
        if value is not None and not isinstance(value, dict):
            raise OptionError(f"{name} must be a dict of keyword options, got {value!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise OptionError(f"seed must be a non-negative integer or None, got {seed!r}")
    record = dict(init=init, init_options=dict(init_options or {}), input_init=input_init,
                  input_init_options=dict(input_init_options or {}), seed=seed)
    if bias_init is not None:
        check_option("bias_init", bias_init, BIAS_INITS)
        record["bias_init"] = bias_init
    return record


def _resolve(option: str, name: str, options: dict, default: tuple[str, dict],
             allowed: tuple[str, ...]) -> tuple[str, dict]:
    check_option(option, name, ("default",) + allowed)
    if name != "default":
        return name, options
    if options:
        raise OptionError(f"{option}_options apply to a named initializer; {option}='default' "
                          f"means {default[0]!r} with {default[1] or 'its defaults'}")
    return default


def recurrent_weight(name: str, options: dict, n: int, *, default: tuple[str, dict],
                     generator: torch.Generator | None, gates: int = 1,
                     mixed_cell: str | None = None, exclude: tuple[str, ...] = ()) -> Tensor:
    """Hidden-to-hidden weights ``(gates·N, N)``, one independently drawn block per gate.

    Parameters
    ----------
    name, options : the cell's ``init`` and ``init_options``
    default : (str, dict)
        What ``init="default"`` means for this cell.
    gates : int
        Number of stacked gate blocks (1 for Elman / WCRNN / linear).
    mixed_cell : {"lstm", "gru"}, optional
        Enables ``init="mixed"`` with that gate layout (see `initializers.mixed`).
    exclude : tuple of str
        Initializers that make no sense for this cell.
    """
    allowed = tuple(k for k in RECURRENT_INITS if k not in exclude)
    allowed += ("mixed",) if mixed_cell else ()
    name, options = _resolve("init", name, options, default, allowed)
    if name == "mixed":
        return call_with_options(mixed, "mixed", (n,), {**options, "cell": mixed_cell},
                                 generator=generator, dtype=torch.float32)
    blocks = [recurrent_init(name, n, options, generator=generator, dtype=torch.float32)
              for _ in range(gates)]
    return torch.cat(blocks, 0)


def input_weight(name: str, options: dict, n: int, d: int, *, default: tuple[str, dict],
                 generator: torch.Generator | None, gates: int = 1) -> Tensor:
    """Input weights ``(gates·N, d)``, one independently drawn block per gate."""
    name, options = _resolve("input_init", name, options, default, tuple(INPUT_INITS))
    blocks = [input_init(name, n, d, options, generator=generator, dtype=torch.float32)
              for _ in range(gates)]
    return torch.cat(blocks, 0)


def bias_vector(name: str, n: int, *, generator: torch.Generator | None, gates: int = 1) -> Tensor:
    """Bias ``(gates·N,)``: zeros, or ``U(-1/√N, 1/√N)`` (PyTorch's RNN default)."""
    check_option("bias_init", name, BIAS_INITS)
    if name == "zeros":
        return torch.zeros(gates * n)
    return (2 * torch.rand(gates * n, generator=generator) - 1) / math.sqrt(n)
