"""A lower bound on the discrete-time Kreiss constant (docs/science.md §6).

    K(A) = sup_{|z| > 1} (|z| − 1) ‖(zI − A)^{-1}‖₂ = sup_{|z| > 1} (|z| − 1) / σ_min(zI − A)

Kreiss matrix theorem (with Spijker's constant): ``K(A) ≤ sup_k ‖A^k‖₂ ≤ e·n·K(A)``. ``K = ∞``
when ``ρ(A) > 1``; ``K ≥ 1`` always (the ratio tends to 1 as ``|z| → ∞``), ``K = 1`` for a normal
``A`` with ``ρ(A) ≤ 1``.

Method: the ratio on a polar grid ``z = (1 + s) e^{iθ}`` (``s`` log-spaced from
``max(1e-12, 1e-4 (1 − ρ))`` to ``10 (1 + ‖A‖_F)``, ``θ`` uniform plus the arguments of the 16
largest eigenvalues, only ``0 ≤ θ ≤ π`` for a real ``A`` whose ratio is symmetric), then a
batched compass search in ``(ln s, θ)`` from the 4 best local maxima of the grid, down to steps
of ``1e-8`` grid spacings (the maximum of a smooth peak to ``~1e-14`` relative). Every value is ``(|z| − 1)/σ̃`` with
``σ̃ ≥ σ_min`` (a Lanczos estimate errs high, `dynalysis.spectra._resolvent`), so the result is a
*lower* bound on ``K``: the optimisation can miss a higher peak, never overshoot one (beyond
round-off).
"""
from __future__ import annotations

import numpy as np

from ._resolvent import sigma_min

__all__ = ["kreiss_lower_bound", "KREISS_METHOD"]

KREISS_METHOD = ("max of (|z|-1)/sigma_min(zI-A) over a polar grid of |z| > 1, refined by compass "
                 "search from the best grid maxima; a lower bound on the Kreiss constant")
_N_THETA, _N_S = 64, 32
_N_STARTS = 4
_N_EIG_ANGLES = 16  # arguments of the largest eigenvalues added to the θ grid
_RHO_TOL = 1.5e-8  # ρ(A) > 1 + this: K = ∞ without search (≈ √u: clearly outside the unit disk)


def kreiss_lower_bound(T: np.ndarray, *, real: bool, seed: int = 0, device=None) -> tuple[float, complex]:
    """``(lower bound on K(A), z where it is attained)`` from the Schur factor ``T`` of ``A``.

    ``real`` says ``A`` is real (the ratio is then symmetric under ``z → z̄``). The point is NaN
    when the bound is the limit 1 at ``|z| → ∞``, an eigenvalue outside the unit disk when
    ``K = ∞``.

    >>> K, z = kreiss_lower_bound(np.diag([0.5, -0.9]).astype(complex), real=True)  # normal
    >>> K, bool(np.isnan(z))
    (1.0, True)
    >>> T = np.array([[0.0, 10.0], [0.0, 0.0]], dtype=complex)  # ‖A^k‖: 1, 10, 0, ...
    >>> K, _ = kreiss_lower_bound(T, real=True)
    >>> bool(1.0 < K <= 10.0 <= np.e * 2 * K)
    True
    """
    lam = np.diag(T)
    rho = float(np.abs(lam).max())
    if rho > 1 + _RHO_TOL:
        return float("inf"), complex(lam[np.argmax(np.abs(lam))])
    s_lo = max(1e-12, 1e-4 * (1 - rho))
    s_hi = 10 * (1 + float(np.linalg.norm(T)))
    s = np.geomspace(s_lo, s_hi, _N_S)
    theta = np.linspace(0, np.pi if real else 2 * np.pi, _N_THETA, endpoint=real)
    big = lam[np.argsort(-np.abs(lam))[:_N_EIG_ANGLES]]
    eig_angles = np.angle(big[np.abs(big) > 0])
    theta = np.unique(np.concatenate([theta, np.abs(eig_angles) if real else np.mod(eig_angles, 2 * np.pi)]))
    S, TH = np.meshgrid(s, theta, indexing="ij")
    sig, _ = sigma_min(T, (1 + S) * np.exp(1j * TH), rtol=1e-4, seed=seed, device=device)
    with np.errstate(divide="ignore"):
        ratio = np.where(sig > 0, S / sig, np.inf)
    if np.isinf(ratio).any():  # an eigenvalue on |z| = 1 + s: σ_min = 0 there
        i = np.unravel_index(np.argmax(ratio), ratio.shape)
        return float("inf"), complex((1 + S[i]) * np.exp(1j * TH[i]))

    starts = _local_maxima(ratio)[:_N_STARTS]
    p0 = np.array([[np.log(S[i, j]), TH[i, j]] for i, j in starts])
    steps = np.array([np.log(s[1] / s[0]), (np.pi if real else 2 * np.pi) / _N_THETA])  # uniform spacings
    log_ratio, p = _compass_search(lambda q: _log_ratio(T, q, seed, device), p0, steps)
    k = int(np.argmax(log_ratio))
    if log_ratio[k] <= 0:  # nothing beats the limit 1 at |z| → ∞
        return 1.0, complex(np.nan, np.nan)
    z = complex((1 + np.exp(p[k, 0])) * np.exp(1j * p[k, 1]))
    return float(np.exp(log_ratio[k])), (z.conjugate() if real and z.imag < 0 else z)


def _log_ratio(T, q: np.ndarray, seed: int, device) -> np.ndarray:
    """``ln((|z| − 1)/σ_min(zI − T))`` at ``z = (1 + e^{q[:, 0]}) e^{i q[:, 1]}`` (inf on an eigenvalue)."""
    sig, _ = sigma_min(T, (1 + np.exp(q[:, 0])) * np.exp(1j * q[:, 1]), rtol=1e-12, seed=seed, device=device)
    with np.errstate(divide="ignore"):
        return q[:, 0] - np.log(sig)


def _local_maxima(values: np.ndarray) -> list[tuple[int, int]]:
    """Grid indices of local maxima (8-neighbourhood, edges clamped), largest first."""
    padded = np.pad(values, 1, mode="edge")
    m, n = values.shape
    neigh = np.stack([padded[1 + di:1 + di + m, 1 + dj:1 + dj + n]
                      for di in (-1, 0, 1) for dj in (-1, 0, 1) if di or dj])
    peak = values >= neigh.max(0)
    idx = np.argwhere(peak)
    order = np.argsort(-values[peak])
    return [tuple(map(int, idx[k])) for k in order]


def _compass_search(fun, p0: np.ndarray, steps: np.ndarray, *, min_step: float = 1e-6,
                    max_iter: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Maximise ``fun`` from every row of ``p0 (m, 2)`` at once by compass search.

    Each iteration evaluates the 8 neighbours at ``± h`` of every point in one batch (one call
    of ``fun`` on ``(8m, 2)``) and moves a point to its best neighbour, or halves its ``h``
    when none is better, until ``h < min_step · steps`` (the ratio is then known to about
    ``min_step²`` relative at a smooth maximum). Returns ``(values (m,), points (m, 2))``.
    """
    dirs = np.array([(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1) if a or b], dtype=float)
    p = np.array(p0, dtype=float)
    val = fun(p)
    h = np.ones(len(p))
    for _ in range(max_iter):
        live = h >= min_step
        if not live.any():
            break
        cand = p[live, None, :] + h[live, None, None] * dirs[None] * steps  # (l, 8, 2)
        cval = fun(cand.reshape(-1, 2)).reshape(cand.shape[:2])
        best = np.argmax(cval, 1)
        bval = cval[np.arange(len(best)), best]
        better = bval > val[live]
        idx = np.nonzero(live)[0]
        p[idx[better]] = cand[better, best[better]]
        val[idx[better]] = bval[better]
        h[idx[~better]] *= 0.5
    return val, p
