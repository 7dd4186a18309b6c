"""Cross-check of a fixed-point search by forward simulation: attractors it did not report.

From visited states, the map is iterated at the held input ``x*`` for ``check_steps`` steps —
where the network itself goes when the input stays constant. Each end state is then polished
by the same Levenberg–Marquardt solver (a few dozen iterations: trained GRUs contract by 1e-4
a step, so simulation alone settles slowly); an end state that converges to a fixed point with
spectral radius below ``1 − marginal_tol`` is an attractor reached by simulation. Those
farther than the de-duplication radius from every stable fixed point the search reported are
*missed attractors*: counted in the result and announced by a `dynalysis.MissedAttractorWarning`.
"""
from __future__ import annotations

import numpy as np
import torch

from .classify import _best_of, _components
from .solver import levenberg_marquardt

__all__ = ["simulate_attractors", "count_missed"]

_POLISH_ITER = 50


def simulate_attractors(sys_, visited: torch.Tensor, x_star: torch.Tensor, *, n_starts: int, steps: int,
                        tol: float, radius: float, marginal_tol: float, seed: int) -> np.ndarray:
    """Distinct stable fixed points ``(A, S)`` reached by iterating the map at ``x_star (1, d)``
    from ``n_starts`` visited states (seeded choice) for ``steps`` steps and polishing."""
    S = sys_.state_size
    if visited is None or visited.shape[0] == 0 or n_starts == 0 or steps == 0:
        return np.zeros((0, S))
    g = torch.Generator().manual_seed(int(seed) + 7919)
    h = visited[torch.randint(visited.shape[0], (n_starts,), generator=g)].to(x_star.device, x_star.dtype)
    x = x_star.expand(n_starts, -1)
    with torch.no_grad():
        for _ in range(steps):
            h = sys_.step(h, x)
    ok = torch.isfinite(h).all(1)
    h, q, stop = levenberg_marquardt(sys_, h[ok].clone(), x[ok], max_iter=_POLISH_ITER, tol=tol)
    h_np, q_np = h.cpu().numpy(), q.cpu().numpy()
    fixed = np.isfinite(q_np) & (q_np < tol)
    ends = h_np[fixed]
    if not len(ends):
        return np.zeros((0, S))
    labels = _components(ends, radius)
    ends = ends[_best_of(labels, q_np[fixed])]
    with torch.no_grad():
        J = sys_.jacobian(torch.as_tensor(ends, dtype=x_star.dtype, device=x_star.device),
                          x_star.expand(len(ends), -1))
    rho = torch.linalg.eigvals(J).abs().amax(1).cpu().numpy()
    return ends[rho < 1 - marginal_tol]


def count_missed(attractors: np.ndarray, reported: np.ndarray, radius: float) -> int:
    """Number of ``attractors (A, S)`` farther than ``radius`` from every ``reported (P, S)``."""
    if not len(attractors):
        return 0
    if not len(reported):
        return len(attractors)
    d = np.linalg.norm(attractors[:, None, :] - reported[None, :, :], axis=-1).min(1)
    return int((d > radius).sum())
