"""Residual matrices of weakly coupled residual RNNs (Dubinin & Effenberger 2024; docs/science.md §1).

    identity        R = λ I
    rotational      R = λ · blockdiag(Rot(θ_1), …, Rot(θ_{N/2}))       eigenvalues λ e^{±iθ_k}
    heterogeneous   R = diag(λ_1, …, λ_N),  λ_i ~ U[λ_min, λ_max]  or  λ_i = exp(−1/τ_i),
                    τ_i ~ U[τ_min, τ_max]

and the WCRNN initialisation of an ordinary Elman RNN, ``W_hh(0) = R + ε W_0``,
``W_0 ~ N(0, 1/N)``.

References
----------
Dubinin & Effenberger, "Fading memory as inductive bias in residual recurrent networks",
Neural Networks 2024, arXiv:2307.14823.
"""
from __future__ import annotations

import math
from numbers import Real

import torch
from torch import Tensor

from ...errors import OptionError
from ..._core.options import check_option
from ._common import check_range, out_dtype, resolve_shape
from ._eigen import blockdiag_rotations

__all__ = ["rotational", "heterogeneous_scales", "residual_matrix", "check_residual_options",
           "wcrnn", "LINEAR_RESIDUALS"]

LINEAR_RESIDUALS = ("identity", "rotational", "heterogeneous")


def _frequencies(m: int, frequencies, generator) -> Tensor:
    if isinstance(frequencies, str):
        check_option("frequencies", frequencies, ("uniform",))
        return math.pi * torch.rand(m, generator=generator, dtype=torch.float64)
    if isinstance(frequencies, Real) and not isinstance(frequencies, bool):
        return torch.full((m,), float(frequencies), dtype=torch.float64)
    if isinstance(frequencies, (list, tuple)) and all(
            isinstance(f, Real) and not isinstance(f, bool) for f in frequencies):
        if len(frequencies) != m:
            raise OptionError(f"frequencies must list one angle per 2x2 block (N // 2 = {m}), "
                              f"got {len(frequencies)}")
        return torch.tensor([float(f) for f in frequencies], dtype=torch.float64)
    raise OptionError(f"invalid frequencies={frequencies!r}; allowed values: a float, a list of "
                      f"N // 2 floats, or 'uniform'")


def rotational(n: int, *, scale: float = 1.0, frequencies="uniform",
               generator: torch.Generator | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """Rotational residual ``R = λ · blockdiag(Rot(θ_1), …, Rot(θ_{N/2}))``.

    Parameters
    ----------
    n : int
        Size ``N``. For odd ``N`` a trailing 1×1 block ``λ`` (a real eigenvalue) is appended.
    scale : float, default 1.0
        ``λ``; every eigenvalue has modulus ``λ``.
    frequencies : float, list of float, or "uniform", default "uniform"
        One angle for every block, one angle per block (``N // 2`` of them), or
        ``θ_k ~ U[0, π]`` *(our choice of distribution)*. E.g. ``2π/8`` locks onto the row
        period of 8×8 digits read pixel by pixel.
    generator, dtype : optional

    Returns
    -------
    Tensor, shape (n, n)
        Eigenvalues ``λ e^{±iθ_k}`` (and ``λ`` for odd ``N``).
    """
    rows, _ = resolve_shape(n, None)
    m = rows // 2
    radii = torch.full((m + rows % 2,), float(scale), dtype=torch.float64)
    return blockdiag_rotations(radii, _frequencies(m, frequencies, generator), rows).to(out_dtype(dtype))


def heterogeneous_scales(n: int, *, scale_range=None, memory_time_range=None,
                         generator: torch.Generator | None = None,
                         dtype: torch.dtype | None = None) -> Tensor:
    """Per-unit residual scales ``λ_i`` of the heterogeneous residual ``R = diag(λ)``.

    Parameters
    ----------
    n : int
    scale_range : (float, float), optional
        ``λ_i ~ U[λ_min, λ_max]``. Default ``(0.9, 1.0)`` *(our choice)* when neither range
        is given.
    memory_time_range : (float, float), optional
        ``τ_i ~ U[τ_min, τ_max]`` (steps, > 0) and ``λ_i = exp(−1/τ_i)``, so that unit ``i``
        forgets with memory time ``τ_i`` (exponent ``ln λ_i = −1/τ_i``).

    Returns
    -------
    Tensor, shape (n,)
    """
    rows, _ = resolve_shape(n, None)
    if scale_range is not None and memory_time_range is not None:
        raise OptionError("give scale_range or memory_time_range, not both")
    u = torch.rand(rows, generator=generator, dtype=torch.float64)
    if memory_time_range is not None:
        lo, hi = check_range("memory_time_range", *_pair("memory_time_range", memory_time_range))
        if lo <= 0:
            raise OptionError(f"memory_time_range must be > 0 (steps), got ({lo}, {hi})")
        lam = torch.exp(-1.0 / (lo + (hi - lo) * u))
    else:
        lo, hi = check_range("scale_range", *_pair("scale_range", scale_range or (0.9, 1.0)))
        lam = lo + (hi - lo) * u
    return lam.to(out_dtype(dtype))


def _pair(name: str, value) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise OptionError(f"{name} must be a pair [lo, hi], got {value!r}")
    return float(value[0]), float(value[1])


def residual_matrix(n: int, residual: str = "identity", *, residual_scale: float = 1.0,
                    frequencies=None, scale_range=None, memory_time_range=None,
                    generator: torch.Generator | None = None,
                    dtype: torch.dtype | None = None) -> Tensor:
    """Linear residual ``R`` (``ρ(h) = R h``) of any kind, with the WCRNN's option names.

    Parameters
    ----------
    n : int
    residual : {"identity", "rotational", "heterogeneous"}, default "identity"
    residual_scale : float, default 1.0
        ``λ`` of "identity" and "rotational" (must stay 1.0 for "heterogeneous").
    frequencies : float, list or "uniform", optional
        "rotational" only (default "uniform"), see `rotational`.
    scale_range, memory_time_range : (float, float), optional
        "heterogeneous" only, see `heterogeneous_scales`.

    Returns
    -------
    Tensor, shape (n, n)
    """
    n, _ = resolve_shape(n, None)
    check_option("residual", residual, LINEAR_RESIDUALS)
    check_residual_options(residual, residual_scale=residual_scale, frequencies=frequencies,
                           scale_range=scale_range, memory_time_range=memory_time_range)
    if residual == "identity":
        return float(residual_scale) * torch.eye(n, dtype=out_dtype(dtype))
    if residual == "rotational":
        return rotational(n, scale=residual_scale, generator=generator, dtype=dtype,
                          frequencies="uniform" if frequencies is None else frequencies)
    return torch.diag(heterogeneous_scales(n, scale_range=scale_range, generator=generator,
                                           memory_time_range=memory_time_range, dtype=dtype))


def check_residual_options(residual: str, *, residual_scale=1.0, frequencies=None,
                           scale_range=None, memory_time_range=None, residual_fn=None) -> None:
    """Raise `OptionError` when an option is set that the residual kind does not use."""
    unused = {"frequencies": (frequencies, "rotational"),
              "scale_range": (scale_range, "heterogeneous"),
              "memory_time_range": (memory_time_range, "heterogeneous"),
              "residual_fn": (residual_fn, "nonlinear")}
    for name, (value, kind) in unused.items():
        if value is not None and residual != kind:
            raise OptionError(f"{name} applies to residual={kind!r} only, not {residual!r}")
    if residual == "heterogeneous" and float(residual_scale) != 1.0:
        raise OptionError("residual_scale does not apply to residual='heterogeneous'; "
                          "set scale_range or memory_time_range instead")


def wcrnn(n: int, *, epsilon: float = 0.1, residual: str = "identity",
          residual_scale: float = 1.0, frequencies=None, scale_range=None,
          memory_time_range=None, generator: torch.Generator | None = None,
          dtype: torch.dtype | None = None) -> Tensor:
    """WCRNN initialisation of an Elman RNN: ``W_hh = R + ε W_0``, ``W_0 ~ N(0, 1/N)``.

    Parameters
    ----------
    n : int
    epsilon : float, default 0.1
        Coupling ``ε`` of the random part.
    residual, residual_scale, frequencies, scale_range, memory_time_range
        The linear residual ``R``, see `residual_matrix`.

    Notes
    -----
    ``R`` is drawn first, then ``W_0``, from the same generator (docs/science.md §1, variant 5).
    """
    R = residual_matrix(n, residual, residual_scale=residual_scale, frequencies=frequencies,
                        scale_range=scale_range, memory_time_range=memory_time_range,
                        generator=generator, dtype=torch.float64)
    W0 = torch.randn(n, n, generator=generator, dtype=torch.float64) / math.sqrt(n)
    return (R + float(epsilon) * W0).to(out_dtype(dtype))
