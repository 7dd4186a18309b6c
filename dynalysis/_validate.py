"""Input checks shared by the analyses: shapes, dtypes and step counts, before any work starts."""
from __future__ import annotations

import numpy as np
import torch

from ._errors import OptionError

__all__ = ["as_inputs", "as_initial_state", "resolve_dtype"]

_DTYPES = {"float64": torch.float64, "float32": torch.float32, "double": torch.float64,
           "float": torch.float32}


def resolve_dtype(dtype) -> torch.dtype:
    """Accept a torch dtype or its name; analyses default to float64."""
    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float32, torch.float64):
            raise OptionError(f"invalid dtype={dtype}; allowed values: torch.float64, torch.float32")
        return dtype
    if dtype in _DTYPES:
        return _DTYPES[dtype]
    raise OptionError(f"invalid dtype={dtype!r}; allowed values: 'float64', 'float32'")


def as_inputs(system, inputs, *, dtype, device, min_steps: int = 1, name: str = "inputs") -> torch.Tensor:
    """Check and convert driving inputs to a ``(trajectory, time, input_size)`` tensor."""
    if isinstance(inputs, np.ndarray) or isinstance(inputs, (list, tuple)):
        inputs = torch.as_tensor(np.asarray(inputs))
    if not isinstance(inputs, torch.Tensor):
        raise OptionError(f"{name} must be a tensor or array of shape (trajectory, time, "
                          f"input_size), got {type(inputs).__name__}")
    if inputs.ndim != 3:
        raise OptionError(f"{name} must have shape (trajectory, time, input_size={system.input_size}), "
                          f"got shape {tuple(inputs.shape)}; use dynalysis.zero_inputs for autonomous maps")
    if inputs.shape[2] != system.input_size:
        raise OptionError(f"{name} has input width {inputs.shape[2]} but the system takes "
                          f"input_size={system.input_size}")
    if inputs.shape[0] < 1:
        raise OptionError(f"{name} must hold at least one trajectory")
    if inputs.shape[1] < min_steps:
        raise OptionError(f"{name} has {inputs.shape[1]} time steps; this analysis needs at least {min_steps}")
    if not torch.isfinite(inputs).all():
        raise OptionError(f"{name} contain NaN or inf values")
    return inputs.to(dtype=dtype, device=device)


def as_initial_state(system, initial_state, batch: int, *, dtype, device) -> torch.Tensor:
    """``None`` → the system's initial state; ``(S,)`` broadcasts; ``(batch, S)`` as given."""
    if initial_state is None:
        return system.initial_state(batch, dtype=dtype, device=device)
    h = torch.as_tensor(initial_state).to(dtype=dtype, device=device)
    if h.ndim == 1:
        h = h.expand(batch, -1)
    if h.shape != (batch, system.state_size):
        raise OptionError(f"initial_state must have shape ({batch}, {system.state_size}) or "
                          f"({system.state_size},), got {tuple(h.shape)}")
    return h.clone()


def zero_inputs(system, n_trajectories: int, steps: int, *, dtype=torch.float64) -> torch.Tensor:
    """Zero inputs ``(n_trajectories, steps, input_size)`` for autonomous runs of ``system``.

    >>> import dynalysis, torch
    >>> logistic = dynalysis.MapSystem(lambda h, x: 4 * h * (1 - h), 1)
    >>> dynalysis.zero_inputs(logistic, 2, 5).shape
    torch.Size([2, 5, 0])
    """
    return torch.zeros(int(n_trajectories), int(steps), system.input_size, dtype=dtype)
