"""Confidence intervals and convergence of Lyapunov exponents (docs/science.md §6).

The QR engine keeps, per trajectory and frame column, the sums of ``ln|R_ii|`` over a fixed
number of consecutive time blocks (`BlockSums`: at most `MAX_BLOCKS`, their length fixed from
the run's length up front, so memory does not grow with the number of steps, and the blocks
are the same time spans whatever the QR schedule). From them:

* a confidence interval per exponent from two bootstraps of the mean over trajectories of
  ``Σ ln|R_ii| / Σ steps``: resampling the time blocks of each trajectory (a block bootstrap,
  i.e. batch means: the noise along a trajectory) and resampling whole trajectories (the
  differences between them); each gives the central ``confidence`` quantile range of
  `N_BOOTSTRAP` resamples (percentile interval) and each exponent gets the wider one;
* ``converged``: the interval's half-width is at most ``ci_tol · max(|λ_i|, max_j |λ_j|/10)``
  or an absolute ``ci_atol`` (an exponent known to ±ci_atol nats per step), *and* the convergence trace drifts less than that half-width over the last `TAIL` (20 %) of
  the averaged steps. The first condition asks for a statistically resolved value (relative to
  the exponent, or to a tenth of the spectrum's largest magnitude for exponents near 0); the
  second catches what the blocks cannot see: a running estimate that is still moving, as it
  does while the frame aligns or the state wanders through a slow transient.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["BlockSums", "block_length", "bootstrap_interval", "trace_drift", "converged", "N_BOOTSTRAP", "TAIL",
           "MAX_BLOCKS"]

MAX_BLOCKS = 64  # time blocks kept per trajectory (33-64 of them hold steps, once the run is > 64 steps)
N_BOOTSTRAP = 1000
TAIL = 0.2  # fraction of the averaged steps over which the trace must have stopped drifting
SCALE_FRACTION = 0.1  # exponents near 0 are resolved relative to this share of max_j |λ_j|


def block_length(n_steps: int) -> int:
    """Time steps per confidence block of a run averaging ``n_steps`` steps: the smallest
    power of 2 that keeps the number of blocks ``ceil(n_steps / P) ≤ MAX_BLOCKS``.

    >>> block_length(64), block_length(65), block_length(1000)
    (1, 2, 16)
    """
    P = 1
    while -(-int(n_steps) // P) > MAX_BLOCKS:
        P *= 2
    return P


class BlockSums:
    """Sums of ``ln|R_ii|`` over consecutive blocks of time steps, ``(MAX_BLOCKS, B, k)``.

    Block ``j`` holds the averaged steps ``j·P + 1 .. (j+1)·P`` with ``P = block_length(n_steps)``
    fixed up front, so the blocks are the same time spans whatever the QR schedule: the QR
    engine re-orthonormalises at every block boundary (`next_boundary`), and a QR's
    ``ln|R_ii|`` (which cover the steps since the previous QR) fall into the block of its
    last step. One ``index_add_`` per call of `add`, no host synchronisation on the CPU.
    """

    def __init__(self, B: int, k: int, n_steps: int, *, dtype, device):
        self.sums = torch.zeros(MAX_BLOCKS, B, k, dtype=dtype, device=device)
        self.steps = np.zeros(MAX_BLOCKS, dtype=np.int64)
        self.per_block = block_length(n_steps)  # time steps per block
        self.last = 0  # averaged steps covered so far

    def add(self, logs, ends: np.ndarray) -> None:
        """Add ``logs (n, B, k)`` (``ln|diag R|`` of the next ``n`` QR steps), the QRs taken
        after ``ends (n,)`` averaged steps (increasing)."""
        ends = np.asarray(ends, dtype=np.int64)
        idx = (ends - 1) // self.per_block
        np.add.at(self.steps, idx, np.diff(ends, prepend=self.last))
        self.last = int(ends[-1])
        block = torch.from_numpy(idx)
        if self.sums.is_cuda:  # pinned and asynchronous: the time loop does not wait for the device
            block = block.pin_memory()
        self.sums.index_add_(0, block.to(self.sums.device, non_blocking=True), logs)

    def next_boundary(self, done: int) -> int:
        """First block boundary after ``done`` averaged steps."""
        return (done // self.per_block + 1) * self.per_block

    def filled(self) -> tuple[np.ndarray, np.ndarray]:
        """``(sums (m, B, k), steps (m,))`` of the ``m`` blocks that hold steps."""
        m = -(-self.last // self.per_block)
        return self.sums[:m].cpu().numpy(), self.steps[:m].copy()


def bootstrap_interval(sums: np.ndarray, steps: np.ndarray, *, confidence: float, seed: int,
                       n_boot: int = N_BOOTSTRAP) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval ``(low, high)``, each ``(k,)``, of the mean exponent over trajectories.

    ``sums (m, B, k)``: per-block sums of ``ln|R_ii|`` of ``B`` (finite) trajectories, columns
    already in exponent order; ``steps (m,)``: steps per block. Two bootstraps of the estimate
    ``mean_b Σ_j sums[j, b] / Σ_j steps[j]``: one resamples the time blocks of every
    trajectory (batch means: the noise along each trajectory), the other resamples whole
    trajectories (differences between them, e.g. distinct attractors or inputs). Each exponent
    gets the wider of the two intervals, so neither source of error is counted twice. NaN when
    there is nothing to resample (no trajectory, or one trajectory with one block).

    >>> rates = np.full((8, 2, 1), 0.5)  # 2 trajectories, 8 one-step blocks, constant rate 0.5
    >>> bootstrap_interval(rates, np.ones(8, dtype=int), confidence=0.95, seed=0)
    (array([0.5]), array([0.5]))
    """
    m, B, k = sums.shape
    if B == 0 or m * B < 2:
        return np.full(k, np.nan), np.full(k, np.nan)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x6C79]))
    a = (1.0 - confidence) / 2
    counts = rng.multinomial(m, np.full(m, 1.0 / m), size=(n_boot, B)).astype(np.float64)  # (R, B, m)
    totals = np.matmul(counts.transpose(1, 0, 2), sums.transpose(1, 0, 2))  # (B, R, k)
    lengths = counts @ steps.astype(np.float64)  # (R, B)
    within = (totals.transpose(1, 0, 2) / lengths[..., None]).mean(1)  # (R, k)
    per_trajectory = sums.sum(0) / steps.sum()  # (B, k)
    between = per_trajectory[rng.integers(B, size=(n_boot, B))].mean(1)  # (R, k)
    lo_w, hi_w = np.quantile(within, [a, 1.0 - a], axis=0)
    lo_b, hi_b = np.quantile(between, [a, 1.0 - a], axis=0)
    wider = (hi_b - lo_b) > (hi_w - lo_w)
    return np.where(wider, lo_b, lo_w), np.where(wider, hi_b, hi_w)


def trace_drift(trace: np.ndarray, trace_steps: np.ndarray, n_avg: int) -> np.ndarray:
    """Range (max − min) of the running estimates ``trace (rows, k)`` over the rows at or after
    ``(1 − TAIL) · n_avg`` averaged steps; ``(k,)``.

    >>> trace_drift(np.array([[1.0], [0.5], [0.4], [0.45]]), np.array([25, 50, 90, 100]), 100)
    array([0.05])
    """
    tail = np.asarray(trace_steps) >= (1.0 - TAIL) * n_avg
    if not tail.any():
        return np.zeros(trace.shape[1])
    rows = trace[tail]
    return rows.max(0) - rows.min(0)


def converged(exponent: np.ndarray, low: np.ndarray, high: np.ndarray, drift: np.ndarray, *,
              ci_tol: float, ci_atol: float = 0.0) -> np.ndarray:
    """Boolean ``(k,)``: half-width ``≤ max(ci_tol · max(|λ_i|, SCALE_FRACTION · max_j |λ_j|),
    ci_atol)`` and ``drift ≤`` half-width (each up to round-off). False where anything is NaN.

    >>> converged(np.array([0.5, -1.0]), np.array([0.49, -1.2]), np.array([0.51, -0.8]),
    ...           np.array([0.001, 0.001]), ci_tol=0.05).tolist()
    [True, False]
    """
    half = (high - low) / 2
    lam = np.abs(exponent)
    scale = SCALE_FRACTION * np.nanmax(lam) if np.isfinite(lam).any() else np.nan
    rounding = 64 * np.finfo(float).eps * np.maximum(lam, 1.0)
    with np.errstate(invalid="ignore"):
        allowed = np.maximum(ci_tol * np.maximum(lam, scale), ci_atol)
        ok = (half <= allowed + rounding) & (drift <= half + rounding)
    return ok & np.isfinite(half) & np.isfinite(exponent)
