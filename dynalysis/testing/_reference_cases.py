"""Reference cases of the Lyapunov engine: closed forms (docs/science.md §5–6), the shipped
cells, Hénon, non-normal maps and flows, as ``(name, system, inputs, initial_state, exact)``.

Used to check that the QR schedules agree (``reortho_every="auto"`` against every step) in
`tests/test_reortho_auto_reference.py` and `benchmarks/reortho_auto_check.py`. Sizes are small
(a few thousand steps, at most 16 states), so that every case runs in about a second.
"""
from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["reference_cases"]

F64 = torch.float64


def _linear(A: torch.Tensor, name: str):
    from ..system import MapSystem

    return MapSystem(lambda h, x, p: h @ p["A"].T, A.shape[0], parameters={"A": A}, name=name)


def _rotation(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.linalg.qr(torch.randn(n, n, generator=g, dtype=F64)).Q


def _drive(B: int, T: int, d: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(B, T, d, generator=torch.Generator().manual_seed(seed), dtype=F64)


def reference_cases(quick: bool = False):
    """Yield ``(name, system, inputs, initial_state, exact)``; ``exact`` is the closed-form
    spectrum (sorted, descending) or None."""
    import dynalysis
    from ..models import build_model
    from ..system import MapSystem, ModuleSystem

    T = 1000 if quick else 3000
    zeros = dynalysis.zero_inputs
    logistic = MapSystem(lambda h, x: 4 * h * (1 - h), 1, name="logistic")
    yield "logistic 4x(1-x)", logistic, zeros(logistic, 4, T), torch.tensor([[0.31], [0.17], [0.42], [0.66]], dtype=F64), [math.log(2)]
    henon = MapSystem(lambda h, x: torch.stack([1 - 1.4 * h[:, 0] ** 2 + h[:, 1], 0.3 * h[:, 0]], 1), 2,
                      name="henon")
    yield "Hénon a=1.4 b=0.3", henon, zeros(henon, 4, T), torch.tensor([0.1, 0.1], dtype=F64), [0.4192, -1.6232]
    moduli = [1.2, 0.9, -0.5, 0.3]
    U = _rotation(4, 0)
    A = U @ torch.diag(torch.tensor(moduli, dtype=F64)) @ U.T
    yield "linear, normal (moduli 1.2 0.9 0.5 0.3)", _linear(A, "linear_normal"), zeros(_linear(A, "l"), 2, T), None, \
        sorted(np.log(np.abs(moduli)).tolist(), reverse=True)
    A = 0.9 * _rotation(6, 1)
    yield "linear, 0.9 x orthogonal (degenerate)", _linear(A, "scaled_rotation"), zeros(_linear(A, "l"), 2, T), None, \
        [math.log(0.9)] * 6
    c = math.sqrt(0.5)
    R = torch.tensor([[c, -c], [c, c]], dtype=F64)
    A = R @ torch.tensor([[1.0, 1.0], [0.0, math.exp(-2.0)]], dtype=F64) @ R.T
    yield "non-normal 2x2 (exponents 0, -2)", _linear(A, "nonnormal2"), zeros(_linear(A, "l"), 2, T), None, [0.0, -2.0]
    J = 0.9 * torch.eye(5, dtype=F64) + torch.diag(torch.ones(4, dtype=F64), 1)
    yield "Jordan block 0.9, size 5 (non-normal, degenerate)", _linear(J, "jordan"), zeros(_linear(J, "l"), 2, T), None, \
        [math.log(0.9)] * 5
    chain = torch.diag(torch.full((7,), 1.0, dtype=F64), -1) + torch.diag(torch.tensor([0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3], dtype=F64))
    yield "lower-triangular chain (exponents ln diag)", _linear(chain, "chain"), zeros(_linear(chain, "l"), 2, T), None, \
        sorted(np.log([0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]).tolist(), reverse=True)
    for g in (0.5, 2.0):
        W = torch.randn(12, 12, generator=torch.Generator().manual_seed(3), dtype=F64) / math.sqrt(12)
        net = MapSystem(lambda h, x, p: torch.tanh(p["g"] * h @ p["W"].T), 12,
                        parameters={"W": W, "g": torch.tensor(g, dtype=F64)}, name=f"tanh_g{g}")
        h0 = torch.randn(2, 12, generator=torch.Generator().manual_seed(4), dtype=F64)
        yield f"random tanh(g W h), g={g}", net, zeros(net, 2, T), h0, None

    def lorenz(h, x):
        u, v, w = h.unbind(-1)
        return torch.stack([10.0 * (v - u), u * (28.0 - w) - v, u * v - 8.0 / 3.0 * w], -1)

    flow = dynalysis.FlowSystem(lorenz, 3, dt=0.01, name="lorenz")
    h0 = torch.tensor([1.0, 1.0, 20.0], dtype=F64) + torch.randn(2, 3, generator=torch.Generator().manual_seed(5),
                                                                  dtype=F64)
    yield "Lorenz flow, RK4 dt=0.01 (per unit time)", flow, zeros(flow, 2, T), h0, [0.9056, 0.0, -14.5723]
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(1, 4, batch_first=True).double()
    with torch.no_grad():
        lstm.weight_hh_l0.zero_()
    # h does not feed back (W_hh = 0): H exponents are -inf exactly, the c block's are the time
    # means of ln f_t (docs/science.md §6)
    yield "nn.LSTM with W_hh = 0 (from_module)", dynalysis.from_module(lstm), _drive(2, T, 1), None, None
    for cell in ("wcrnn", "elman", "lstm", "gru", "linear", "ctrnn", "lru", "ssm"):
        net = build_model(cell, input_size=1, hidden_size=6 if cell != "ssm" else 2, seed=0)
        yield f"cell {cell}", ModuleSystem(net), _drive(2, T, 1), None, None
