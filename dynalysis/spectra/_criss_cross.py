"""ε-pseudospectral abscissa and radius by criss-cross searches (docs/science.md §6).

    α_ε(A) = max{Re z : σ_min(zI − A) ≤ ε}        ρ_ε(A) = max{|z| : σ_min(zI − A) ≤ ε}

Both are found globally, not read off a grid, from where lines and circles cross the boundary
``σ_min(zI − A) = ε``:

* vertical line ``Re z = x``: ``ε`` is a singular value of ``(x + iy)I − A`` exactly when ``iy``
  is an eigenvalue of the Hamiltonian matrix ``[[A − xI, εI], [−εI, xI − Aᴴ]]`` (derivation:
  ``(zI − A)v = εu``, ``(zI − A)ᴴu = εv``); a horizontal line is a vertical one of ``−iA``;
* circle ``|z| = r``: ``ε`` is a singular value of ``re^{iθ}I − A`` exactly when ``e^{iθ}`` is an
  eigenvalue of the pencil ``[[A, εI], [0, rI]] − w [[rI, 0], [εI, Aᴴ]]``.

Abscissa (Burke, Lewis & Overton 2003): from the rightmost eigenvalue, alternately find the
rightmost crossing of horizontal lines through the midpoints of the vertical cross-sections of
``σ_ε`` at the current ``x``. Radius (Mengi & Overton 2005): the same with rays from the origin
and circles. Each step can only move outward, every component of ``σ_ε`` that reaches beyond
the current value crosses the current line/circle, and convergence is quadratic in practice.
Candidate crossings are eigenvalues within ``_AXIS_TOL·‖H‖`` of the imaginary axis (the unit
circle); an interval counts when ``σ_min`` at its midpoint is ``≤ ε``, and an outermost crossing
only when ``σ_min`` there is ``ε`` to ``_ACCEPT``, so spurious candidates are never taken.
Cost: one dense ``2n × 2n`` eigenproblem per search, ``O(n³)``.
"""
from __future__ import annotations

import numpy as np

from ._resolvent import sigma_min

__all__ = ["pseudospectral_abscissa", "pseudospectral_radius"]

_AXIS_TOL = 1e-6  # relative distance of an eigenvalue from the axis / circle to be a candidate
_ACCEPT = 1e-6  # relative |σ_min − ε| at which an outermost candidate is a boundary point
_SIGMA_RTOL = 1e-12  # σ_min accuracy of the checks
_MAX_ITER = 50


def pseudospectral_abscissa(T: np.ndarray, eps: float, *, tol: float = 1e-12) -> tuple[float, complex, int]:
    """``(α_ε, z attaining it, iterations)`` for the Schur factor ``T`` (module notes).

    >>> T = np.diag([0.5 + 0.2j, -1.0])  # normal: α_ε = α + ε exactly
    >>> a, z, _ = pseudospectral_abscissa(T, 0.1)
    >>> round(a, 12), complex(round(z.real, 12), round(z.imag, 12))
    (0.6, (0.6+0.2j))
    """
    lam = np.diag(T)
    x = float(lam.real.max())
    mids = np.unique(lam.imag[lam.real >= x - 1e-14 * max(1.0, abs(x))])
    best = complex(x, mids[0])
    for it in range(1, _MAX_ITER + 1):
        found = [(_rightmost(T, float(y), eps), float(y)) for y in mids]
        x_new, y_new = max(found)
        if x_new <= best.real + tol * max(1.0, abs(best.real)):
            return float(best.real), complex(best), it
        best = complex(x_new, y_new)
        ys = _vertical_crossings(T, best.real, eps)
        mids = _inside_midpoints(T, ys, lambda y: best.real + 1j * y, eps)
        if mids.size == 0:
            return float(best.real), complex(best), it
    return float(best.real), complex(best), _MAX_ITER


def pseudospectral_radius(T: np.ndarray, eps: float, *, tol: float = 1e-12) -> tuple[float, complex, int]:
    """``(ρ_ε, z attaining it, iterations)`` for the Schur factor ``T`` (module notes).

    >>> T = np.array([[0.0, 1.0], [0.0, 0.0]])  # Jordan block: ρ_ε = sqrt(ε(1 + ε))
    >>> r, _, _ = pseudospectral_radius(T, 0.01)
    >>> round(r, 12), round((0.01 * 1.01) ** 0.5, 12)
    (0.100498756211, 0.100498756211)
    """
    lam = np.diag(T)
    rho = float(np.abs(lam).max())
    thetas = np.unique(np.angle(lam[np.abs(lam) >= rho * (1 - 1e-14)]))
    best = complex(rho * np.cos(thetas[0]), rho * np.sin(thetas[0]))
    for it in range(1, _MAX_ITER + 1):
        found = [(_rightmost(np.exp(-1j * th) * T, 0.0, eps), float(th)) for th in thetas]
        r_new, th_new = max(found)
        if r_new <= abs(best) + tol * max(1.0, abs(best)):
            return float(abs(best)), complex(best), it
        best = r_new * np.exp(1j * th_new)
        angles = _circle_crossings(T, abs(best), eps)
        thetas = _inside_midpoints(T, angles, lambda th: abs(best) * np.exp(1j * th), eps, period=2 * np.pi)
        if thetas.size == 0:
            return float(abs(best)), complex(best), it
    return float(abs(best)), complex(best), _MAX_ITER


def _vertical_crossings(T: np.ndarray, x: float, eps: float) -> np.ndarray:
    """Sorted ``y`` where ``ε`` is a singular value of ``(x + iy)I − T``."""
    n = T.shape[0]
    eye = np.eye(n)
    H = np.block([[T - x * eye, eps * eye], [-eps * eye, x * eye - T.conj().T]])
    mu = np.linalg.eigvals(H)
    scale = max(1.0, np.linalg.norm(H, 1))
    return np.sort(mu.imag[np.abs(mu.real) <= _AXIS_TOL * scale])


def _rightmost(T: np.ndarray, y: float, eps: float) -> float:
    """Largest ``x`` with ``σ_min((x + iy)I − T) = ε`` (a horizontal line is a vertical one of −iT)."""
    xs = -_vertical_crossings(-1j * T, y, eps)  # descending
    if xs.size:
        s, _ = sigma_min(T, xs + 1j * y, rtol=_SIGMA_RTOL)
        ok = np.nonzero(s <= eps * (1 + _ACCEPT))[0]
        if ok.size:
            return float(xs[ok[0]])
    return -np.inf


def _circle_crossings(T: np.ndarray, r: float, eps: float) -> np.ndarray:
    """Sorted angles ``θ`` where ``ε`` is a singular value of ``re^{iθ}I − T``."""
    import scipy.linalg

    n = T.shape[0]
    eye, zero = np.eye(n), np.zeros((n, n))
    P = np.block([[T, eps * eye], [zero, r * eye]])
    Q = np.block([[r * eye, zero], [eps * eye, T.conj().T]])
    w = scipy.linalg.eigvals(P, Q)
    w = w[np.isfinite(w)]
    return np.sort(np.angle(w[np.abs(np.abs(w) - 1) <= _AXIS_TOL]))


def _inside_midpoints(T, params: np.ndarray, point, eps: float, *, period: float | None = None) -> np.ndarray:
    """Midpoints of the intervals between consecutive crossings ``params`` that lie in σ_ε."""
    if params.size == 0:
        return params
    if period is None:
        if params.size < 2:
            return params[:0]
        mids = 0.5 * (params[:-1] + params[1:])
    else:  # on a circle: the arc from the last crossing wraps around to the first
        mids = 0.5 * (params + np.append(params[1:], params[0] + period))
    s, _ = sigma_min(T, point(mids), rtol=_SIGMA_RTOL)
    return mids[s <= eps]
