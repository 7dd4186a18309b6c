"""Eigen initializer (Dou & Principe; docs/science.md §2): prescribe the eigenvalues of ``W``.

    W = Q · blockdiag(r_k Rot(θ_k)) · Qᵀ          (normal=True,  Q random orthogonal)
    W = P · blockdiag(r_k Rot(θ_k)) · P⁻¹         (normal=False, P random Gaussian)

``Rot(θ) = [[cos θ, −sin θ], [sin θ, cos θ]]``, so the eigenvalues are ``r_k e^{±iθ_k}``: mode
``k`` decays as ``r_k^t`` (memory time ``−1/ln r_k``) and turns by ``θ_k`` per step.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.options import check_option
from ._common import check_range, out_dtype, resolve_shape
from ._dense import random_orthogonal

__all__ = ["eigen", "blockdiag_rotations"]


def blockdiag_rotations(radii: Tensor, phases: Tensor, n: int) -> Tensor:
    """``(n, n)`` block-diagonal matrix ``blockdiag(r_k Rot(θ_k))`` (float64).

    Parameters
    ----------
    radii : Tensor, shape (n // 2 + n % 2,)
        ``r_k`` of each 2×2 block; for odd ``n`` the last entry is the trailing 1×1 block
        (a real eigenvalue ``r``).
    phases : Tensor, shape (n // 2,)
        ``θ_k`` of each 2×2 block.
    n : int
    """
    m = n // 2
    radii = radii.to(torch.float64)
    phases = phases.to(torch.float64)
    D = torch.zeros(n, n, dtype=torch.float64)
    k = torch.arange(m)
    c, s = radii[:m] * torch.cos(phases), radii[:m] * torch.sin(phases)
    D[2 * k, 2 * k], D[2 * k, 2 * k + 1] = c, -s
    D[2 * k + 1, 2 * k], D[2 * k + 1, 2 * k + 1] = s, c
    if n % 2:
        D[n - 1, n - 1] = radii[m]
    return D


def eigen(n: int, *, r_min: float = 0.9, r_max: float = 1.0, theta_min: float = 0.0,
          theta_max: float = math.pi, radius_distribution: str = "uniform",
          phase_distribution: str = "uniform", normal: bool = True,
          generator: torch.Generator | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """Recurrent matrix with prescribed eigenvalue moduli and phases.

    Parameters
    ----------
    n : int
        Size ``N``.
    r_min, r_max : float, default 0.9, 1.0
        Eigenvalue moduli lie in the annulus ``[r_min, r_max]``.
    theta_min, theta_max : float, default 0, π
        Eigenvalue phases ``|arg λ|`` lie in ``[theta_min, theta_max] ⊆ [0, π]``.
    radius_distribution : {"uniform", "area"}, default "uniform"
        ``r_k ~ U[r_min, r_max]``, or uniform over the annulus' area
        (``r_k = √U[r_min², r_max²]``).
    phase_distribution : {"uniform", "linspace"}, default "uniform"
        ``θ_k ~ U[theta_min, theta_max]``, or evenly spaced from ``theta_min`` to ``theta_max``.
    normal : bool, default True
        ``True``: ``W = Q D Qᵀ`` with ``Q`` Haar-orthogonal (a normal matrix, Henrici index 0).
        ``False``: ``W = P D P⁻¹`` with ``P_ij ~ N(0, 1/N)`` (same eigenvalues, non-normal).
    generator : torch.Generator, optional
    dtype : torch.dtype, optional

    Returns
    -------
    Tensor, shape (n, n)
        Eigenvalues ``r_k e^{±iθ_k}``, ``k < N/2``. For odd ``N`` one more eigenvalue is real
        and positive (``r``, phase 0) whatever the phase range.

    Notes
    -----
    The parameterisation is ours (docs/science.md §2): the paper's exact recipe was not available.
    The same function initialises every hidden-to-hidden gate block of LSTM and GRU cells.

    References
    ----------
    Dou & Principe, arXiv:2307.15679, 2023 (eigenvalue analysis and initialisation of RNNs).
    """
    rows, _ = resolve_shape(n, None)
    r_min, r_max = check_range("(r_min, r_max)", r_min, r_max, low=0.0)
    theta_min, theta_max = check_range("(theta_min, theta_max)", theta_min, theta_max,
                                       low=0.0, high=math.pi)
    check_option("radius_distribution", radius_distribution, ("uniform", "area"))
    check_option("phase_distribution", phase_distribution, ("uniform", "linspace"))
    m = rows // 2
    u = torch.rand(m + rows % 2, generator=generator, dtype=torch.float64)
    if radius_distribution == "uniform":
        radii = r_min + (r_max - r_min) * u
    else:
        radii = torch.sqrt(r_min ** 2 + (r_max ** 2 - r_min ** 2) * u)
    if phase_distribution == "uniform":
        phases = theta_min + (theta_max - theta_min) * torch.rand(
            m, generator=generator, dtype=torch.float64)
    else:
        phases = torch.linspace(theta_min, theta_max, m, dtype=torch.float64)
    D = blockdiag_rotations(radii, phases, rows)
    if normal:
        Q = random_orthogonal(rows, generator=generator)
        W = Q @ D @ Q.T
    else:
        P = torch.randn(rows, rows, generator=generator, dtype=torch.float64) / math.sqrt(rows)
        W = torch.linalg.solve(P.T, (P @ D).T).T  # P D P⁻¹
    return W.to(out_dtype(dtype))
