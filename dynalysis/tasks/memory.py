"""Memory probes: i.i.d. input streams with targets that are delayed copies or linear filters.

`DelayedRecallTask` asks for ``x_{t−k}`` at every step for a set of lags ``k`` (the task
behind Jaeger's linear memory capacity). `LinearTeacherTask` asks for ``y_t = Σ_j K_j x_{t−j}``
with a chosen teacher kernel ``K``: the convolution that a linear RNN
``h_t = A h_{t−1} + B x_t``, ``y_t = C h_t`` computes with ``K_j = C A^j B`` (Emami et al. 2021).

Both draw ``x_t`` i.i.d. with zero mean and unit variance: ``"gaussian"`` is N(0, 1),
``"uniform"`` is U(−√3, √3). The history before ``t = 0`` is zero, as for a network started
from ``h_0 = 0``. Both are per-step MSE regressions (``target_mode = "sequence"``).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import OptionError
from .._core.options import check_option, check_positive_int
from ._base import GeneratedTask, Split, check_float, register_task

__all__ = ["DelayedRecallTask", "LinearTeacherTask"]

DISTRIBUTIONS = ("gaussian", "uniform")


class _StreamTask(GeneratedTask):
    """Scalar i.i.d. input stream ``x (n, T, 1)`` with zero mean and unit variance."""

    def _stream_options(self, seq_len: int, distribution: str) -> dict:
        check_option("distribution", distribution, DISTRIBUTIONS)
        self.seq_len = check_positive_int("seq_len", seq_len)
        self.input_size = 1
        self.target_mode = "sequence"
        self.loss = "mse"
        return dict(seq_len=self.seq_len, distribution=distribution)

    def _inputs(self, n: int, generator: torch.Generator) -> torch.Tensor:
        shape = (n, self.seq_len, 1)
        if self.options["distribution"] == "gaussian":
            return torch.randn(shape, generator=generator)
        return (2 * torch.rand(shape, generator=generator) - 1) * math.sqrt(3.0)


@register_task("delayed_recall")
class DelayedRecallTask(_StreamTask):
    """Recall the input ``k`` steps back, for every lag ``k`` in ``lags``, at every step.

    Parameters
    ----------
    seq_len : int, default 100
    lags : list of int, default [1, 2, 4, 8, 16]
        Distinct lags ``0 <= k < seq_len``; output ``i`` recalls lag ``lags[i]``.
    distribution : {"gaussian", "uniform"}, default "gaussian"
    n_train, n_val, n_test : int
    seed : int, default 0

    Notes
    -----
    ``inputs (n, T, 1)`` float32; ``targets (n, T, m)`` float32 with ``m = len(lags)``:
    ``targets[:, t, i] = x_{t − k_i}`` for ``t ≥ k_i`` and 0 before (the zero history; such
    targets are trivially met by an output of 0, and count in the mean like any other step).

    Chance baseline: the best input-independent predictor outputs 0 (the mean) everywhere; it
    is exact for ``t < k_i`` and costs ``Var x = 1`` elsewhere, so
    ``chance_loss = Σ_i (T − k_i) / (T m)``.

    References
    ----------
    H. Jaeger, "Short term memory in echo state networks", GMD Report 152, 2002.
    """

    def __init__(self, *, seq_len: int = 100, lags: list[int] | None = None,
                 distribution: str = "gaussian", n_train: int = 1000, n_val: int = 200,
                 n_test: int = 200, seed: int = 0):
        stream = self._stream_options(seq_len, distribution)
        lags = [1, 2, 4, 8, 16] if lags is None else list(lags)
        if not lags or len(set(lags)) != len(lags):
            raise OptionError(f"lags must be a non-empty list of distinct integers, got {lags}")
        lags = [check_positive_int("lags", k, minimum=0, maximum=self.seq_len - 1) for k in lags]
        self.options = dict(**stream, lags=lags, **self._size_options(n_train, n_val, n_test, seed))
        self.output_size = len(lags)

    @property
    def chance_loss(self) -> float:
        T, lags = self.seq_len, self.options["lags"]
        return sum(T - k for k in lags) / (T * len(lags))

    def _sample(self, n: int, generator: torch.Generator, split: str) -> Split:
        x = self._inputs(n, generator)
        targets = torch.zeros(n, self.seq_len, self.output_size)
        for i, k in enumerate(self.options["lags"]):  # loop over lags (outputs), not units
            targets[:, k:, i] = x[:, : self.seq_len - k, 0]
        return Split(x, targets)


@register_task("linear_teacher")
class LinearTeacherTask(_StreamTask):
    """Regress onto a linear convolution of the input: ``y_t = Σ_{j=0}^{L−1} K_j x_{t−j}``.

    Parameters
    ----------
    seq_len : int, default 100
    kernel : {"exponential", "single_lag", "custom"}, default "exponential"
        ``"exponential"``: ``K_j = amplitude · exp(−j / tau)``, ``j < kernel_length``.
        ``"single_lag"``: ``K_j = amplitude · δ_{j, lag}`` (length ``lag + 1``).
        ``"custom"``: ``K = kernel_values``.
    kernel_length : int, default 32
        Number of taps of the exponential kernel.
    tau : float, default 4.0
        Decay time of the exponential kernel, in steps.
    lag : int, default 8
        Lag of the single-lag kernel.
    amplitude : float, default 1.0
    kernel_values : list of float, optional
        Taps ``K_0, K_1, …`` of the custom kernel (required for ``kernel="custom"``).
    distribution : {"gaussian", "uniform"}, default "gaussian"
    n_train, n_val, n_test : int
    seed : int, default 0

    Notes
    -----
    ``inputs (n, T, 1)``, ``targets (n, T, 1)`` float32, computed in float64 with zero history
    (``x_t = 0`` for ``t < 0``). `teacher_kernel` returns ``K``, the target a linear RNN's
    memory kernel ``C A^j B`` should learn.

    Chance baseline: the best input-independent predictor outputs ``E y_t = 0``; its MSE is
    ``(1/T) Σ_t Var y_t = (1/T) Σ_{j < min(L, T)} K_j² (T − j)`` (unit input variance).

    References
    ----------
    M. Emami, M. Sahraee-Ardakan, P. Pandit, S. Rangan and A. K. Fletcher, "Implicit bias of
    linear RNNs", ICML 2021.
    """

    def __init__(self, *, seq_len: int = 100, kernel: str = "exponential", kernel_length: int = 32,
                 tau: float = 4.0, lag: int = 8, amplitude: float = 1.0,
                 kernel_values: list[float] | None = None, distribution: str = "gaussian",
                 n_train: int = 1000, n_val: int = 200, n_test: int = 200, seed: int = 0):
        stream = self._stream_options(seq_len, distribution)
        check_option("kernel", kernel, ("exponential", "single_lag", "custom"))
        if kernel == "custom":
            if not kernel_values:
                raise OptionError("kernel='custom' needs kernel_values, a non-empty list of taps")
            kernel_values = [check_float("kernel_values", v) for v in kernel_values]
        elif kernel_values is not None:
            raise OptionError(f"kernel_values is only used with kernel='custom', not {kernel!r}")
        self.options = dict(**stream, kernel=kernel,
                            kernel_length=check_positive_int("kernel_length", kernel_length),
                            tau=check_float("tau", tau, low=0.0),
                            lag=check_positive_int("lag", lag, minimum=0),
                            amplitude=check_float("amplitude", amplitude),
                            kernel_values=kernel_values,
                            **self._size_options(n_train, n_val, n_test, seed))
        self.output_size = 1

    def teacher_kernel(self) -> torch.Tensor:
        """The teacher kernel ``K (L,)`` float64: ``y_t = Σ_j K_j x_{t−j}``."""
        o = self.options
        if o["kernel"] == "custom":
            return torch.tensor(o["kernel_values"], dtype=torch.float64)
        if o["kernel"] == "single_lag":
            K = torch.zeros(o["lag"] + 1, dtype=torch.float64)
            K[-1] = o["amplitude"]
            return K
        j = torch.arange(o["kernel_length"], dtype=torch.float64)
        return o["amplitude"] * torch.exp(-j / o["tau"])

    @property
    def chance_loss(self) -> float:
        T = self.seq_len
        K = self.teacher_kernel()[:T]
        return float((K**2 * (T - torch.arange(len(K)))).sum() / T)

    def _sample(self, n: int, generator: torch.Generator, split: str) -> Split:
        x = self._inputs(n, generator)
        K = self.teacher_kernel()
        # conv1d correlates: out_t = Σ_m w_m xpad_{t+m}; with L−1 zeros in front and w = flip(K)
        # this is Σ_j K_j x_{t−j}.
        xpad = F.pad(x.to(torch.float64).transpose(1, 2), (len(K) - 1, 0))
        y = F.conv1d(xpad, K.flip(0).view(1, 1, -1))
        return Split(x, y.transpose(1, 2).to(torch.float32).contiguous())
