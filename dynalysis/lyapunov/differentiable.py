"""Differentiable finite-time Lyapunov exponents: the worker under gradient flossing.

`lyapunov_spectrum` is the analysis verb (a Dataset with confidence, convergence and flags,
computed without a graph); `lyapunov_exponents` is the reusable worker that returns the
exponents as a tensor *with* its autograd graph, so that a loss such as
``Σ_i (λ_i − λ*)²`` (Engelken 2023, gradient flossing) can be backpropagated into the weights.
Both use the same ``J·Q`` products, `System.tangent_step` (the analytic product of a cell, or
forward-mode JVPs of `System.step` inside `dynalysis.system.differentiable_tangents`).

Algorithm (the QR method of `dynalysis.lyapunov.spectrum`, every operation differentiable):

    Q_0 = random orthonormal (S × k), seeded
    for t = 1..T:   h_t, Z = tangent_step(h_{t-1}, x_t, Q_{t-1})
                    every `reortho_every` steps (and at the end of transient and run):
                    Q, R = torch.linalg.qr(Z);  Σ += ln|R_ii|   (after the transient)
    λ_i = mean over trajectories of sort_desc(Σ) / (T − transient)

``ln|R_ii|`` removes the sign ambiguity of the QR (a column of ``Q`` and the row of ``R``
may flip together) without a sign fix-up of ``Q``. The backward pass of ``linalg.qr`` needs
a full-rank ``Z`` (its gradient grows like ``1/R_ii``): a frame that loses rank is an error.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from .._core.inputs import as_initial_state, as_inputs
from .._core.options import check_positive_int, resolve_dtype
from ..errors import DynalysisError, OptionError
from ..system import differentiable_tangents
from .qr import initial_frame

if TYPE_CHECKING:  # pragma: no cover
    from ..system import System

__all__ = ["lyapunov_exponents"]


def lyapunov_exponents(system: System, inputs, *, n_exponents: int, transient: int = 0,
                       initial_state=None, reortho_every: int = 1, seed: int = 0, dtype=None,
                       device=None) -> torch.Tensor:
    """Finite-time Lyapunov exponents as a differentiable tensor ``(n_exponents,)``.

    Parameters
    ----------
    system : System
        A step map whose tensors should receive gradients: `dynalysis.ModuleSystem` built with
        ``live=True`` (the network's own parameters; the default frozen view has none), a
        `dynalysis.MapSystem` or `dynalysis.FlowSystem` over tensors that require grad.
    inputs : Tensor, shape (trajectory, time, input_size)
        Driving inputs (may require grad themselves). All trajectories run as one batch.
    n_exponents : int
        Number ``k`` of leading exponents, ``1 <= k <= state_size``.
    transient : int, default 0
        Steps run (state and frame) before the average starts; ``time > transient``.
    initial_state : Tensor, optional
        ``(state_size,)`` or ``(trajectory, state_size)``; the system's initial state if None.
    reortho_every : int, default 1
        QR every this many steps (fewer QRs; keep ``reortho_every·(λ_1 − λ_k)`` small).
    seed : int, default 0
        Seed of the random orthonormal initial frame (the same frame as `lyapunov_spectrum`).
    dtype : torch.dtype or str, optional
        Default: the system's own dtype, which keeps the graph to its parameters. Another
        dtype computes on a converted copy (`System.to`): gradients then reach ``inputs`` and
        ``initial_state`` but not the original parameters.
    device : optional
        Default: the system's device.

    Returns
    -------
    Tensor, shape (n_exponents,)
        ``λ_1 ≥ … ≥ λ_k`` in nats per step (per step of the map, also for flows), the mean
        over trajectories of each trajectory's sorted exponents, differentiable with respect
        to every tensor the step map depends on (through the trajectory, the Jacobians and
        the QR). It keeps the grad mode of the caller (under ``torch.no_grad`` no graph).

    Raises
    ------
    OptionError
        ``n_exponents`` above the state size, or other bad options (before any step).
    DynalysisError
        The frame lost rank (``min|R_ii| / max|R_ii|`` below the dtype's round-off: a
        direction was annihilated, e.g. saturated units, and the QR's gradient is undefined),
        or a trajectory diverged.

    Notes
    -----
    Cost per step: one ``tangent_step`` (``2 S² k`` flops for a dense cell) and one QR of a
    ``(S, k)`` frame per trajectory, plus the backward pass of both. Memory grows with
    ``T·S·k`` (the graph): use short windows, as gradient flossing does.

    References
    ----------
    R. Engelken, "Gradient flossing: improving gradient descent through dynamic control of
    Jacobians", NeurIPS 2023.

    Examples
    --------
    >>> import torch, dynalysis
    >>> g = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    >>> linear = dynalysis.MapSystem(lambda h, x: g * h + x, 2, input_size=2)
    >>> lam = dynalysis.lyapunov_exponents(linear, torch.randn(3, 20, 2, dtype=torch.float64),
    ...                                    n_exponents=2)
    >>> lam.detach().numpy().round(4)  # ln 0.5 = -0.6931, twice
    array([-0.6931, -0.6931])
    >>> lam[0].backward(); round(float(g.grad), 4)  # d ln g / dg = 1/g
    2.0
    """
    S = system.state_size
    if isinstance(n_exponents, int) and not isinstance(n_exponents, bool) and n_exponents > S:
        raise OptionError(f"n_exponents={n_exponents} exceeds the state size {S} of {system.label}; "
                          f"ask for at most {S}")
    k = check_positive_int("n_exponents", n_exponents, maximum=S)
    transient = check_positive_int("transient", transient, minimum=0)
    every = check_positive_int("reortho_every", reortho_every)
    seed = check_positive_int("seed", seed, minimum=0)
    ref = system.initial_state(1)
    dtype = ref.dtype if dtype is None else resolve_dtype(dtype)
    device = ref.device if device is None else torch.device(device)
    x = as_inputs(system, inputs, dtype=dtype, device=device, min_steps=transient + 1,
                  needed_for=f"transient={transient} + 1")
    B, T, _ = x.shape
    sys_ = system.to(dtype=dtype, device=device)
    h = as_initial_state(sys_, initial_state, B, dtype=dtype, device=device)
    Q = initial_frame(B, S, k, seed=seed, dtype=dtype, device=device)
    log_sum = torch.zeros(B, k, dtype=dtype, device=device)
    worst = torch.zeros((), dtype=dtype, device=device)  # min over QRs of ln(min|R_ii|/max|R_ii|)
    with differentiable_tangents():
        for t in range(1, T + 1):
            h, Z = sys_.tangent_step(h, x[:, t - 1], Q)
            if t % every and t != T and t != transient:
                Q = Z
                continue
            Q, R = torch.linalg.qr(Z)
            logs = R.diagonal(dim1=-2, dim2=-1).abs().log()
            with torch.no_grad():
                worst = torch.minimum(worst, (logs.amin(-1) - logs.amax(-1)).nan_to_num(nan=0.0).min())
            if t > transient:
                log_sum = log_sum + logs
    if float(worst) < torch.log(torch.tensor(torch.finfo(dtype).eps)).item():
        raise DynalysisError(f"lyapunov_exponents: the frame of {k} vectors lost rank (min|R_ii|/max|R_ii| "
                             f"= {float(worst.exp()):.1e}, below the {dtype} round-off); ask for fewer "
                             "exponents or drive the network out of saturation")
    if not bool(torch.isfinite(log_sum).all() and torch.isfinite(h).all()):
        raise DynalysisError(f"lyapunov_exponents: a trajectory of {system.label} diverged (NaN/inf "
                             "state or exponent); use a shorter window or smaller inputs")
    per_trajectory = torch.sort(log_sum / (T - transient), dim=-1, descending=True).values
    return per_trajectory.mean(0)
