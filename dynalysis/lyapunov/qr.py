"""The QR (Benettin) engine of `dynalysis.lyapunov_spectrum`: the orthonormal frame and its QR
schedule, the streamed accumulator of ``ln|R_ii|``, and the two ways of getting ``J_t Q``.

See `dynalysis.lyapunov.spectrum` for the algorithm and its options. Memory does not grow with
the number of steps, and nothing in the time loop synchronises with the host.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .confidence import BlockSums

__all__ = ["initial_frame", "auto_log_condition", "LogRAccumulator", "Frame", "run_tangent", "run_jacobian",
           "jacobian_chunk"]

_CHUNK_ELEMENTS = 2**18  # Jacobian chunk of at most 2 MiB in float64 (cache-sized: 16 MiB chunks
#                         ran up to 2x slower per step, memory-bound, benchmarks/_method_bench.py)
_MAX_CHUNK = 1024  # steps per chunk
_FLUSH = 64  # QR steps between folds of the diag-R buffer into the running sums
_GEQRF_MIN_STATE = 32  # from here geqrf + householder_product beats linalg.qr (5-12 % at 256)
_AUTO_MAX_EVERY = 16  # longest block of the "auto" schedule (the J·Q products dominate beyond)
_AUTO_MAX_EPS = 1e-15  # "auto" skips QRs only at float64 precision (or finer)


def auto_log_condition(dtype) -> float:
    """Largest ``ln κ`` the "auto" schedule lets a block reach: ``ln(u^{-1/2})`` (18.4 in
    float64, 8.3 in float32), so the round-off of the smallest ``diag R`` stays ``≤ √u``."""
    return 0.5 * math.log(1.0 / torch.finfo(dtype).eps)


def initial_frame(B: int, S: int, k: int, *, seed: int | None = None, generator: torch.Generator | None = None,
                  dtype, device=None) -> torch.Tensor:
    """Random orthonormal frames ``(B, S, k)``, one seeded draw per column, so that column
    ``j`` does not depend on ``k``: ``n_exponents=k`` reproduces the leading ``k`` of the full
    run. Drawn from ``generator`` (which callers may go on drawing from) or a fresh one seeded
    with ``seed``."""
    g = generator if generator is not None else torch.Generator().manual_seed(int(seed))
    Q0 = torch.stack([torch.randn(B, S, generator=g, dtype=dtype) for _ in range(k)], -1)
    return torch.linalg.qr(Q0).Q.to(device)


class LogRAccumulator:
    """Running ``Σ ln|R_ii|`` per trajectory, folded from a fixed-size buffer.

    ``push(diag_R, done)`` copies one step's ``diag R`` (B, k) into the buffer; every
    `_FLUSH` pushes the buffer is reduced with one ``log``/``cumsum``, added to the time
    blocks of the confidence interval (`BlockSums`), and the running means at the trace steps
    (every ``2^j ≥ n_avg / trace_points`` averaged steps, plus the last) are written into a
    preallocated trace. Memory: ``O((_FLUSH + trace_points + MAX_BLOCKS) B k)``.
    """

    def __init__(self, B: int, k: int, n_avg: int, trace_points: int, *, dtype, device):
        self.n_avg = n_avg
        # a power of 2 (at most trace_points + 1 rows): the trace steps and the confidence blocks
        # (also powers of 2) nest, so the QRs the schedule must take there are few
        self.trace_every = 1 << (-(-n_avg // trace_points) - 1).bit_length()
        self.next_trace = self.trace_every
        self.buf = torch.empty(_FLUSH, B, k, dtype=dtype, device=device)
        self.done = [0] * _FLUSH
        self.n = 0
        self.log_sum = torch.zeros(B, k, dtype=dtype, device=device)
        self.trace = torch.empty(trace_points + 1, B, k, dtype=dtype, device=device)
        self.trace_steps: list[int] = []
        # largest ln(max|R_ii| / min|R_ii|) of one QR block (finite trajectories): the
        # round-off of the smallest diag R is about u·exp(this), see `reortho_every`
        self.max_log_condition = torch.zeros((), dtype=dtype, device=device)
        self.n_qr = 0
        self.blocks = BlockSums(B, k, n_avg, dtype=dtype, device=device)

    def push(self, diag_r, done: int) -> None:
        self.buf[self.n].copy_(diag_r)
        self.done[self.n] = done
        self.n += 1
        if self.n == _FLUSH:
            self.flush()

    def flush(self) -> None:
        if self.n == 0:
            return
        logs = self.buf[: self.n].abs().log_()
        spread = (logs.amax(-1) - logs.amin(-1)).nan_to_num_(nan=0.0, posinf=0.0)
        self.max_log_condition = torch.maximum(self.max_log_condition, spread.max())
        self.n_qr += self.n
        self.blocks.add(logs, np.asarray(self.done[: self.n]))
        csum = logs.cumsum_(0).add_(self.log_sum)
        for i in range(self.n):
            done = self.done[i]
            if done >= self.next_trace or done == self.n_avg:
                row = len(self.trace_steps)
                torch.div(csum[i], done, out=self.trace[row])
                self.trace_steps.append(done)
                self.next_trace = (done // self.trace_every + 1) * self.trace_every
        self.log_sum.copy_(csum[-1])
        self.n = 0

    def next_stop(self, done: int) -> int:
        """The next averaged step (after ``done``) that must end with a QR whatever the
        schedule: a trace step, a boundary of the confidence blocks, or the last step. With
        a QR there, the trace, the block sums (hence the interval and ``converged``) are the
        every-step ones up to round-off: ``Σ ln|R_ii|`` over a span does not depend on where
        inside it the frame was re-orthonormalised."""
        trace = (done // self.trace_every + 1) * self.trace_every
        return min(trace, self.blocks.next_boundary(done), self.n_avg)


class Frame:
    """The orthonormal frame ``Q`` and the QR schedule: every `reortho_every` steps (or the
    adaptive ``"auto"`` blocks), and always at the end of the transient and at every step the
    results are sampled at (`LogRAccumulator.next_stop`: trace steps, confidence blocks, the
    end of the run), so that every schedule reports the same trace and interval."""

    def __init__(self, Q, acc: LogRAccumulator, *, T: int, transient: int, reortho_every, on_qr=None):
        self.Q, self.acc, self.T, self.transient = Q, acc, T, transient
        # on_qr(t, Q_t, R_t): the full triangular factor of every QR from the end of the
        # transient on (`dynalysis.lyapunov.covariant` keeps them for Ginelli's backward pass)
        self.on_qr = on_qr
        self.auto = reortho_every == "auto"
        self.every = 1 if self.auto else reortho_every
        self.next_qr = self.every
        self.last_qr = 0
        # "auto": aim at half the allowed ln κ per block, so a block whose local expansion
        # rates are twice those of the previous one still stays within it
        self.aim = 0.5 * auto_log_condition(Q.dtype)
        # the largest per-step share of the budget seen so far: blocks are sized for the worst
        # stretch met, not the last one (Hénon's intermittent folds reached ln κ = 26 otherwise)
        self.worst = 0.0
        # float32 and below: every step (skipping QRs there lost the negative tail of a
        # non-normal chain at block conditions the spread of diag R cannot see)
        self.skips = torch.finfo(Q.dtype).eps <= _AUTO_MAX_EPS
        self.overflow = 0.25 * math.log(torch.finfo(Q.dtype).max)  # |ln| growth of a block

    def update(self, t: int, Z) -> None:
        """Take ``Z = J_t Q_{t-1}``; re-orthonormalise if step ``t`` is a QR step."""
        if t != self.next_qr and t != self.T and t != self.transient:
            self.Q = Z
            return
        if Z.shape[-2] >= _GEQRF_MIN_STATE:  # LAPACK geqrf + orgqr directly: no R, no triu copy
            a, tau = torch.geqrf(Z)
            self.Q, diag_r = torch.linalg.householder_product(a, tau), a.diagonal(dim1=-2, dim2=-1)
            R = a[..., : a.shape[-1], :].triu() if self.on_qr is not None and t >= self.transient else None
        else:  # small frames: fewer calls
            self.Q, R = torch.linalg.qr(Z)
            diag_r = R.diagonal(dim1=-2, dim2=-1)
        if self.on_qr is not None and t >= self.transient:
            self.on_qr(t, self.Q, R)
        if t > self.transient:
            self.acc.push(diag_r, t - self.transient)
        if self.auto:
            self._adapt(diag_r, t - self.last_qr)
        self.last_qr = t
        self.next_qr = t + self.every if self.auto else (t // self.every + 1) * self.every
        if t >= self.transient:
            self.next_qr = min(self.next_qr, self.transient + self.acc.next_stop(t - self.transient))

    def _adapt(self, diag_r, block: int) -> None:
        """Next block length from this block's per-step ``ln κ ≈ ln(max|R_ii|/min|R_ii|)``
        (the spread of the local exponents), and from ``max |ln|R_ii||`` against a quarter
        of the dtype's exponent range (over/underflow of the unnormalised frame). One host
        synchronisation per QR."""
        logs = diag_r.abs().log()
        rate = torch.maximum((logs.amax(-1) - logs.amin(-1)) / self.aim,
                             logs.abs().amax(-1) / self.overflow)  # per trajectory, ×block
        rate = rate[torch.isfinite(rate)]
        if rate.numel() == 0:  # every trajectory diverged: nothing to learn from
            self.every = 1
            return
        self.worst = max(self.worst, float(rate.max()) / block)  # budget share of one step
        r = self.worst
        if not self.skips:
            self.every = 1
            return
        self.every = _AUTO_MAX_EVERY if r * _AUTO_MAX_EVERY <= 1.0 else max(1, int(1.0 / r))


def run_tangent(sys_, h, x, frame: Frame, bar, done: int = 0):
    """``Z = system.tangent_step(h, x_t, Q)`` step by step (``done``: steps the frame has
    already taken, so a run can go on in pieces)."""
    for j in range(x.shape[1]):
        h, Z = sys_.tangent_step(h, x[:, j], frame.Q)
        frame.update(done + j + 1, Z)
        if bar is not None:
            bar.update(1)
    return h


def jacobian_chunk(B: int, S: int, T: int) -> int:
    """Steps whose Jacobians `run_jacobian` evaluates in one call."""
    return max(1, min(T, _MAX_CHUNK, _CHUNK_ELEMENTS // (B * S * S)))


def run_jacobian(sys_, h, x, frame: Frame, bar, done: int = 0):
    """States of a chunk by ``system.step``, their Jacobians in one call, then ``Z = J_t Q``
    (``done`` as in `run_tangent`)."""
    B, T, d = x.shape
    S = sys_.state_size
    chunk = jacobian_chunk(B, S, T)
    before = torch.empty(chunk, B, S, dtype=h.dtype, device=h.device)  # h_{t-1} of each step
    for start in range(0, T, chunk):
        xs = x[:, start:start + chunk].transpose(0, 1)  # (c, B, d)
        c = xs.shape[0]
        for j in range(c):
            before[j].copy_(h)
            h = sys_.step(h, xs[j])
        J = sys_.jacobian(before[:c].reshape(c * B, S), xs.reshape(c * B, d)).view(c, B, S, S)
        for j in range(c):
            frame.update(done + start + j + 1, torch.matmul(J[j], frame.Q))
        if bar is not None:
            bar.update(c)
    return h
