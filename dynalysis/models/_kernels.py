"""Fast WCRNN recurrence for training: a time loop with a hand-written backward (BPTT).

    a_t = W h_{t-1} + drive_t                  drive_t = V x_t + b  (all steps in one product)
    h_t = ρ(h_{t-1}) + ε tanh(a_t)             ρ(h) = R h  or  ρ(h) = λ ⊙ h

Backward (row vectors, ``g_t = ∂L/∂h_t`` including the loss's direct term ``∂L/∂h_t|_out``):

    g_t   += ∂L/∂h_t|_out
    ga_t   = g_t ⊙ ε (1 − tanh²(a_t))           (= ∂L/∂a_t = ∂L/∂drive_t)
    g_{t-1} = g_t R + ga_t W                    (g_t ⊙ λ for the scaled residual)
    ∂L/∂W = Σ_t ga_tᵀ h_{t-1},  ∂L/∂R = Σ_t g_tᵀ h_{t-1},  ∂L/∂λ = Σ_t g_t ⊙ h_{t-1}

Why: autograd through a Python loop records ~6 nodes per step and (with ``drive[:, t]``
slicing) allocates a full-size gradient per step, O(T²) memory traffic. Here the forward
writes into preallocated time-major buffers (``addmm``, ``tanh_``, ``mul``, ``add_`` per
step), the backward is 3–4 ops per step, and the weight gradients are one matrix product
over all steps. Both loops run in TorchScript (compiled lazily on first use, falling back to
the identical Python functions if scripting is unavailable), which removes the per-op Python
overhead. ``benchmarks/run.py`` compares this with the plain loop, TorchScript autograd,
torch.compile and torch's fused ``nn.RNN``.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ..errors import OptionError
from .._core.options import check_option

__all__ = ["wcrnn_scan", "wcrnn_tangent_step", "SCAN_BACKENDS"]

SCAN_BACKENDS = ("script", "python")


def _scan_forward(drive: Tensor, h0: Tensor, W: Tensor, R: Optional[Tensor], scale: Tensor,
                  eps: float) -> Tuple[Tensor, Tensor]:
    """Time-major forward: ``drive (T, B, N)`` → states ``H (T+1, B, N)`` (``H[0] = h0``)
    and ``TH = tanh(a) (T, B, N)``."""
    T = drive.shape[0]
    H = torch.empty((T + 1, h0.shape[0], h0.shape[1]), dtype=drive.dtype, device=drive.device)
    TH = torch.empty_like(drive)
    H[0].copy_(h0)
    Wt = W.t()
    for t in range(T):
        th = torch.addmm(drive[t], H[t], Wt, out=TH[t])
        th.tanh_()
        if R is None:
            torch.mul(H[t], scale, out=H[t + 1])
        else:
            torch.mm(H[t], R.t(), out=H[t + 1])
        H[t + 1].add_(th, alpha=eps)
    return H, TH


def _scan_backward(gH: Tensor, H: Tensor, TH: Tensor, W: Tensor, R: Optional[Tensor],
                   scale: Tensor, eps: float, keep_g: bool) -> Tuple[Tensor, Tensor, Tensor]:
    """BPTT: ``gH (T, B, N)`` = ∂L/∂h_t from the outputs → ``(∂L/∂a (T, B, N), ∂L/∂h0,
    G)``, ``G[t] = ∂L/∂h_t`` in total (empty unless ``keep_g``, for the residual's grad)."""
    T = gH.shape[0]
    D = TH.square().neg_().add_(1.0).mul_(eps)  # ε tanh'(a_t)
    GA = torch.empty_like(gH)
    G = torch.empty_like(gH) if keep_g else torch.empty(0, dtype=gH.dtype, device=gH.device)
    g = torch.zeros_like(gH[0])
    for i in range(T):
        t = T - 1 - i
        if keep_g:
            g = torch.add(g, gH[t], out=G[t])
        else:
            g = g.add_(gH[t])
        ga = torch.mul(g, D[t], out=GA[t])
        if R is None:
            g = torch.addmm(g * scale, ga, W)
        else:
            g = torch.addmm(torch.mm(g, R), ga, W)
    return GA, g, G


_IMPLS: dict = {}


def _impl(backend: str):
    """``(forward, backward)`` for the backend; TorchScript is compiled on first use."""
    if backend not in _IMPLS:
        impl = (_scan_forward, _scan_backward)
        if backend == "script":
            try:
                impl = (torch.jit.script(_scan_forward), torch.jit.script(_scan_backward))
            except Exception:  # pragma: no cover - TorchScript unavailable: same maths in Python
                pass
        _IMPLS[backend] = impl
    return _IMPLS[backend]


class _WCRNNScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, drive, h0, W, R, scale, eps, backend):
        fwd, _ = _impl(backend)
        H, TH = fwd(drive.transpose(0, 1).contiguous(), h0, W, R, scale, eps)
        ctx.save_for_backward(H, TH, W, R, scale)
        ctx.eps, ctx.backend = eps, backend
        return H[1:].transpose(0, 1)

    @staticmethod
    @once_differentiable  # first-order BPTT; a second derivative raises instead of being wrong
    def backward(ctx, grad_states):
        H, TH, W, R, scale = ctx.saved_tensors
        _, bwd = _impl(ctx.backend)
        need_R = R is not None and ctx.needs_input_grad[3]
        need_scale = R is None and ctx.needs_input_grad[4]
        GA, g0, G = bwd(grad_states.transpose(0, 1).contiguous(), H, TH, W, R, scale, ctx.eps,
                        need_R or need_scale)
        N = W.shape[0]
        Hp = H[:-1].reshape(-1, N)  # h_{t-1} for every step
        dW = GA.reshape(-1, N).t() @ Hp if ctx.needs_input_grad[2] else None
        dR = G.reshape(-1, N).t() @ Hp if need_R else None
        dscale = None
        if need_scale:
            dscale = (G.reshape(-1, N) * Hp).sum(0)
            dscale = dscale.sum().reshape(scale.shape) if scale.numel() == 1 else dscale
        dh0 = g0 if ctx.needs_input_grad[1] else None
        return GA.transpose(0, 1), dh0, dW, dR, dscale, None, None


def wcrnn_scan(drive: Tensor, h0: Tensor, W: Tensor, *, epsilon: float,
               residual: Tensor | None = None, scale: Tensor | float = 1.0,
               backend: str = "script") -> Tensor:
    """All WCRNN states for precomputed input drives, differentiable (hand-written BPTT).

    Parameters
    ----------
    drive : Tensor, shape (B, T, N)
        ``V x_t + b`` for every step (one matrix product over the whole sequence). Passing
        ``(x.transpose(0, 1) @ V.T + b).transpose(0, 1)`` (time-major memory) saves a copy.
    h0 : Tensor, shape (B, N)
    W : Tensor, shape (N, N)
        Coupling inside the tanh, ``a = W h + drive``.
    epsilon : float
        Coupling strength ε.
    residual : Tensor, shape (N, N), optional
        Dense linear residual ``ρ(h) = R h`` (rotational, or a trained ``R``). If None the
        residual is ``scale ⊙ h``.
    scale : float or Tensor of shape () or (N,), default 1.0
        λ of the identity (``λ I``) or heterogeneous (``diag(λ_i)``) residual, applied
        elementwise, which saves a matrix product per step; may require grad.
    backend : {"script", "python"}, default "script"
        TorchScript loops (fastest) or the same loops in Python.

    Returns
    -------
    Tensor, shape (B, T, N)
        ``h_1 … h_T`` (a time-major buffer seen through a transpose).

    Notes
    -----
    First-order gradients only (``once_differentiable``), and not for `torch.func`
    transforms; analyses use the step map, which is plain autograd.

    Examples
    --------
    >>> import torch
    >>> W = torch.zeros(2, 2); drive = torch.zeros(1, 3, 2); h0 = torch.ones(1, 2)
    >>> wcrnn_scan(drive, h0, W, epsilon=0.1, scale=0.5)[0, :, 0].tolist()
    [0.5, 0.25, 0.125]
    """
    check_option("backend", backend, SCAN_BACKENDS)
    if drive.ndim != 3 or h0.shape != (drive.shape[0], drive.shape[2]):
        raise OptionError(f"need drive (B, T, N) and h0 (B, N); got {tuple(drive.shape)} "
                          f"and {tuple(h0.shape)}")
    scale_t = torch.as_tensor(scale, dtype=drive.dtype, device=drive.device)
    if scale_t.ndim > 1 or scale_t.numel() not in (1, drive.shape[2]):
        raise OptionError(f"scale must be a scalar or have shape ({drive.shape[2]},), "
                          f"got shape {tuple(scale_t.shape)}")
    if residual is not None:
        scale_t = scale_t.detach()
    return _WCRNNScan.apply(drive, h0, W, residual, scale_t, float(epsilon), backend)


def wcrnn_tangent_step(state: Tensor, drive: Tensor, W: Tensor, tangents: Tensor, *,
                       epsilon: float, residual: Tensor | None = None,
                       scale: Tensor | float = 1.0) -> tuple[Tensor, Tensor]:
    """One WCRNN step and its J·Q product with one matrix product (``W Q``).

    ``J Q = ρ'Q + ε tanh'(a) ⊙ (W Q)`` with ``ρ' = R`` or ``diag(λ)``; shapes ``state
    (B, N)``, ``drive (B, N)`` (``V x + b``), ``tangents (B, N, k)``.

    >>> import torch
    >>> nxt, JQ = wcrnn_tangent_step(torch.zeros(1, 2), torch.zeros(1, 2), torch.eye(2),
    ...                              torch.eye(2)[None], epsilon=0.1, scale=0.5)
    >>> JQ[0].diagonal().tolist()
    [0.6000000238418579, 0.6000000238418579]
    """
    th = torch.tanh(torch.addmm(drive, state, W.t()))
    WQ = torch.matmul(W, tangents)
    gain = (1 - th * th).mul_(epsilon).unsqueeze(-1)
    if residual is None:
        scale_t = torch.as_tensor(scale, dtype=state.dtype, device=state.device)
        nxt = torch.add(state * scale_t, th, alpha=epsilon)
        col = scale_t.unsqueeze(-1) if scale_t.ndim == 1 else scale_t
        return nxt, torch.addcmul(tangents * col, gain, WQ)
    nxt = torch.add(state @ residual.t(), th, alpha=epsilon)
    return nxt, torch.addcmul(torch.matmul(residual, tangents), gain, WQ)
