"""Forward simulation of the held-input map: where the network itself goes, fast.

`settle` iterates ``h ← F(h, x*)`` from many states at once and extrapolates along the slowest
mode (Aitken's Δ² process, vectorised): near an attractor that contracts by ``r`` a step,
``h_t − h* ≈ c rᵗ v``, so from two steps ``d₁``, ``d₂`` measured ``B`` steps apart (aligned,
shrinking) ``r = (‖d₂‖/‖d₁‖)^(1/B)`` and the remaining path sums to ``d₂ r / (1 − r)``. Trained
flip-flop GRUs contract by only ~1e-4 a step, where plain simulation needs ~10⁵ steps to
settle; with the jump a few thousand do. A row stops when its predicted remaining distance
``‖d₂‖ / (1 − r)`` is below ``radius``. A jump can only change which attractor a row reaches
(the end states are checked as fixed points afterwards), never report a point that is not.

`simulate_attractors` is the cross-check of a search: settled end states of visited states,
polished by the Levenberg–Marquardt solver, that converge to a fixed point with spectral
radius below ``1 − marginal_tol`` are attractors reached by simulation; those farther than
the de-duplication radius from every stable fixed point the search reported are *missed
attractors* (`count_missed`), announced by a `dynalysis.MissedAttractorWarning`; so is a
simulation that ends on a periodic orbit (an attractor that is no fixed point: a WCRNN
flip-flop can hold its memories as 2-cycles). The search itself starts some rows from settled
states (`spread_picks` of the visited states).
"""
from __future__ import annotations

import numpy as np
import torch

from .classify import _best_of, _components
from .solver import levenberg_marquardt

__all__ = ["settle", "spread_picks", "simulate_attractors", "count_missed"]

_POLISH_ITER = 50
_BLOCK = 100  # steps between the two measured steps of an extrapolation
_ALIGNED = 0.99  # cosine between d1 and d2 above which the motion is along one mode


def settle(sys_, h: torch.Tensor, x: torch.Tensor, *, steps: int, radius: float, max_jump: float) -> torch.Tensor:
    """End states ``(n, S)`` of at most ``steps`` steps of ``F(·, x)`` from ``h (n, S)`` with
    ``x (n, d)``, extrapolated along the slowest mode (jumps at most ``max_jump`` long); rows
    whose predicted remaining distance falls below ``radius``, or that are not finite, stop."""
    h = h.clone()
    active = torch.nonzero(torch.isfinite(h).all(1)).ravel()
    block, done = max(1, min(_BLOCK, steps // 2)), 0
    with torch.no_grad():
        while done + 2 * block <= steps and active.numel():
            ha, xa = h[active], x[active]
            d = []
            for _ in range(2):
                for _ in range(block - 1):
                    ha = sys_.step(ha, xa)
                nxt = sys_.step(ha, xa)
                d.append(nxt - ha)
                ha = nxt
            done += 2 * block
            n1, n2 = d[0].norm(dim=1), d[1].norm(dim=1)
            cos = (d[0] * d[1]).sum(1) / (n1 * n2).clamp(min=torch.finfo(h.dtype).tiny)
            r = (n2 / n1.clamp(min=torch.finfo(h.dtype).tiny)).clamp(max=1.0) ** (1.0 / block)
            slow = (cos > _ALIGNED) & (r < 1) & (n2 < n1)
            gain = torch.where(slow, r / (1 - r).clamp(min=torch.finfo(h.dtype).eps), torch.zeros_like(r))
            jump = d[1] * gain[:, None]
            length = jump.norm(dim=1, keepdim=True)
            ha = ha + jump * (max_jump / length.clamp(min=max_jump))
            h[active] = ha
            remaining = torch.where(slow, n2 / (1 - r).clamp(min=torch.finfo(h.dtype).eps), n2 * float("inf"))
            keep = torch.isfinite(ha).all(1) & ~((remaining < radius) | (n2 == 0))
            active = active[keep]
        ha, xa = h[active], x[active]
        for _ in range(steps - done if active.numel() else 0):  # what is left of the budget
            ha = sys_.step(ha, xa)
        h[active] = ha
    return h


def spread_picks(states: torch.Tensor, k: int, *, seed: int) -> torch.Tensor:
    """``k`` rows of ``states (M, S)`` spread over the cloud: greedy farthest-point sampling
    from a seeded first row (each next pick the row farthest from those picked), so that rarely
    visited regions get starts too. Rows repeat only when ``k > M``."""
    M = states.shape[0]
    if k == 0 or M == 0:
        return states[:0]
    g = torch.Generator().manual_seed(int(seed) + 104729)
    first = int(torch.randint(M, (1,), generator=g))
    picks = [first]
    dmin = (states - states[first]).norm(dim=1)
    for _ in range(min(k, M) - 1):  # a loop over picks, each one vectorised over the M states
        j = int(dmin.argmax())
        picks.append(j)
        dmin = torch.minimum(dmin, (states - states[j]).norm(dim=1))
    idx = torch.as_tensor(picks)
    return states[idx[torch.arange(k) % len(idx)]]


def simulate_attractors(sys_, visited: torch.Tensor, x_star: torch.Tensor, *, n_starts: int, steps: int,
                        tol: float, radius: float, marginal_tol: float, seed: int, max_jump: float):
    """Distinct stable fixed points ``(A, S)`` reached by settling the map at ``x_star (1, d)``
    from ``n_starts`` visited states (seeded random choice, independent of the search's
    starts) for at most ``steps`` steps and polishing; the number of simulations that did not
    end at a stable fixed point (the non-finite counted); and the shortest period
    ``p ≤ MAX_PERIOD`` of those that end on a period-p orbit, ``‖Fᵖ(h) − h‖ < radius`` (0 where
    none does): their attractor is a cycle, which no fixed-point search can report."""
    S = sys_.state_size
    if visited is None or visited.shape[0] == 0 or n_starts == 0 or steps == 0:
        return np.zeros((0, S)), 0, 0
    g = torch.Generator().manual_seed(int(seed) + 7919)
    h = visited[torch.randint(visited.shape[0], (n_starts,), generator=g)].to(x_star.device, x_star.dtype)
    x = x_star.expand(n_starts, -1)
    h = settle(sys_, h, x, steps=steps, radius=radius, max_jump=max_jump)
    ok = torch.isfinite(h).all(1)
    end, x = h[ok], x[ok]
    h, q, _ = levenberg_marquardt(sys_, end.clone(), x, max_iter=_POLISH_ITER, tol=tol)
    q_np = q.cpu().numpy()
    stable = np.isfinite(q_np) & (q_np < tol)
    if stable.any():  # a fixed point that the end state was polished to; stable or not
        with torch.no_grad():
            J = sys_.jacobian(h[torch.as_tensor(stable, device=h.device)], x[:int(stable.sum())])
        stable[stable] = torch.linalg.eigvals(J).abs().amax(1).cpu().numpy() < 1 - marginal_tol
    # a simulation that ends on a cycle is polished to the unstable point inside it: unsettled
    rest = torch.as_tensor(~stable, device=end.device)
    period = _period(sys_, end[rest], x[rest], radius)
    ends = h.cpu().numpy()[stable]
    if len(ends):
        ends = ends[_best_of(_components(ends, radius), q_np[stable])]
    return ends.reshape(-1, S), int((~stable).sum()) + int((~ok).sum()), period


MAX_PERIOD = 8


def _period(sys_, h: torch.Tensor, x: torch.Tensor, radius: float) -> int:
    """Shortest ``p`` in 2..MAX_PERIOD with ``‖Fᵖ(h) − h‖ < radius < ‖F(h) − h‖`` for some row of
    ``h``; 0 if none."""
    if not h.shape[0]:
        return 0
    with torch.no_grad():
        g = sys_.step(h, x)
        moving = (g - h).norm(dim=1) > radius  # a row creeping towards a fixed point is no orbit
        for p in range(2, MAX_PERIOD + 1):
            g = sys_.step(g, x)
            if bool((moving & ((g - h).norm(dim=1) < radius)).any()):
                return p
    return 0


def count_missed(attractors: np.ndarray, reported: np.ndarray, radius: float) -> int:
    """Number of ``attractors (A, S)`` farther than ``radius`` from every ``reported (P, S)``."""
    if not len(attractors):
        return 0
    if not len(reported):
        return len(attractors)
    d = np.linalg.norm(attractors[:, None, :] - reported[None, :, :], axis=-1).min(1)
    return int((d > radius).sum())
