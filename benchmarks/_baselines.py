"""The two reference implementations the Lyapunov engine is compared with.

1. ``full_jacobian_qr``: the straightforward method — for every trajectory and step, the full
   Jacobian from ``torch.autograd.functional.jacobian`` (its defaults), then a QR of ``J Q``.
2. ``lyapynov_lce``: the `lyapynov` package (P. Kuptsov's algorithms, numpy), on the same map,
   weights, inputs and initial state, with the analytic full Jacobian as its ``jac``.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.autograd.functional import jacobian


def full_jacobian_qr(system, inputs: torch.Tensor, h0: torch.Tensor, *, transient: int,
                     steps: int, vectorize: bool = False, seed: int = 0) -> np.ndarray:
    """Exponents ``(B, S)`` after ``steps`` steps (the first ``transient`` not averaged)."""
    B, _, _ = inputs.shape
    S = system.state_size
    g = torch.Generator().manual_seed(seed)
    out = np.zeros((B, S))
    for b in range(B):
        h = h0[b].clone()
        Q = torch.linalg.qr(torch.randn(S, S, generator=g, dtype=h.dtype)).Q
        log_sum = torch.zeros(S, dtype=h.dtype)
        for t in range(steps):
            x = inputs[b, t]
            J = jacobian(lambda s: system.step(s[None], x[None])[0], h, vectorize=vectorize)
            with torch.no_grad():
                h = system.step(h[None], x[None])[0]
                Q, R = torch.linalg.qr(J @ Q)
                if t >= transient:
                    log_sum += R.diagonal().abs().log()
        out[b] = np.sort(log_sum.numpy() / max(1, steps - transient))[::-1]
    return out


def lyapynov_available() -> bool:
    try:
        import lyapynov  # noqa: F401
    except ImportError:
        return False
    return True


def _numpy_map(net, cell: str, drive_of_b):
    """``(f(x, t), jac(x, t))`` of a WCRNN or Elman net in numpy, input drive precomputed."""
    if cell == "wcrnn":
        W = net.W.detach().double().numpy()
        R = net.residual_matrix().detach().double().numpy()
        eps = net.epsilon

        def f(x, t):
            return R @ x + eps * np.tanh(W @ x + drive_of_b[int(t)])

        def jac(x, t):
            th = np.tanh(W @ x + drive_of_b[int(t)])
            return R + (eps * (1 - th * th))[:, None] * W

        return f, jac
    W = net.rnn.weight_hh_l0.detach().double().numpy()

    def f(x, t):
        return np.tanh(W @ x + drive_of_b[int(t)])

    def jac(x, t):
        h = np.tanh(W @ x + drive_of_b[int(t)])
        return (1 - h * h)[:, None] * W

    return f, jac


def input_drive(net, cell: str, inputs: torch.Tensor) -> np.ndarray:
    """``V x_t + b`` for every trajectory and step, ``(B, T, N)`` float64 numpy."""
    with torch.no_grad():
        x = inputs.double()
        if cell == "wcrnn":
            d = x @ net.V.detach().double().T + net.b.detach().double()
        else:
            r = net.rnn
            d = x @ r.weight_ih_l0.detach().double().T + (r.bias_ih_l0 + r.bias_hh_l0).detach().double()
    return d.numpy()


def lyapynov_lce(net, cell: str, inputs: torch.Tensor, h0: torch.Tensor, *, transient: int,
                 n_compute: int) -> np.ndarray:
    """`lyapynov.LCE` per trajectory: exponents ``(B, N)`` sorted descending.

    numpy's BLAS/LAPACK get as many threads as torch has (threadpoolctl), so both sides run
    on the same cores.
    """
    import lyapynov
    from threadpoolctl import threadpool_limits

    drive = input_drive(net, cell, inputs)
    out = []
    with threadpool_limits(limits=torch.get_num_threads()):
        for b in range(inputs.shape[0]):
            f, jac = _numpy_map(net, cell, drive[b])
            ds = lyapynov.DiscreteDS(h0[b].double().numpy().copy(), 0, f, jac)
            lce = lyapynov.LCE(ds, h0.shape[1], transient, n_compute, False)
            out.append(np.sort(lce)[::-1])
    return np.stack(out)
