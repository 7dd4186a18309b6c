"""The linearisation of a step map at its initial state with zero input.

    A = ∂F/∂h (h_0, 0),        v = ∂F/∂x[:, c] (h_0, 0)

used where an analysis of a linear network (non-normality, the Fisher memory curve) is applied
to a non-linear or gated one.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["linearisation", "LINEARISATION"]

#: how results describe the matrix `linearisation` returns
LINEARISATION = "Jacobian at the initial state, zero input"


def linearisation(system, *, input_channel: int | None = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """``(A, v)``: ``A = ∂F/∂h`` and ``v = ∂F/∂x[:, input_channel]`` at the initial state and zero
    input, in float64 (``v`` is None when ``input_channel`` is None or the map has no inputs).

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
    if input_channel is None or system.input_size == 0:
        return A.cpu().numpy(), None
    with torch.enable_grad():  # v = (∂F/∂x) e_c as the gradient of u ↦ uᵀ(∂F/∂x) e_c (two reverse passes)
        x = x.clone().requires_grad_(True)
        y = sys_.step(h, x)
        u = torch.zeros_like(y, requires_grad=True)
        (g,) = torch.autograd.grad(y, x, u, create_graph=True)
        (v,) = torch.autograd.grad(g[0, input_channel], u)
    return A.cpu().numpy(), v[0].detach().cpu().numpy()
