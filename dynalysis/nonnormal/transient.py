"""Transient growth: ``‖A^k‖₂``, its peak and the Kreiss bounds (docs/science.md §6).

For ``h ← A h`` the largest amplification after ``k`` steps is ``‖A^k‖₂``: ``ρ(A)^k`` for a
normal ``A``, but for a non-normal one it can rise far above 1 before it decays, even when
``ρ(A) < 1`` (the chain ``W_ij = α δ_{i,j+1}`` of Orhan & Pitkow 2020 has ``‖W^k‖ = α^k`` for
``k < N`` and ``ρ = 0``). The Kreiss matrix theorem brackets the peak by the Kreiss constant
``K(A) = sup_{|z|>1} (|z| − 1)‖(zI − A)^{-1}‖₂`` (`dynalysis.pseudospectra`):

    K(A) ≤ sup_k ‖A^k‖₂ ≤ e · n · K(A)          (LeVeque–Trefethen 1984, Spijker 1991)

Along a driven trajectory of a non-linear map the same question is asked of the Jacobian
product ``‖J_{t0+k} ⋯ J_{t0+1}‖₂`` (``J_t = ∂h_t/∂h_{t−1}``).

Powers and products are accumulated in normalised form: ``P̂_k = A P̂_{k−1} / ‖A P̂_{k−1}‖_F``
with ``ln ‖A^k‖ = Σ ln(Frobenius scales) + ln ‖P̂_k‖₂``, so neither overflows nor underflows
for any ``k`` (``ρ > 1`` or ``ρ < 1``); the spectral norms are batched SVDs.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import OptionError
from .._core.divergence import DIVERGED_FLAGS, warn_diverged
from .._core.inputs import as_initial_state, as_inputs
from .._core.options import check_positive_int
from .._core.result import Schema, Var, build_result
from .._core.trajectory import run_final
from ..spectra._kreiss import KREISS_METHOD, kreiss_lower_bound
from ..spectra._resolvent import schur_form
from ..spectra.pseudospectra import analysed_matrix

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["transient_growth", "log_power_norms"]

_MAX_POWER = 10**6
_SVD_CHUNK_ELEMENTS = 2**22  # normalised powers held for one batched SVD (32 MiB in float64)


def log_power_norms(A: np.ndarray, max_power: int) -> np.ndarray:
    """``ln ‖A^k‖₂`` for ``k = 0..max_power`` without overflow (``-inf`` once ``A^k = 0``).

    >>> J = np.array([[0.5, 1.0], [0.0, 0.5]])
    >>> np.allclose(np.exp(log_power_norms(J, 6)),
    ...             [np.linalg.norm(np.linalg.matrix_power(J, k), 2) for k in range(7)], rtol=1e-13)
    True
    >>> float(log_power_norms(2.0 * np.eye(3), 2000)[-1] / 2000)  # ln 2, although 2^2000 overflows
    0.693147...
    """
    n = A.shape[0]
    out = np.full(max_power + 1, -np.inf)
    out[0] = 0.0  # ‖A^0‖ = ‖I‖ = 1
    chunk = max(1, _SVD_CHUNK_ELEMENTS // (n * n))
    P = np.eye(n, dtype=A.dtype)
    log_scale = 0.0
    buf, ks = [], []
    for k in range(1, max_power + 1):
        P = A @ P
        f = float(np.linalg.norm(P))
        if f == 0.0:  # A^k = 0 exactly (nilpotent): every later power too
            break
        P = P / f
        log_scale += math.log(f)
        buf.append(P)
        ks.append((k, log_scale))
        if len(buf) == chunk:
            _flush(out, buf, ks)
    _flush(out, buf, ks)
    return out


def _flush(out, buf: list, ks: list) -> None:
    if buf:
        norms = np.linalg.norm(np.stack(buf), ord=2, axis=(1, 2))
        for (k, log_scale), s in zip(ks, norms):
            out[k] = log_scale + math.log(s)
        buf.clear()
        ks.clear()


SCHEMA = Schema("transient_growth", description="transient growth ||A^k||_2 and the Kreiss bounds, or the norm "
                                                "of Jacobian products along driven trajectories", variables={
    # mode "matrix"
    "power_norm": Var(("power",), "spectral norm of the matrix power ||A^k||_2 (inf beyond the float64 range)",
                      optional=True),
    "log_power_norm": Var(("power",), "natural log of ||A^k||_2 (-inf once A^k = 0)", optional=True),
    "peak_norm": Var((), "largest ||A^k||_2 over k = 0..max_power", optional=True),
    "peak_power": Var((), "power k of the largest ||A^k||_2", optional=True),
    "spectral_radius": Var((), "spectral radius rho(A) (||A^k|| ~ rho^k for large k)", optional=True),
    "spectral_norm": Var((), "spectral norm ||A||_2 (the one-step amplification)", optional=True),
    "kreiss_lower_bound": Var((), "lower bound on the Kreiss constant K = sup_{|z|>1} (|z|-1) ||(zI - A)^-1||_2 "
                                  "(numerical maximum); sup_k ||A^k||_2 >= K >= this", optional=True),
    "kreiss_upper_bound_on_peak": Var((), "e*n*K with K the Kreiss lower bound: the Kreiss-theorem bound "
                                          "sup_k ||A^k||_2 <= e*n*K, exact if the numerical maximum is K",
                                      optional=True),
    # mode "trajectory"
    "log_product_norm": Var(("trajectory", "power"), "natural log of ||J_{t0+k} ... J_{t0+1}||_2 along the "
                                                     "trajectory (Jacobian product over k steps)", optional=True),
    "mean_log_product_norm": Var(("power",), "mean over finite trajectories of ln||J_{t0+k} ... J_{t0+1}||_2",
                                 optional=True),
    "product_peak_log_norm": Var(("trajectory",), "largest ln||J_{t0+k} ... J_{t0+1}||_2 over k", optional=True),
    "product_peak_power": Var(("trajectory",), "number of steps k of the largest product norm", optional=True),
    "diverged": Var(("trajectory",), "trajectory diverged (NaN/inf state or Jacobian product)",
                    flags=DIVERGED_FLAGS, optional=True),
}, coords={
    "power": Var(("power",), "power k (number of steps)"),
    "trajectory": Var(("trajectory",), "trajectory index"),
})


def transient_growth(matrix_or_system, *, max_power: int = 100, inputs=None, at="recurrent", at_input=None,
                     transient: int = 0, initial_state=None, seed: int = 0, device=None) -> xr.Dataset:
    """Transient growth ``‖A^k‖₂`` with its peak and Kreiss bounds, or Jacobian-product norms.

    Parameters
    ----------
    matrix_or_system : array (N, N) or System
        A matrix, or a step map: its matrix ``at`` selects, or (with ``inputs``) its Jacobians
        along driven trajectories.
    max_power : int, default 100
        Powers (steps) ``k = 0..max_power``.
    inputs : Tensor or ndarray (trajectory, time, input_size), optional
        Drive the System and report ``ln ‖J_{t0+k} ⋯ J_{t0+1}‖₂`` along each trajectory
        (``t0 = transient``; needs ``time >= transient + max_power``). Without it, the powers
        of one matrix are analysed.
    at : {"recurrent", "initial_state"} or state (S,), default "recurrent"
        Without ``inputs``: which matrix of a System is powered, as in `dynalysis.pseudospectra`
        (``recurrent_matrix()``, or the Jacobian at the initial or a given state). Recorded
        in the attribute ``matrix_source``.
    at_input : array (input_size,), optional
        Constant input of that Jacobian (zero by default).
    transient : int, default 0
        With ``inputs``: steps run before the product starts.
    initial_state : Tensor, optional
        With ``inputs``: ``(state_size,)`` or ``(trajectory, state_size)``.
    seed : int, default 0
        Seed of the Lanczos start vector of the Kreiss search.
    device : optional
        Torch device (trajectory products, Kreiss search).

    Returns
    -------
    xarray.Dataset
        Attribute ``mode`` says which variables it holds. ``"matrix"``: ``power_norm`` and
        ``log_power_norm (power)``; scalars ``peak_norm``, ``peak_power`` (over
        ``k = 0..max_power``), ``spectral_radius``, ``spectral_norm``, ``kreiss_lower_bound``
        and ``kreiss_upper_bound_on_peak`` (``e·n·K``). ``"trajectory"``:
        ``log_product_norm (trajectory, power)``, ``mean_log_product_norm (power)`` (over
        finite trajectories), ``product_peak_log_norm`` and ``product_peak_power
        (trajectory)``, ``diverged (trajectory)``.

    Notes
    -----
    The powers are computed by repeated multiplication in normalised form (module notes); on
    small cases they equal `numpy.linalg.matrix_power` to round-off. Their forward error is
    that of repeated multiplication, about ``k·u·‖A‖^k`` absolute: relative accuracy is lost
    only where ``‖A^k‖ ≪ ‖A‖^k`` by more than ``1/u``. The Kreiss bounds: every
    ``(|z| − 1)/σ_min(zI − A)`` evaluated is at most ``K``, so ``kreiss_lower_bound ≤ K ≤
    sup_k ‖A^k‖`` holds rigorously (up to round-off) — a matrix whose peak over *all* ``k`` lies
    below it does not exist. ``e·n·K`` bounds the peak only with the true ``K``; with the
    numerical lower bound it is the theorem's bound if the maximum was found (a missed higher
    peak of the resolvent ratio would raise it). ``K = ∞`` when ``ρ(A) > 1``. The Jacobian
    products use ``system.tangent_step`` on the normalised product (``J·P̂``, all ``S``
    columns); trajectories whose state or product becomes NaN/inf are flagged and left out of
    the mean (`dynalysis.DivergenceWarning`).

    References
    ----------
    L. N. Trefethen, M. Embree, "Spectra and Pseudospectra", Princeton (2005), ch. 14-18.
    R. J. LeVeque, L. N. Trefethen, "On the resolvent condition in the Kreiss matrix theorem",
    BIT 24 (1984) 584-591; M. N. Spijker, BIT 31 (1991) 551-555.
    A. E. Orhan, X. Pitkow, "Improved memory in recurrent neural networks with sequential
    non-normal dynamics", ICLR 2020.

    Examples
    --------
    >>> import dynalysis, torch
    >>> from dynalysis.models.initializers import chain
    >>> W = chain(20, alpha=1.05, dtype=torch.float64)  # ‖W^k‖ = 1.05^k for k < 20, then 0; ρ = 0
    >>> ds = dynalysis.transient_growth(W, max_power=25)
    >>> float(ds.spectral_radius), int(ds.peak_power), round(float(ds.peak_norm), 12), round(1.05 ** 19, 12)
    (0.0, 19, 2.526950195376, 2.526950195376)
    >>> bool(ds.kreiss_lower_bound <= ds.peak_norm <= ds.kreiss_upper_bound_on_peak)
    True
    >>> lin = dynalysis.testing.linear_map(chain(5, alpha=2.0))  # a linear map's Jacobian products
    >>> tr = dynalysis.transient_growth(lin, max_power=6, inputs=dynalysis.zero_inputs(lin, 2, 6))
    >>> (tr.log_product_norm[0, :4] / np.log(2)).round(12).values.tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    max_power = check_positive_int("max_power", max_power, minimum=0, maximum=_MAX_POWER)
    transient = check_positive_int("transient", transient, minimum=0)
    if inputs is None:
        if transient or initial_state is not None:
            raise OptionError("transient and initial_state apply to trajectories: give inputs= with a System")
        A, system, source = analysed_matrix(matrix_or_system, at=at, at_input=at_input)
        return _matrix_growth(A, system, source, max_power, seed=int(seed), device=device)
    if isinstance(matrix_or_system, (np.ndarray, torch.Tensor, list, tuple)):
        raise OptionError("inputs= drives a System; a matrix has no trajectories (omit inputs)")
    if not (isinstance(at, str) and at == "recurrent") or at_input is not None:
        raise OptionError("at/at_input select one matrix and exclude inputs= (the Jacobians along the "
                          "trajectories are used)")
    return _trajectory_growth(matrix_or_system, inputs, max_power, transient, initial_state, device)


def _matrix_growth(A, system, source, max_power, *, seed, device):
    n = A.shape[0]
    log_norm = log_power_norms(A, max_power)
    T, _ = schur_form(A)
    K, _ = kreiss_lower_bound(T, real=np.isrealobj(A), seed=seed, device=device)
    k = int(np.argmax(log_norm))
    with np.errstate(over="ignore"):
        power_norm = np.exp(log_norm)
    data = {
        "power_norm": power_norm, "log_power_norm": log_norm,
        "peak_norm": float(power_norm[k]), "peak_power": k,
        "spectral_radius": float(np.abs(np.diag(T)).max()), "spectral_norm": float(np.linalg.norm(A, 2)),
        "kreiss_lower_bound": K, "kreiss_upper_bound_on_peak": math.e * n * K,
    }
    options = dict(max_power=max_power, seed=seed, mode="matrix")
    return build_result(SCHEMA, data, {"power": np.arange(max_power + 1)}, system=system, options=options,
                        source=None if system is not None else f"matrix {n}x{n}",
                        attrs={"mode": "matrix", "matrix_source": source, "kreiss_method": KREISS_METHOD,
                               "power_method": "repeated multiplication normalised by the Frobenius norm, "
                                               "logs of the scales accumulated; ||.||_2 by SVD"})


def _trajectory_growth(system, inputs, max_power, transient, initial_state, device):
    dtype = torch.float64
    x = as_inputs(system, inputs, dtype=dtype, device=device, min_steps=transient + max_power)
    B = x.shape[0]
    S = system.state_size
    sys_ = system.to(dtype=dtype, device=device)
    h = as_initial_state(sys_, initial_state, B, dtype=dtype, device=x.device)
    eye = torch.eye(S, dtype=dtype, device=x.device)
    P = eye.expand(B, S, S).clone()
    log_scale = torch.zeros(B, dtype=dtype, device=x.device)
    log_norm = torch.zeros(B, max_power + 1, dtype=dtype, device=x.device)
    diverged = torch.zeros(B, dtype=torch.bool, device=x.device)
    h, bad = run_final(sys_, x[:, :transient], h)
    diverged |= bad | ~torch.isfinite(h).all(1)
    with torch.no_grad():
        for k in range(1, max_power + 1):
            h, Z = sys_.tangent_step(h, x[:, transient + k - 1], P)  # J_k P̂_{k-1}
            diverged |= ~(torch.isfinite(h).all(1) & torch.isfinite(Z).all((1, 2)))
            Z = torch.where(diverged[:, None, None], eye, Z)  # LAPACK never sees NaN/inf
            m = Z.abs().amax((1, 2))
            f = m * torch.linalg.matrix_norm(Z / torch.where(m > 0, m, 1)[:, None, None])
            P = Z / torch.where(f > 0, f, 1)[:, None, None]
            log_scale = log_scale + torch.log(f)
            log_norm[:, k] = log_scale + torch.log(torch.linalg.matrix_norm(P, ord=2))
    out = log_norm.cpu().numpy()
    bad = diverged.cpu().numpy()
    out[bad] = np.nan
    warn_diverged(bad, analysis="transient_growth", stacklevel=4)
    ok = ~bad
    with np.errstate(invalid="ignore"):
        mean = out[ok].mean(0) if ok.any() else np.full(max_power + 1, np.nan)
    peak_k = np.where(ok, np.argmax(np.where(ok[:, None], out, -np.inf), 1), -1)
    data = {
        "log_product_norm": out, "mean_log_product_norm": mean,
        "product_peak_log_norm": np.where(ok, out[np.arange(B), np.maximum(peak_k, 0)], np.nan),
        "product_peak_power": peak_k, "diverged": bad,
    }
    options = dict(max_power=max_power, transient=transient, trajectories=B, steps=int(x.shape[1]),
                   initial_state="given" if initial_state is not None else "system", mode="trajectory")
    return build_result(SCHEMA, data, {"power": np.arange(max_power + 1), "trajectory": np.arange(B)},
                        system=system, options=options,
                        attrs={"mode": "trajectory",
                               "matrix_source": "Jacobian products dF/dh along the driven trajectories",
                               "power_method": "J*P products (tangent_step) normalised by the Frobenius norm, "
                                               "logs of the scales accumulated; ||.||_2 by SVD"})
