"""From the end states of the search to a list of points: fixed / slow / unconverged, de-duplicated
relative to the state's scale, slow manifolds summarised, stability and unstable directions.

Every start ends in one status (`STATUS`): *fixed* (``q < tol``), *slow* (a local minimum of q
with ``tol ≤ q < slow_tol``: the solver stopped because no step lowers q), *unconverged* (the
iteration budget ran out while q still fell, or q stayed ≥ ``slow_tol``) or *diverged*. Only
fixed and slow end states become points, so an unconverged start is never reported, let
alone as stable.

End states within ``dedupe_tol × scale`` of each other (transitively) are one point, the one
with the smallest q kept. Hyperbolic fixed points are isolated (inverse function theorem), so
only non-hyperbolic ones (marginal) and slow points can lie on a manifold: those within
``manifold_tol × scale`` of each other are merged into one entry, whose ``extent`` (largest
distance between two of its end states) and ``start_count`` summarise the manifold instead of
listing hundreds of near-duplicates.
"""
from __future__ import annotations

import numpy as np
import torch

from .._core.trajectory import sort_by_modulus

__all__ = ["classify", "STATUS", "STABILITY", "KIND"]

STATUS = ("fixed", "slow", "unconverged", "diverged")
STABILITY = ("stable", "marginal", "unstable")
KIND = ("fixed", "slow")


def _components(points: np.ndarray, radius: float, allowed: np.ndarray | None = None) -> np.ndarray:
    """Labels of the connected components of the ``< radius`` graph (``allowed`` rows only link
    to each other; the others are singletons)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(points)
    if n == 0 or (allowed is not None and allowed.sum() < 2):  # nothing can link: all singletons
        return np.arange(n)
    pairs = cKDTree(points).query_pairs(radius, output_type="ndarray").reshape(-1, 2)
    if allowed is not None:
        pairs = pairs[allowed[pairs[:, 0]] & allowed[pairs[:, 1]]]
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _best_of(labels: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Index of the smallest-q member of each label (labels 0..L-1 in order)."""
    order = np.lexsort((q, labels))
    _, first = np.unique(labels[order], return_index=True)
    return order[first]


def _extents(points: np.ndarray, labels: np.ndarray, n_labels: int) -> np.ndarray:
    """Largest distance between two points of each label (0 for one point): one distance matrix
    when the points are few; else per label, the bounding box's diagonal (an upper bound) for
    labels of more than 2000 points."""
    extent = np.zeros(n_labels)
    if len(points) < 2:
        return extent
    from scipy.spatial.distance import cdist, pdist

    if len(points) <= 1024:
        D = np.where(labels[:, None] == labels[None], cdist(points, points), 0.0)
        np.maximum.at(extent, labels, D.max(1))
        return extent
    for r in np.flatnonzero(np.bincount(labels, minlength=n_labels) > 1):  # few labels of many points
        member = points[labels == r]
        extent[r] = np.linalg.norm(np.ptp(member, 0)) if len(member) > 2000 else pdist(member).max()
    return extent


def _eigenvectors(J: torch.Tensor, lam: np.ndarray) -> np.ndarray:
    """Unit eigenvectors of ``J (P, S, S)`` for its eigenvalues ``lam (P,)``, largest component
    real (LAPACK's normalisation), by inverse iteration: three solves with one LU factor of
    ``J − σI``, ``σ`` a hair (1e-10 relative) off ``λ`` so that it is invertible, each cutting the
    other eigendirections by ``|λ − σ| / |λ' − σ|``. Half the cost of a full eigendecomposition."""
    P, S = J.shape[:2]
    Jc = J.to(torch.complex128 if J.dtype == torch.float64 else torch.complex64)
    lam_t = torch.as_tensor(lam, dtype=Jc.dtype, device=J.device)
    sigma = lam_t + 1e-10 * (1 + lam_t.abs())
    LU, piv, _ = torch.linalg.lu_factor_ex(Jc - sigma[:, None, None] * torch.eye(S, dtype=Jc.dtype, device=J.device))
    v = torch.ones(P, S, 1, dtype=Jc.dtype, device=J.device)
    for _ in range(3):
        v = torch.linalg.lu_solve(LU, piv, v)
        v = v / torch.linalg.vector_norm(v, dim=1, keepdim=True)
    v = v[..., 0].cpu().numpy()
    top = v[np.arange(P), np.abs(v).argmax(1)]
    return v * (np.abs(top) / top)[:, None]


def _linearisation(sys_, points: np.ndarray, x_star: torch.Tensor, marginal_tol: float):
    """Eigenvalues (decreasing modulus), spectral radius, stability, n_unstable and the leading
    unstable direction (real unit vector; NaN where none) of ``J`` at each point."""
    P, S = points.shape
    if P == 0:
        return (np.zeros((0, S), complex), np.zeros(0), np.zeros(0, np.int8), np.zeros(0, np.int32),
                np.zeros((0, S)))
    pts = torch.as_tensor(points, dtype=x_star.dtype, device=x_star.device)
    with torch.no_grad():
        J = sys_.jacobian(pts, x_star.expand(P, -1))
    lam = torch.linalg.eigvals(J).cpu().numpy()
    eig = sort_by_modulus(lam)
    rho = np.abs(eig[:, 0])
    stability = np.where(rho < 1 - marginal_tol, 0, np.where(rho > 1 + marginal_tol, 2, 1)).astype(np.int8)
    n_unstable = (np.abs(eig) > 1 + marginal_tol).sum(1).astype(np.int32)
    direction = np.full((P, S), np.nan)
    u = np.flatnonzero(n_unstable > 0)
    if len(u):  # the eigenvector of the largest-modulus eigenvalue, where it is unstable
        lead = _eigenvectors(J[torch.as_tensor(u, device=J.device)], eig[u, 0])
        d = np.where(np.abs(lead.real).max(1, keepdims=True) > 1e-12, lead.real, lead.imag)  # rotation: its plane
        d = d / np.linalg.norm(d, axis=1, keepdims=True)
        direction[u] = d * np.sign(d[np.arange(len(u)), np.abs(d).argmax(1)])[:, None]
    return eig, rho, stability, n_unstable, direction


def classify(sys_, h: np.ndarray, q: np.ndarray, stop: np.ndarray, x_star: torch.Tensor, *, tol: float,
             slow_tol: float, dedupe_radius: float, manifold_radius: float, marginal_tol: float) -> dict:
    """Points of one condition from the search's end states ``h (n, S)``, ``q``, ``stop`` codes.

    Returns a dict of arrays: ``status (n,)`` (`STATUS` codes), ``assignment (n,)`` (point of
    each start, -1 if none), and over points ``state``, ``q``, ``kind``, ``extent``,
    ``start_count``, ``eigenvalue``, ``spectral_radius``, ``stability``, ``n_unstable``,
    ``unstable_direction`` (fixed points first, then by q).
    """
    n, S = h.shape
    finite = np.isfinite(q) & np.isfinite(h).all(1) & (stop != 3)
    status = np.full(n, 2, np.int8)
    status[finite & (q < tol)] = 0
    status[finite & (q >= tol) & (q < slow_tol) & (stop == 1)] = 1
    status[~finite] = 3
    keep = np.flatnonzero(status <= 1)
    pts, pq = h[keep], q[keep]
    fine = _components(pts, dedupe_radius)
    reps = _best_of(fine, pq)
    eig, rho, stab, n_unst, direction = _linearisation(sys_, pts[reps], x_star, marginal_tol)
    kind = (pq[reps] >= tol).astype(np.int8)
    # slow and marginal points may form manifolds: merge those near each other into one entry
    loose = (kind == 1) | (stab == 1)
    coarse = _components(pts[reps], manifold_radius, allowed=loose)
    sel = _best_of(coarse, pq[reps])  # per coarse label: the index into reps of its best point
    best = reps[sel]  # ... and into keep
    order = np.lexsort((pq[best], kind[sel]))  # fixed points first, then by q
    rank = np.empty(len(best), dtype=int)
    rank[order] = np.arange(len(best))
    best, sel = best[order], sel[order]
    assignment = np.full(n, -1)
    if len(keep):
        assignment[keep] = rank[coarse[fine]]
    extent = _extents(pts, assignment[keep], len(best))
    start_count = np.bincount(assignment[keep], minlength=len(best)).astype(np.int32) if len(keep) else \
        np.zeros(0, np.int32)
    return {"status": status, "assignment": assignment.astype(np.int32), "state": pts[best].reshape(-1, S),
            "q": pq[best], "kind": kind[sel], "extent": extent, "start_count": start_count,
            "eigenvalue": eig[sel], "spectral_radius": rho[sel], "stability": stab[sel],
            "n_unstable": n_unst[sel], "unstable_direction": direction[sel]}
