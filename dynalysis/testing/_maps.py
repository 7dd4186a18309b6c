"""Reference maps with known answers (docs/science.md §5); see `dynalysis.testing`."""
from __future__ import annotations

import math

import torch

from ..system import MapSystem

__all__ = ["logistic", "henon", "linear_map", "tanh_rnn"]


def logistic(r: float = 4.0) -> MapSystem:
    """Logistic map ``x ← r x (1 − x)`` (state size 1, autonomous); λ = ln 2 at r = 4.

    >>> logistic().step(torch.tensor([[0.25]], dtype=torch.float64), torch.zeros(1, 0)).item()
    0.75
    """
    return MapSystem(lambda h, x: r * h * (1 - h), 1, name=f"logistic map r={r}")


def henon(a: float = 1.4, b: float = 0.3) -> MapSystem:
    """Hénon map ``(x, y) ← (1 − a x² + y, b x)``; constant Jacobian determinant ``−b``.

    >>> henon().step(torch.zeros(1, 2, dtype=torch.float64), torch.zeros(1, 0)).tolist()
    [[1.0, 0.0]]
    """
    def step(h, x):
        return torch.stack([1 - a * h[:, 0] ** 2 + h[:, 1], b * h[:, 0]], 1)

    return MapSystem(step, 2, name=f"Henon map a={a} b={b}")


def linear_map(A, B=None) -> MapSystem:
    """Linear map ``h ← A h`` (+ ``B x`` when ``B (N, d)`` is given), float64.

    Its recurrent matrix is ``A``, the Jacobian at every state.

    >>> import numpy as np
    >>> lin = linear_map(np.diag([0.5, 2.0]))
    >>> lin.step(torch.ones(1, 2, dtype=torch.float64), torch.zeros(1, 0)).tolist()
    [[0.5, 2.0]]
    """
    A = torch.as_tensor(A, dtype=torch.float64)
    N = A.shape[0]
    parameters = {"A": A} if B is None else {"A": A, "B": torch.as_tensor(B, dtype=torch.float64)}

    def step(h, x, p):
        return h @ p["A"].T if B is None else h @ p["A"].T + x @ p["B"].T

    return MapSystem(step, N, 0 if B is None else parameters["B"].shape[1], parameters=parameters,
                     recurrent_matrix=lambda p: p["A"],
                     recurrent_matrix_description="A (the Jacobian, the same at every state)",
                     name=f"linear map {N}x{N}")


def tanh_rnn(n: int = 32, *, gain: float = 0.9, input_size: int = 0, seed: int = 0) -> MapSystem:
    """Random rate network ``h ← tanh(g W h + U x)``, ``W ~ N(0, 1/N)``, ``U ~ N(0, 1/d)``.

    Contracting (λ₁ < 0, fixed point 0) for ``g < 1``, chaotic for ``g`` clearly above 1
    (large N). Its recurrent matrix is ``g W``, the Jacobian at zero pre-activation.
    """
    gen = torch.Generator().manual_seed(int(seed))
    W = torch.randn(n, n, generator=gen, dtype=torch.float64) / math.sqrt(n)
    U = torch.randn(n, max(input_size, 1), generator=gen, dtype=torch.float64) / math.sqrt(max(input_size, 1))

    def step(h, x, p):
        return torch.tanh(h @ p["gW"].T + x @ p["U"].T)

    return MapSystem(step, n, input_size, parameters={"gW": gain * W, "U": U[:, :input_size]},
                     recurrent_matrix=lambda p: p["gW"],
                     recurrent_matrix_description="g*W (the Jacobian at zero pre-activation)",
                     name=f"tanh RNN N={n} g={gain}")
