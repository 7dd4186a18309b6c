"""Driving inputs from a checkpoint's own task: the data the network was trained on."""
from __future__ import annotations

import torch

from ._errors import DynalysisError, check_positive_int

__all__ = ["task_inputs"]


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
    from .tasks import Task, build_task

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
