"""``σ_min(zI − A)`` at many points ``z`` from one complex Schur form (docs/science.md §6).

    A = Z T Zᴴ  (complex Schur form, T upper triangular)   ⇒   σ_min(zI − A) = σ_min(zI − T)

because unitary similarity keeps singular values. ``1/σ_min(zI − T) = ‖(zI − T)^{-1}‖₂`` is the
largest singular value of ``C = (zI − T)^{-1}``, found by Golub–Kahan–Lanczos bidiagonalisation
of ``C`` (the inverse Lanczos method of Trefethen 1999 / EigTool, here on ``C`` itself rather
than on ``CCᴴ``, whose eigenvalues ``1/σ²`` would lose half the exponent range). Each step applies
``C`` and ``Cᴴ`` by two triangular solves, ``O(n²)``; the points ``z`` are processed as a batch
of triangular matrices (chunks of at most `_CHUNK_ELEMENTS` entries), never one dense SVD
(``O(n³)``) per point.

Accuracy. With ``B_k = P Σ Qᴴ`` the bidiagonal after ``k`` steps, the Ritz triplet of the
largest singular value has residual ``β_{k+1}|P[k−1, 0]|``: some singular value of ``C`` lies
within it (Parlett, "The Symmetric Eigenvalue Problem", Thm 11.5.1 applied to
``[[0, C], [Cᴴ, 0]]``). A point is converged when that bound is below ``rtol`` times the
estimate. The Ritz value never exceeds ``‖C‖₂``, so an unconverged ``σ_min`` errs high.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["schur_form", "sigma_min"]

_CHUNK_ELEMENTS = 2**22  # entries of the diagonal blocks of zI − T held at once (64 MiB)
_BLOCK = 16  # rows per block of the blocked triangular solves
_MAX_ITER = 100  # Lanczos steps per point (n for n <= 100: exhaustive)
_CHECK_EVERY = 4  # steps between convergence checks (each one a small batched SVD)


def schur_form(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Complex Schur form ``A = Z T Zᴴ``: ``(T upper triangular, Z unitary)``, complex128.

    >>> T, Z = schur_form(np.array([[0.0, 1.0], [-1.0, 0.0]]))
    >>> np.allclose(Z @ T @ Z.conj().T, [[0, 1], [-1, 0]]), np.allclose(np.tril(T, -1), 0)
    (True, True)
    """
    import scipy.linalg  # lazy: slow to import

    T, Z = scipy.linalg.schur(np.asarray(A, dtype=np.complex128), output="complex")
    return T, Z


def sigma_min(T: np.ndarray, z, *, rtol: float = 1e-8, seed: int = 0, device=None,
              max_iter: int = _MAX_ITER) -> tuple[np.ndarray, np.ndarray]:
    """``σ_min(zI − T)`` for upper-triangular ``T`` at every point of ``z``.

    Parameters
    ----------
    T : ndarray (n, n)
        Upper triangular (a Schur factor).
    z : array-like of complex
        Points, any shape.
    rtol : float
        Relative accuracy of each value (a posteriori Lanczos bound, module notes).
    seed : int
        Seed of the Lanczos start vector (one vector for all points).
    device : optional
        Torch device of the batched solves.
    max_iter : int
        Lanczos steps at most (``min(n, max_iter)``).

    Returns
    -------
    sigma : ndarray of float, shape of ``z``
        0 where ``zI − T`` is singular or ``(zI − T)^{-1}`` overflows (``σ_min ≲ 1e-308``).
    converged : ndarray of bool, shape of ``z``
        False where ``max_iter`` steps did not reach ``rtol`` (the value is then an upper
        estimate of ``σ_min``).

    Examples
    --------
    >>> T = np.array([[1.0, 1.0], [0.0, 1.0]])
    >>> s, ok = sigma_min(T, [1.0, 3.0])
    >>> s.round(6).tolist(), round(float(np.linalg.svd(3 * np.eye(2) - T, compute_uv=False)[-1]), 6)
    ([0.0, 1.561553], 1.561553)
    >>> bool(ok.all())
    True
    """
    z = np.asarray(z, dtype=np.complex128)
    flat = z.reshape(-1)
    n = T.shape[0]
    shift = _ShiftedTriangular(torch.as_tensor(np.ascontiguousarray(T), dtype=torch.complex128,
                                               device=device))
    g = torch.Generator().manual_seed(int(seed))
    v0 = torch.complex(torch.randn(n, generator=g, dtype=torch.float64),
                       torch.randn(n, generator=g, dtype=torch.float64)).to(shift.T.device)
    v0 = v0 / torch.linalg.vector_norm(v0)
    sigma = np.empty(flat.size)
    converged = np.ones(flat.size, dtype=bool)
    chunk = max(1, _CHUNK_ELEMENTS // (n * _BLOCK))
    for start in range(0, flat.size, chunk):
        zc = torch.as_tensor(flat[start:start + chunk], device=shift.T.device)
        s, ok = _lanczos(shift, zc, v0, rtol=float(rtol), k_max=max(1, min(n, int(max_iter))))
        sigma[start:start + chunk] = s
        converged[start:start + chunk] = ok
    return sigma.reshape(z.shape), converged.reshape(z.shape)


class _ShiftedTriangular:
    """Solves with ``zI − T`` and its conjugate transpose for a batch of points at once.

    Vectors are rows ``(c, n)``, one per point. Blocked substitution: the coupling between row
    blocks is one matrix product with the shared ``T`` (``(c × m)·(m × b)``, BLAS-3), the
    ``b × b`` diagonal blocks ``z I − T_II`` (the only part that depends on ``z``) are solved
    as a batch of small triangular systems, formed once per set of points (`prepare`).
    """

    def __init__(self, T):
        self.T = T
        self.Tt = T.T.contiguous()  # x @ Tt[J, I] = (T[I, J] x)ᵀ for row vectors
        self.Tc = T.conj().contiguous()  # y @ Tc[J, I] = (Tᴴ[I, J] y)ᵀ
        n = T.shape[0]
        self.blocks = [(i, min(i + _BLOCK, n)) for i in range(0, n, _BLOCK)]

    def prepare(self, z) -> list:
        """Diagonal blocks ``(c, b, b)`` of ``zI − T`` for points ``z (c,)``."""
        out = []
        for i0, i1 in self.blocks:
            D = (-self.T[i0:i1, i0:i1]).expand(z.shape[0], -1, -1).clone()
            D.diagonal(dim1=-2, dim2=-1).add_(z[:, None])
            out.append(D)
        return out

    def solve(self, diag: list, b):
        """``x`` with ``(z_c I − T) x[c] = b[c]`` (upper triangular: bottom block first)."""
        x = torch.empty_like(b)
        n = b.shape[1]
        for (i0, i1), D in zip(reversed(self.blocks), reversed(diag)):
            rhs = b[:, i0:i1]
            if i1 < n:
                rhs = rhs + x[:, i1:] @ self.Tt[i1:, i0:i1]
            x[:, i0:i1] = torch.linalg.solve_triangular(D, rhs.unsqueeze(-1), upper=True)[..., 0]
        return x

    def solve_h(self, diag: list, b):
        """``y`` with ``(z_c I − T)ᴴ y[c] = b[c]`` (lower triangular: top block first)."""
        y = torch.empty_like(b)
        for (i0, i1), D in zip(self.blocks, diag):
            rhs = b[:, i0:i1]
            if i0 > 0:
                rhs = rhs + y[:, :i0] @ self.Tc[:i0, i0:i1]
            y[:, i0:i1] = torch.linalg.solve_triangular(D.mH, rhs.unsqueeze(-1), upper=False)[..., 0]
        return y


def _lanczos(shift: _ShiftedTriangular, z, v0, *, rtol: float, k_max: int):
    """Golub–Kahan–Lanczos on ``C_c = (z_c I − T)^{-1}`` for a batch of points ``z (c,)``.

    Returns ``(σ_min (c,), converged (c,))`` as ndarrays. Points converge at different steps;
    finished ones are dropped from the batch at each check. Only the bidiagonal and the last
    pair of Lanczos vectors are kept: the largest Ritz value converges first, before the loss
    of orthogonality it causes can matter (Paige 1971), so no re-orthogonalisation is needed.
    """
    c, n = z.shape[0], shift.T.shape[0]
    dev = shift.T.device
    sigma = torch.zeros(c, dtype=torch.float64, device=dev)
    converged = torch.ones(c, dtype=torch.bool, device=dev)
    # σ_min ≤ min |z − λ_i| (an eigenvalue modulus of zI − T): exactly 0 on an eigenvalue
    gap = (z[:, None] - torch.diagonal(shift.T)[None, :]).abs().amin(-1)
    active = torch.nonzero(gap > 0).flatten()
    if active.numel() == 0:
        return sigma.cpu().numpy(), converged.cpu().numpy()
    diag = shift.prepare(z[active])
    v = v0[None, :].expand(active.numel(), n).clone()
    u = torch.zeros_like(v)
    alpha: list = []
    beta: list = []  # beta[j] = β_{j+2}: coupling of u_j and v_{j+1}
    for j in range(k_max):
        p = shift.solve(diag, v)  # C v_j − β_{j+1} u_{j−1}
        if j:
            p = p - beta[j - 1][:, None] * u
        a_j = _norm(p)
        u = p / _safe(a_j)[:, None]
        r = shift.solve_h(diag, u) - a_j[:, None] * v  # Cᴴ u_j − α_j v_j
        b_j = _norm(r)
        v = r / _safe(b_j)[:, None]
        alpha.append(a_j)
        beta.append(b_j)
        if (j + 1) % _CHECK_EVERY and j + 1 < k_max:
            continue
        k = j + 1
        B = torch.diag_embed(torch.stack(alpha, 1))
        if k > 1:
            B = B + torch.diag_embed(torch.stack(beta[:-1], 1), offset=1)
        P, S, _ = torch.linalg.svd(B)
        top = S[:, 0]
        bound = b_j * P[:, k - 1, 0].abs()
        finite = torch.isfinite(top) & torch.isfinite(bound)
        ok = bound <= rtol * top
        done = ok | ~finite | (k == k_max)
        if not done.any():
            continue
        idx = active[done]
        sigma[idx] = torch.where(finite[done], 1.0 / top[done], torch.zeros_like(top[done]))
        converged[idx] = ok[done] | ~finite[done]
        keep = ~done
        if not keep.any():
            break
        active, u, v = active[keep], u[keep], v[keep]
        diag = [D[keep] for D in diag]
        alpha, beta = [x[keep] for x in alpha], [x[keep] for x in beta]
    return sigma.cpu().numpy(), converged.cpu().numpy()


def _norm(w):
    """Row norms of ``w (c, n)`` without overflow of the squares (scaled by the largest entry)."""
    m = w.abs().amax(1)
    return m * torch.linalg.vector_norm(w / _safe(m)[:, None], dim=1)


def _safe(x):
    """Divisor that leaves a zero vector zero (breakdown: an exact invariant subspace)."""
    return torch.where(x > 0, x, torch.ones_like(x))
