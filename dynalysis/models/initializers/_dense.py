"""Classic dense initializers: Gaussian, uniform, Xavier, Kaiming, orthogonal, identity, np-RNN.

Every function returns a new ``(n_rows, n_cols)`` matrix (square ``(N, N)`` when ``n_cols`` is
omitted), row = receiving unit, so that ``W @ h`` is the recurrent drive. Random draws use
``generator`` (torch's global generator when None).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ...errors import OptionError
from ..._core.options import check_option
from ._common import out_dtype, resolve_shape

__all__ = ["normal", "uniform", "xavier", "kaiming", "orthogonal", "identity", "np_rnn"]

_FANS = ("in", "out", "none")


def normal(n_rows: int, n_cols: int | None = None, *, gain: float = 1.0, fan: str = "in",
           generator: torch.Generator | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """Gaussian matrix ``W_ij ~ N(0, σ²)`` with ``σ = gain / √fan``.

    Parameters
    ----------
    n_rows, n_cols : int
        Shape; ``n_cols`` defaults to ``n_rows``.
    gain : float, default 1.0
    fan : {"in", "out", "none"}, default "in"
        ``σ = gain/√n_cols`` ("in"), ``gain/√n_rows`` ("out") or ``gain`` ("none").

    Notes
    -----
    ``fan="in"``, gain 1 is the classic random-network scaling ``W ~ N(0, 1/N)`` (spectral
    radius ≈ gain by the circular law); with gain ``s_A`` it is the width-scaled linear-RNN
    parameterisation ``A = U/√n, U ~ N(0, s_A²)`` (Emami et al. 2021). Orhan & Pitkow's input
    baseline ``V ~ N(0, (0.9/√N)²)`` is ``fan="out", gain=0.9``.
    """
    rows, cols = resolve_shape(n_rows, n_cols)
    check_option("fan", fan, _FANS)
    fan_size = {"in": cols, "out": rows, "none": 1}[fan]
    std = float(gain) / math.sqrt(max(fan_size, 1))
    return std * torch.randn(rows, cols, generator=generator, dtype=out_dtype(dtype))


def uniform(n_rows: int, n_cols: int | None = None, *, bound: float | None = None,
            generator: torch.Generator | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """Uniform matrix ``W_ij ~ U(-a, a)``, ``a = bound`` (default ``1/√n_rows``).

    With the default bound this is PyTorch's own initialisation of ``nn.RNN``/``nn.LSTM``/
    ``nn.GRU`` weights and biases (``a = 1/√hidden_size``, rows = hidden units).
    """
    rows, cols = resolve_shape(n_rows, n_cols)
    a = 1.0 / math.sqrt(rows) if bound is None else float(bound)
    if a < 0:
        raise OptionError(f"bound must be >= 0, got {bound}")
    return (2 * torch.rand(rows, cols, generator=generator, dtype=out_dtype(dtype)) - 1) * a


def _from_std(rows, cols, std, distribution, generator, dtype) -> Tensor:
    check_option("distribution", distribution, ("uniform", "normal"))
    if distribution == "normal":
        return std * torch.randn(rows, cols, generator=generator, dtype=out_dtype(dtype))
    a = math.sqrt(3.0) * std  # U(-a, a) has variance a²/3
    return (2 * torch.rand(rows, cols, generator=generator, dtype=out_dtype(dtype)) - 1) * a


def xavier(n_rows: int, n_cols: int | None = None, *, gain: float = 1.0,
           distribution: str = "uniform", generator: torch.Generator | None = None,
           dtype: torch.dtype | None = None) -> Tensor:
    """Xavier (Glorot) initializer: ``Var W_ij = gain² · 2 / (fan_in + fan_out)``.

    Parameters
    ----------
    gain : float, default 1.0
    distribution : {"uniform", "normal"}, default "uniform"
        ``U(-a, a)`` with ``a = gain √(6/(fan_in+fan_out))``, or a Gaussian of that variance.

    References
    ----------
    Glorot & Bengio, "Understanding the difficulty of training deep feedforward neural
    networks", AISTATS 2010.
    """
    rows, cols = resolve_shape(n_rows, n_cols)
    std = float(gain) * math.sqrt(2.0 / max(rows + cols, 1))
    return _from_std(rows, cols, std, distribution, generator, dtype)


def kaiming(n_rows: int, n_cols: int | None = None, *, nonlinearity: str = "relu",
            mode: str = "fan_in", distribution: str = "normal",
            generator: torch.Generator | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """Kaiming (He) initializer: ``Var W_ij = gain² / fan`` with the non-linearity's gain.

    Parameters
    ----------
    nonlinearity : {"relu", "tanh", "linear"}, default "relu"
        Gain ``√2`` (relu), ``5/3`` (tanh) or ``1`` (linear), as in
        `torch.nn.init.calculate_gain` (use "relu" for ELU cells).
    mode : {"fan_in", "fan_out"}, default "fan_in"
        ``fan = n_cols`` or ``n_rows``.
    distribution : {"normal", "uniform"}, default "normal"

    References
    ----------
    He et al., "Delving deep into rectifiers", ICCV 2015.
    """
    rows, cols = resolve_shape(n_rows, n_cols)
    check_option("nonlinearity", nonlinearity, ("relu", "tanh", "linear"))
    check_option("mode", mode, ("fan_in", "fan_out"))
    gain = {"relu": math.sqrt(2.0), "tanh": 5.0 / 3.0, "linear": 1.0}[nonlinearity]
    fan = cols if mode == "fan_in" else rows
    return _from_std(rows, cols, gain / math.sqrt(max(fan, 1)), distribution, generator, dtype)


def random_orthogonal(n: int, *, generator: torch.Generator | None = None) -> Tensor:
    """Haar-distributed orthogonal ``(n, n)`` matrix in float64 (QR of a Gaussian, signs fixed)."""
    Z = torch.randn(n, n, generator=generator, dtype=torch.float64)
    Q, R = torch.linalg.qr(Z)
    signs = torch.sign(torch.diagonal(R))
    return Q * torch.where(signs == 0, torch.ones_like(signs), signs)  # scale columns


def orthogonal(n: int, *, gain: float = 1.0, generator: torch.Generator | None = None,
               dtype: torch.dtype | None = None) -> Tensor:
    """Random orthogonal matrix times ``gain``: ``W Wᵀ = gain² I``, all ``|eig W| = gain``.

    Drawn from the Haar measure (QR of a Gaussian matrix with the signs of ``diag R`` fixed).

    References
    ----------
    Saxe, McClelland & Ganguli, ICLR 2014; Henaff, Szlam & LeCun, ICML 2016.
    """
    rows, _ = resolve_shape(n, None)
    return (float(gain) * random_orthogonal(rows, generator=generator)).to(out_dtype(dtype))


def identity(n: int, *, scale: float = 1.0, dtype: torch.dtype | None = None) -> Tensor:
    """Scaled identity ``W = scale · I`` (IRNN when ``scale = 1`` with a ReLU cell).

    References
    ----------
    Le, Jaitly & Hinton, "A simple way to initialize recurrent networks of rectified linear
    units", arXiv:1504.00941, 2015.
    """
    rows, _ = resolve_shape(n, None)
    return float(scale) * torch.eye(rows, dtype=out_dtype(dtype))


def np_rnn(n: int, *, generator: torch.Generator | None = None,
           dtype: torch.dtype | None = None) -> Tensor:
    """np-RNN initializer: ``W = (RᵀR/N + I) / λ_max``, ``R_ij ~ N(0, 1)``.

    ``RᵀR/N + I`` is symmetric positive definite; dividing by its largest eigenvalue makes
    the largest eigenvalue of ``W`` exactly 1 and all others lie in ``(0, 1]``.

    References
    ----------
    Talathi & Vartak, "Improving performance of recurrent neural network with ReLU
    nonlinearity", arXiv:1511.03771, 2015.
    """
    rows, _ = resolve_shape(n, None)
    R = torch.randn(rows, rows, generator=generator, dtype=torch.float64)
    M = R.T @ R / rows + torch.eye(rows, dtype=torch.float64)
    M = (M + M.T) / 2
    return (M / torch.linalg.eigvalsh(M)[-1]).to(out_dtype(dtype))
