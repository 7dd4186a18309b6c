"""The "memory" analysis of `cli.py analyze`: kernel, capacity and Fisher curve in one Dataset."""
from __future__ import annotations

import json

import numpy as np
import torch
import xarray as xr

from .fisher import fisher_memory_curve
from .kernel import memory_kernel
from .capacity import memory_capacity
from .._core.options import resolve_dtype

__all__ = ["linearisation", "memory_analysis"]


def linearisation(system, *, input_channel: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(A, v)``: ``A = ∂F/∂h`` and ``v = ∂F/∂x[:, input_channel]`` at the initial state, zero input.

    >>> import torch, dynalysis
    >>> W = torch.tensor([[0.0, 0.5], [0.2, 0.0]], dtype=torch.float64)
    >>> rnn = dynalysis.MapSystem(lambda h, x: torch.tanh(h @ W.T + x), 2, 2)
    >>> A, v = linearisation(rnn)
    >>> A.tolist(), v.tolist()
    ([[0.0, 0.5], [0.2, 0.0]], [1.0, 0.0])
    """
    sys_ = system.to(dtype=torch.float64)
    h = sys_.initial_state(1, dtype=torch.float64)
    x = torch.zeros(1, system.input_size, dtype=torch.float64, device=h.device)
    with torch.no_grad():
        A = sys_.jacobian(h, x)[0]
    with torch.enable_grad():  # v = (∂F/∂x) e_c as the gradient of u ↦ uᵀ(∂F/∂x) e_c (two reverse passes)
        x = x.clone().requires_grad_(True)
        y = sys_.step(h, x)
        u = torch.zeros_like(y, requires_grad=True)
        (g,) = torch.autograd.grad(y, x, u, create_graph=True)
        (v,) = torch.autograd.grad(g[0, input_channel], u)
    return A.cpu().numpy(), v[0].detach().cpu().numpy()


def memory_analysis(system, inputs, *, max_lag: int, seed: int = 0, dtype="float64",
                    n_trajectories: int = 1) -> xr.Dataset:
    """Memory kernel on ``inputs``, memory capacity, and the Fisher memory curve of the
    linearisation ``(A, v)`` (`linearisation`): stationary when ``ρ(A) < 1``, otherwise over a
    horizon of ``max_lag + 1`` steps (attribute ``fisher_horizon``).

    Returns one Dataset on the shared ``lag`` axis with the variables of `memory_kernel`,
    `memory_capacity` and `fisher_memory_curve`; each part's options are kept in the
    attributes ``kernel_options``, ``capacity_options`` and ``fisher_options``.
    """
    dtype = resolve_dtype(dtype)
    kernel = memory_kernel(system, inputs, max_lag=max_lag, dtype=dtype)
    capacity = memory_capacity(system, max_lag=max_lag, seed=seed, dtype=dtype,
                               n_trajectories=n_trajectories)
    A, v = linearisation(system)
    rho = float(np.abs(np.linalg.eigvals(A)).max())
    horizon = None if rho < 1 - 1e-9 else max_lag + 1
    fisher = fisher_memory_curve(A, v, max_lag=max_lag, horizon=horizon)
    ds = xr.merge([kernel, capacity, fisher], combine_attrs="drop")
    ds.attrs.update(kernel.attrs)
    ds.attrs.update(
        analysis="memory", title="dynalysis memory",
        options=json.dumps({"max_lag": int(max_lag), "seed": int(seed),
                            "dtype": str(dtype).replace("torch.", ""),
                            "n_trajectories": int(n_trajectories)}, sort_keys=True),
        kernel_options=kernel.attrs["options"], capacity_options=capacity.attrs["options"],
        fisher_options=fisher.attrs["options"], seed=int(seed),
        fisher_linearisation="A = dF/dh, v = dF/dx[:, 0] at the initial state with zero input",
        fisher_spectral_radius=rho, fisher_horizon="stationary" if horizon is None else int(horizon))
    return ds
