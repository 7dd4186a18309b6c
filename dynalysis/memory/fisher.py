"""Fisher memory curve of a linear network (Ganguli, Huh & Sompolinsky 2008; docs/science.md §3).

For ``h_t = W h_{t-1} + v s_t + z_t`` with unit white noise ``z_t``:

    J(k) = vᵀ (W^k)ᵀ C⁻¹ W^k v,      C = Σ_{k≥0} W^k (W^k)ᵀ   (C = W C Wᵀ + I)

and ``J_tot = Σ_k J(k) = tr(C⁻¹ P)`` with ``P = Σ_k W^k v vᵀ (W^k)ᵀ`` (``P = W P Wᵀ + v vᵀ``).
``J_tot = 1`` for every normal W and unit v; ``J_tot ≤ N`` in general; the chain with
``v = e_1`` has ``J(k) = α^{2k}(α²−1)/(α^{2(k+1)}−1)`` for ``k < N`` (``1/(k+1)`` at α = 1).
"""
from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from ..errors import OptionError
from .._core.options import check_positive_int
from .._core.result import Schema, Var, build_result
from .kernel import LAG

__all__ = ["fisher_memory_curve", "SCHEMA"]


def _as_array(a, name) -> np.ndarray:
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise OptionError(f"{name} contains NaN or inf values")
    return a


def _covariance(W: np.ndarray, horizon: int | None) -> np.ndarray:
    import scipy.linalg

    N = W.shape[0]
    if horizon is None:
        return scipy.linalg.solve_discrete_lyapunov(W, np.eye(N))
    C, M = np.zeros((N, N)), np.eye(N)
    for _ in range(horizon):
        C += M @ M.T
        M = W @ M
    return C


def fisher_memory_curve(W, v, *, max_lag: int, horizon: int | None = None) -> xr.Dataset:
    """Fisher memory curve ``J(k)`` of ``h_t = W h_{t-1} + v s_t + noise`` and its total.

    Parameters
    ----------
    W : array, shape (N, N)
        Recurrent matrix (or the Jacobian of a linearisation).
    v : array, shape (N,)
        Input (feed-forward) vector of the scalar signal ``s_t``.
    max_lag : int
        ``J(k)`` is returned for ``k = 0..max_lag``.
    horizon : int, optional
        None (default): the stationary network, ``C = Σ_{k≥0} W^k W^kᵀ`` (needs spectral
        radius < 1). An integer ``H``: the network has run for ``H`` steps, the sums stop at
        ``k < H`` and ``J(k) = 0`` for ``k ≥ H`` (defined for any W). For normal W and unit
        v the total is 1 either way.

    Returns
    -------
    xarray.Dataset
        ``fisher_memory (lag)``; ``fisher_memory_total`` (sum over all lags ``k ≥ 0``, from a
        second Lyapunov equation when stationary, not truncated at ``max_lag``).

    Notes
    -----
    Unit noise variance: ``J(k)`` is the Fisher information that ``h_t`` carries about a
    signal pulse ``s_{t−k}``, per unit signal energy. ``C`` comes from
    `scipy.linalg.solve_discrete_lyapunov` (``C = W C Wᵀ + I``); ``C⁻¹`` is applied by Cholesky.

    References
    ----------
    S. Ganguli, D. Huh, H. Sompolinsky, "Memory traces in dynamical systems", PNAS 105 (2008)
    18970–18975.

    Examples
    --------
    >>> import numpy as np, dynalysis
    >>> chain = np.diag(np.ones(99), -1)                       # α = 1, N = 100, v = e_1
    >>> ds = dynalysis.fisher_memory_curve(chain, np.eye(100)[0], max_lag=3)
    >>> ds.fisher_memory.values.round(4).tolist(), round(float(ds.fisher_memory_total), 3)
    ([1.0, 0.5, 0.3333, 0.25], 5.187)
    """
    W, v, L, horizon = check_fisher_options(W, v, max_lag=max_lag, horizon=horizon)
    data, coords, rho = fisher_data(W, v, L, horizon)
    N = W.shape[0]
    return build_result(SCHEMA, data, coords, source=f"linear network W {N}x{N}, v",
                        options=dict(max_lag=L, horizon=horizon if horizon is not None else "stationary"),
                        attrs={"spectral_radius": rho})


def check_fisher_options(W, v, *, max_lag: int, horizon: int | None = None):
    """``(W, v, max_lag, horizon)`` checked: finite float64 arrays of matching shapes, and a
    spectral radius below 1 when ``horizon`` is None (stationary)."""
    W, v = _as_array(W, "W"), _as_array(v, "v")
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise OptionError(f"W must be square (N, N), got shape {W.shape}")
    N = W.shape[0]
    if v.shape != (N,):
        raise OptionError(f"v must have shape ({N},) to match W, got {v.shape}")
    L = check_positive_int("max_lag", max_lag, minimum=0)
    if horizon is not None:
        horizon = check_positive_int("horizon", horizon)
    rho = float(np.abs(np.linalg.eigvals(W)).max())
    if horizon is None and rho >= 1 - 1e-12:
        raise OptionError(f"the stationary Fisher memory needs spectral radius < 1 (got {rho:.6g}); "
                          "pass horizon=H for a network that has run H steps")
    return W, v, L, horizon


def fisher_data(W: np.ndarray, v: np.ndarray, L: int, horizon: int | None) -> tuple[dict, dict, float]:
    """``(data, coords, spectral radius)`` of the Fisher memory curve of checked ``(W, v)``."""
    import scipy.linalg  # lazy: slow to import

    N = W.shape[0]
    rho = float(np.abs(np.linalg.eigvals(W)).max())
    C = _covariance(W, horizon)
    chol = scipy.linalg.cho_factor((C + C.T) / 2)
    n_k = L + 1 if horizon is None else min(L + 1, horizon)
    U = np.empty((n_k, N))
    u = v.copy()
    for k in range(n_k):
        U[k] = u
        u = W @ u
    J = np.zeros(L + 1)
    J[:n_k] = np.einsum("kn,nk->k", U, scipy.linalg.cho_solve(chol, U.T))
    if horizon is None:
        P = scipy.linalg.solve_discrete_lyapunov(W, np.outer(v, v))
    else:
        P, u = np.zeros((N, N)), v.copy()
        for _ in range(horizon):
            P += np.outer(u, u)
            u = W @ u
    total = float(np.trace(scipy.linalg.cho_solve(chol, P)))
    return {"fisher_memory": J, "fisher_memory_total": total}, {"lag": np.arange(L + 1)}, rho


SCHEMA = Schema("fisher_memory", description="Fisher memory curve of a linear network", variables={
    "fisher_memory": Var(("lag",), "Fisher memory J(k) = v^T W^kT C^-1 W^k v (unit noise)"),
    "fisher_memory_total": Var((), "total Fisher memory sum_k J(k) over all lags"),
}, coords={"lag": LAG})
