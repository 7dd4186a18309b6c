"""Levenberg–Marquardt on the residual ``G(h) = F(h, x*) − h`` from many starts at once.

    q(h) = ½ ‖G(h)‖²,   A = J − I,   (AᵀA + μ I) δ = −Aᵀ G,
    accept h + δ where q decreases (μ ← μ/3), else μ ← 4μ

It converges quadratically to fixed points of any stability and to local minima of ``q``. The
Jacobian is evaluated only where a row's state moved (a rejected step keeps it), and ``AᵀA + μI``
is factored once (Cholesky) per Jacobian: once a step cuts q by 1e4 or more (the quadratic
regime, where the row's fixed point is settled), the row takes *chord* steps with that factor
(modified Newton: same ``A`` and ``μ``, new ``G``) while each cuts q by 100× or more — a step
of the map and a triangular solve instead of a Jacobian, which for autograd-differentiated
cells (GRU, LSTM) costs as much as ``state_size`` steps.

Each row stops for one of four reasons (`STOP`): q reached 0 or fell below ``tol`` and no longer
improves — relative progress below 1e-12, a vanishing step, or ‖G‖ ≤ 1e-14 (1 + ‖h‖), the
round-off of ``F(h) − h`` ("converged"); no step decreases q any more, the damping saturating or
the step vanishing ("minimum": a local minimum of q, a slow point if q is small); the iteration
budget ran out, or q fell by less than 1e-6 of itself in a step, so that the budget could not
bring it to a fixed point although the linearisation could ("limit": unconverged; a creeping
row whose Gauss–Newton model cannot lower q either, ‖G + Aδ‖ > ½‖G‖, sits at a minimum); the
map or its Jacobian was not finite ("broken"). Such creeping rows used to be reported as slow
points — near-marginal attractors of trained GRUs contract by 1e-4 a step, and rows stopped
3e-2 from one were listed as "slow" and "stable" — and are now unconverged, never points.

Newton's step (``A δ = −G``, LM without damping) was measured as the first try and rejected:
on the benchmark's flip-flop networks it saves one iteration in nine, but its undamped steps
from far starts land in other basins (a trained GRU lost the attractor that only three far
starts reach under LM).
"""
from __future__ import annotations

import torch

__all__ = ["levenberg_marquardt", "STOP"]

STOP = ("converged", "minimum", "limit", "broken")
_SINGULAR = 1e-5  # singular values of A = J − I below this count as 0 (J is dimensionless)
_ROUNDOFF = 1e-14  # ‖G‖ ≤ _ROUNDOFF (1 + ‖h‖): F(h) − h at round-off, q cannot improve
_CHORD_ENTRY, _CHORD_RATE, _CHORD_STEPS = 1e-4, 1e-2, 12


def _q_of(sys_, state, xs):
    G = sys_.step(state, xs) - state
    q = 0.5 * (G * G).sum(1)
    return G, torch.where(torch.isfinite(q), q, torch.full_like(q, float("inf")))


def _at_roundoff(q, h):
    """‖G‖ ≤ _ROUNDOFF (1 + ‖h‖), from q = ½‖G‖²."""
    return 2 * q <= (_ROUNDOFF * (1 + h.norm(dim=1))) ** 2


def _damped_solve(A, grad, mu, eye):
    """``δ = −(AᵀA + μI)⁻¹ grad`` and the Cholesky factor (LU where round-off breaks it)."""
    M = A.transpose(1, 2) @ A + mu[:, None, None] * eye
    L, info = torch.linalg.cholesky_ex(M)
    bad = info != 0
    if bool(bad.any()):  # ‖A‖² ε > μ: AᵀA + μI is not numerically positive definite
        L = torch.where(bad[:, None, None], eye, L)
    delta = -torch.cholesky_solve(grad.unsqueeze(-1), L).squeeze(-1)
    if bool(bad.any()):
        delta[bad] = -torch.linalg.solve(M[bad], grad[bad])
    return delta, L, ~bad


def _chord(sys_, h, G, q, x, rows, A, L, tol, running, stop, steps, max_iter):
    """Chord steps ``δ = −(AᵀA + μI)⁻¹ AᵀG(h)`` with a fixed factor, for ``rows`` (indices),
    while each is accepted and cuts q by ``_CHORD_RATE`` and the row's budget of ``max_iter``
    steps lasts; rows that converge stop (code 0)."""
    for _ in range(_CHORD_STEPS):
        left = steps[rows] < max_iter
        rows, A, L = rows[left], A[left], L[left]
        if rows.numel() == 0:
            return
        steps[rows] += 1
        hr, Gr, qr = h[rows], G[rows], q[rows]
        grad = (A.transpose(1, 2) @ Gr.unsqueeze(-1))
        delta = -torch.cholesky_solve(grad, L).squeeze(-1)
        G_new, q_new = _q_of(sys_, hr + delta, x[rows])
        accept = q_new < qr
        h[rows] = torch.where(accept[:, None], hr + delta, hr)
        G[rows] = torch.where(accept[:, None], G_new, Gr)
        qk = q[rows] = torch.where(accept, q_new, qr)
        tiny = delta.norm(dim=1) <= 1e-14 * (1 + hr.norm(dim=1))
        converged = (qk == 0) | ((qk < tol) & (_at_roundoff(qk, h[rows]) | tiny))
        stop[rows[converged]] = 0
        running[rows[converged]] = False
        keep = accept & ~converged & (q_new <= _CHORD_RATE * qr)
        rows, A, L = rows[keep], A[keep], L[keep]


def levenberg_marquardt(sys_, h, x, *, max_iter: int, tol: float):
    """Minimise ``q`` from every row of ``h (n, S)`` at constant inputs ``x (n, d)``.

    Returns ``(h, q, stop)``: final states, their q (inf where not finite) and the `STOP` code
    of each row (int64). Each iteration works on the rows still running; ``max_iter`` bounds
    each row's steps, LM and chord steps together. Chord steps are taken only where the
    Jacobian comes from automatic differentiation (no ``analytic_tangent``): an analytic one
    costs little more than a step.
    """
    n, S = h.shape
    chord = not sys_.analytic_tangent
    eye = torch.eye(S, dtype=h.dtype, device=h.device)
    G, q = _q_of(sys_, h, x)
    mu = torch.full((n,), 1e-3, dtype=h.dtype, device=h.device)
    A = torch.empty(n, S, S, dtype=h.dtype, device=h.device)
    fresh = torch.zeros(n, dtype=torch.bool, device=h.device)  # A[i] = J(h_i) − I is current
    stop = torch.full((n,), 2, dtype=torch.int64, device=h.device)  # "limit" unless it stops earlier
    stop[~torch.isfinite(q)] = 3
    running = torch.isfinite(q)  # a start where F is not finite is broken
    active = torch.nonzero(running).ravel()
    steps = torch.zeros(n, dtype=torch.int64, device=h.device)  # trial steps each row has taken
    with torch.no_grad():
        while active.numel():
            stale = active[~fresh[active]]
            if stale.numel():  # a rejected step left the state, and so its Jacobian, as it was
                A[stale] = sys_.jacobian(h[stale], x[stale]) - eye
                fresh[stale] = True
            ha, Ga, qa, xa, Aa, mua = h[active], G[active], q[active], x[active], A[active], mu[active]
            grad = (Aa.transpose(1, 2) @ Ga.unsqueeze(-1)).squeeze(-1)
            broken = ~torch.isfinite(grad).all(1)  # a non-finite A (with G finite) makes AᵀG so
            if bool(broken.any()):  # no step (and none into LAPACK), the row stops
                Aa = torch.where(broken[:, None, None], eye, Aa)
                grad = torch.where(broken[:, None], 0.0, grad)
            delta, L, factored = _damped_solve(Aa, grad, mua, eye)
            trial = ha + delta
            G_new, q_new = _q_of(sys_, trial, xa)
            accept = q_new < qa
            h[active] = torch.where(accept[:, None], trial, ha)
            G[active] = torch.where(accept[:, None], G_new, Ga)
            q[active] = qn = torch.where(accept, q_new, qa)
            mu[active] = mua = torch.where(accept, mua / 3, mua * 4).clamp(1e-12, 1e12)
            fresh[active] = ~accept
            steps[active] += 1
            gain = qa - q_new
            flat = accept & (gain <= 1e-12 * qa)  # no relative progress
            tiny = delta.norm(dim=1) <= 1e-14 * (1 + ha.norm(dim=1))
            converged = (qn == 0) | ((qn < tol) & (flat | tiny | (mua >= 1e12) | _at_roundoff(qn, h[active])))
            minimum = ~converged & ((mua >= 1e12) | (~accept & tiny))
            # creeping: q falls by less than 1e-6 of itself a step, so the budget cannot bring it
            # to a fixed point; the row stops as unconverged (never as a point)
            creeping = ~converged & ~minimum & accept & (gain <= 1e-6 * qa) & (qn >= tol)
            # ... unless the linear model cannot lower q either: G ⟂ range(A) (∇q = AᵀG = 0), a
            # local minimum of q (a slow point), where the least-squares residual ‖G + Aδ‖ ≈ ‖G‖;
            # near a fixed point A is invertible and that residual is ≈ 0
            if bool(creeping.any()):
                Ac, Gc = Aa[creeping], G[active[creeping]]
                U, sv, _ = torch.linalg.svd(Ac)
                along = (U.transpose(1, 2) @ Gc.unsqueeze(-1)).squeeze(-1) * (sv > _SINGULAR)
                lin2 = (Gc * Gc).sum(1) - (along * along).sum(1)  # ‖G + Aδ‖² with δ on the range
                at_min = torch.zeros_like(creeping)
                at_min[creeping] = lin2 > 0.25 * (Gc * Gc).sum(1)
                minimum = minimum | at_min
            done = broken | converged | minimum | creeping
            if bool(done.any()):
                code = torch.where(broken, 3, torch.where(converged, 0, torch.where(minimum, 1, 2)))
                stop[active[done]] = code[done]
                running[active[done]] = False
            if chord:
                fast = ~done & accept & factored & (q_new <= _CHORD_ENTRY * qa)
                if bool(fast.any()):
                    _chord(sys_, h, G, q, x, active[fast], Aa[fast], L[fast], tol, running, stop, steps, max_iter)
            active = active[running[active] & (steps[active] < max_iter)]
    return h, q, stop
