"""Initializers by name, as the cells' ``init`` / ``input_init`` options select them.

``recurrent_init(name, N, options)`` returns an ``(N, N)`` hidden-to-hidden matrix and
``input_init(name, N, d, options)`` an ``(N, d)`` input matrix; ``options`` are the keyword
options of the named function, checked against its signature so that a typo in a config file
fails with the list of allowed names.
"""
from __future__ import annotations

import inspect
from typing import Callable

import torch
from torch import Tensor

from ...errors import OptionError
from ..._core.options import check_option
from ._chain import chain, chain_feedback, source_input
from ._dense import identity, kaiming, normal, np_rnn, orthogonal, uniform, xavier
from ._eigen import eigen
from ._residual import wcrnn

__all__ = ["RECURRENT_INITS", "INPUT_INITS", "recurrent_init", "input_init", "call_with_options"]

RECURRENT_INITS: dict[str, Callable[..., Tensor]] = {
    "normal": normal, "uniform": uniform, "xavier": xavier, "kaiming": kaiming,
    "orthogonal": orthogonal, "identity": identity, "np_rnn": np_rnn, "eigen": eigen,
    "chain": chain, "chain_feedback": chain_feedback, "wcrnn": wcrnn,
}
INPUT_INITS: dict[str, Callable[..., Tensor]] = {
    "normal": normal, "uniform": uniform, "xavier": xavier, "kaiming": kaiming,
    "source": source_input,
}
_PLUMBING = ("generator", "dtype")


def option_names(fn: Callable) -> tuple[str, ...]:
    """The keyword-only options of an initializer (without ``generator`` and ``dtype``)."""
    params = inspect.signature(fn).parameters.values()
    return tuple(p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name not in _PLUMBING)


def call_with_options(fn: Callable, name: str, args: tuple, options: dict | None, *,
                      generator: torch.Generator | None, dtype: torch.dtype | None) -> Tensor:
    """Call ``fn(*args, **options)`` after checking ``options`` against its signature."""
    options = dict(options or {})
    allowed = option_names(fn)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise OptionError(f"invalid option(s) {', '.join(map(repr, unknown))} for initializer "
                          f"{name!r}; allowed options: {', '.join(allowed) or '(none)'}")
    params = inspect.signature(fn).parameters
    if "generator" in params:
        options["generator"] = generator
    return fn(*args, dtype=dtype, **options)


def recurrent_init(name: str, n: int, options: dict | None = None, *,
                   generator: torch.Generator | None = None,
                   dtype: torch.dtype | None = None) -> Tensor:
    """``(N, N)`` recurrent matrix from the initializer called ``name``.

    Parameters
    ----------
    name : str
        One of `RECURRENT_INITS`: "normal", "uniform", "xavier", "kaiming", "orthogonal",
        "identity", "np_rnn", "eigen", "chain", "chain_feedback", "wcrnn".
    n : int
    options : dict, optional
        Keyword options of that function (e.g. ``{"r_min": 0.9}`` for "eigen").
    generator, dtype : optional
    """
    check_option("init", name, tuple(RECURRENT_INITS))
    return call_with_options(RECURRENT_INITS[name], name, (n,), options, generator=generator,
                             dtype=dtype)


def input_init(name: str, n: int, d: int, options: dict | None = None, *,
               generator: torch.Generator | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """``(N, d)`` input matrix from the initializer called ``name``.

    Parameters
    ----------
    name : str
        One of `INPUT_INITS`: "normal", "uniform", "xavier", "kaiming", "source".
    n, d : int
    options : dict, optional
    generator, dtype : optional
    """
    check_option("input_init", name, tuple(INPUT_INITS))
    return call_with_options(INPUT_INITS[name], name, (n, d), options, generator=generator,
                             dtype=dtype)
