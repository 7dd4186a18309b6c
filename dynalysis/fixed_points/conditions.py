"""Input conditions of a fixed-point search: the constant inputs ``x*`` the map is held at.

A network's fixed points depend on the input it holds; a one-hot task never holds the zero
vector, so its fixed points must be sought at the inputs it does hold (docs/science.md §6).
`resolve_conditions` turns the ``conditions=`` option of `find_fixed_points` into names and a
``(condition, input_size)`` tensor, checking everything before any step of the map:

- ``"zero"``: the zero input (the autonomous dynamics);
- ``"mean"``: the mean of the driving inputs over trajectories and time;
- ``"symbols"``: each distinct one-hot vector of the inputs (named ``onehot_k``, ``k`` the hot
  channel), in channel order;
- a vector of shape ``(input_size,)``, a ``(C, input_size)`` array, or a mapping
  ``{name: vector}`` (e.g. a task's `input_conditions()`);
- a list mixing any of these.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import torch

from ..errors import OptionError

__all__ = ["resolve_conditions", "CONDITION_WORDS"]

CONDITION_WORDS = ("zero", "mean", "symbols")


def _allowed(d: int) -> str:
    return (f"allowed: 'zero', 'mean', 'symbols', a vector of shape ({d},), a (C, {d}) array, a "
            "{name: vector} mapping, or a list of these")


def _vector(name: str, value, d: int, *, dtype, device) -> torch.Tensor:
    try:
        v = torch.as_tensor(np.asarray(value, dtype=np.float64), dtype=dtype, device=device)
    except (TypeError, ValueError):
        raise OptionError(f"condition {name!r} is not a numeric vector; {_allowed(d)}") from None
    if v.shape != (d,) or not torch.isfinite(v).all():
        raise OptionError(f"condition {name!r} must be finite with shape ({d},), got shape {tuple(v.shape)}")
    return v


def _symbols(x: torch.Tensor, d: int) -> list[tuple[str, torch.Tensor]]:
    flat = x.reshape(-1, d)
    flat = flat[torch.isfinite(flat).all(1)]
    one_hot = ((flat == 0) | (flat == 1)).all(1) & (flat.sum(1) == 1)
    if flat.shape[0] == 0 or not one_hot.all():
        bad = int((~one_hot).sum()) if flat.shape[0] else 0
        raise OptionError(f"conditions='symbols' needs one-hot inputs (each step one 1, the rest 0), but "
                          f"{bad} of {flat.shape[0]} input steps are not; use 'zero', 'mean' or explicit vectors")
    hot = torch.unique(flat.argmax(1)).tolist()
    eye = torch.eye(d, dtype=x.dtype, device=x.device)
    return [(f"onehot_{k}", eye[k]) for k in hot]


def resolve_conditions(system, conditions, x, *, dtype, device) -> tuple[list[str], torch.Tensor]:
    """Names and constant inputs ``(C, input_size)`` of ``conditions`` (see the module notes).

    ``x`` are the checked driving inputs (or None); ``"mean"`` and ``"symbols"`` need them.
    Names are unique (a repeated name gets a ``_2``, ``_3`` suffix).

    >>> import torch, dynalysis
    >>> s = dynalysis.MapSystem(lambda h, x: h, 1, 3)
    >>> x = torch.eye(3, dtype=torch.float64)[[0, 2, 2]].reshape(1, 3, 3)
    >>> names, values = resolve_conditions(s, ["zero", "symbols"], x, dtype=torch.float64, device=None)
    >>> names, values.tolist()
    (['zero', 'onehot_0', 'onehot_2'], [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    """
    d = system.input_size
    if conditions is None:
        conditions = "zero"
    items = conditions if isinstance(conditions, (list, tuple)) else [conditions]
    if isinstance(conditions, (np.ndarray, torch.Tensor)):
        arr = np.asarray(conditions.detach().cpu() if isinstance(conditions, torch.Tensor) else conditions)
        items = [arr] if arr.ndim == 1 else list(arr) if arr.ndim == 2 else None
        if items is None:
            raise OptionError(f"conditions array must have shape ({d},) or (C, {d}), got {arr.shape}")
    if isinstance(conditions, (list, tuple)) and conditions and all(
            isinstance(c, (int, float, np.floating, np.integer)) for c in conditions):
        items = [conditions]  # a single vector written as a list of numbers
    if not items:
        raise OptionError(f"conditions is empty; {_allowed(d)}")
    out: list[tuple[str, torch.Tensor]] = []
    for k, item in enumerate(items):
        if isinstance(item, str):
            if item not in CONDITION_WORDS:
                raise OptionError(f"invalid condition {item!r}; {_allowed(d)}")
            if item == "zero":
                out.append(("zero", torch.zeros(d, dtype=dtype, device=device)))
            elif x is None:
                raise OptionError(f"condition {item!r} needs inputs (shape (trajectory, time, {d}))")
            elif item == "mean":
                out.append(("mean", x.reshape(-1, d).mean(0).to(dtype)))
            else:
                out.extend(_symbols(x, d))
        elif isinstance(item, Mapping):
            if not item:
                raise OptionError(f"conditions mapping is empty; {_allowed(d)}")
            out.extend((str(name), _vector(str(name), v, d, dtype=dtype, device=device)) for name, v in item.items())
        else:
            out.append((f"given_{k}", _vector(f"given_{k}", item, d, dtype=dtype, device=device)))
    names, seen = [], {}
    for name, _ in out:
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return names, torch.stack([v.to(dtype=dtype, device=device) for _, v in out])
