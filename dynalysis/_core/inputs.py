"""Driving inputs: shape checks, initial states, zero inputs and a checkpoint's own task data."""
from __future__ import annotations

import numpy as np
import torch

from ..errors import DynalysisError, OptionError, StepMapError
from .options import check_positive_int

__all__ = ["as_inputs", "as_initial_state", "zero_inputs", "task_inputs"]

def as_inputs(system, inputs, *, dtype, device, min_steps: int = 1, name: str = "inputs",
              needed_for: str | None = None) -> torch.Tensor:
    """Check and convert driving inputs to a ``(trajectory, time, input_size)`` tensor.

    ``needed_for`` names the options that set ``min_steps`` (e.g. ``"transient + 1"``), so that
    the error says which option to change.
    """
    if isinstance(inputs, torch.nn.utils.rnn.PackedSequence):
        raise StepMapError(f"{name}: packed sequences are not a step map's input (each sequence "
                           "ends at its own time, which trajectories advanced together cannot "
                           "represent); pass a padded (trajectory, time, input) tensor, one length at a time")
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
        why = f" ({needed_for})" if needed_for else ""
        raise OptionError(f"{name} has {inputs.shape[1]} time steps; this analysis needs at least {min_steps}{why}")
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



def task_inputs(system_or_task, *, split: str = "test", n_trajectories: int = 8,
                steps: int | None = None, seed: int = 0) -> torch.Tensor:
    """Inputs ``(n_trajectories, steps, input_size)`` drawn from a task's data.

    Each trajectory concatenates randomly chosen sequences of ``split`` in time, so that
    trajectories can be longer than one task sequence (the network is not reset between
    sequences, as in a continuously driven system).

    Parameters
    ----------
    system_or_task : System with ``metadata["task"]`` (a loaded checkpoint), a task spec dict,
        or a `dynalysis.tasks.Task`.
    split : {"train", "val", "test"}, default "test"
    n_trajectories : int, default 8
    steps : int, optional
        Length of each trajectory; one task sequence by default.
    seed : int, default 0
        Seed of the choice of sequences.
    """
    from ..tasks import Task, build_task

    task = system_or_task
    if not isinstance(task, Task):
        spec = task if isinstance(task, dict) else (getattr(task, "metadata", {}) or {}).get("task")
        if not spec:
            raise DynalysisError("this system records no task; pass inputs explicitly "
                                 "(shape (trajectory, time, input_size))")
        spec = dict(spec)
        task = build_task(spec.pop("name"), **spec)
    n = check_positive_int("n_trajectories", n_trajectories)
    data = task.split(split).inputs
    T = data.shape[1]
    steps = T if steps is None else check_positive_int("steps", steps)
    reps = -(-steps // T)
    g = torch.Generator().manual_seed(int(seed))
    idx = torch.randint(len(data), (n, reps), generator=g)
    return data[idx].reshape(n, reps * T, -1)[:, :steps].contiguous()
