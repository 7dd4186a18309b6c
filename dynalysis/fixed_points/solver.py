"""Levenberg–Marquardt on the residual ``G(h) = F(h, x*) − h`` from many starts at once.

    q(h) = ½ ‖G(h)‖²,   A = J − I,   (AᵀA + μ I) δ = −Aᵀ G,
    accept h + δ where q decreases (μ ← μ/3), else μ ← 4μ

It converges quadratically to fixed points of any stability and to local minima of ``q``. The
Jacobian is evaluated only where a row's state moved (a rejected step keeps it); ``AᵀA + μI``
is solved by Cholesky. Where the Jacobian comes from automatic differentiation (a map without an
analytic J·Q: it costs as much as ``state_size`` steps), a row whose step cut q by 1e4 or more (the quadratic
regime, where its fixed point is settled) then takes *chord* steps with that step's factor
(modified Newton: same ``A`` and ``μ``, new ``G``: a step of the map and a triangular solve)
while each cuts q by 100× or more. Such a row's damping drops to its floor (μ = 1e-12: Newton's
step, up to round-off): in the quadratic regime damping only slows convergence, to the linear
rate μ/σ_min(A)², and near-marginal attractors have small σ_min. Far from the fixed points the
iterates are those of plain LM, so each start ends in the same basin.

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

Measured on the benchmark's flip-flop networks and not kept: Newton's step (``A δ = −G``, LM
without damping) as the first try saves one iteration in nine, but its undamped steps from far
starts land in other basins (a trained GRU lost the attractor that only three far starts reach
under LM); chord steps with an LU of ``A`` instead of the damped factor, and stopping rows in
the quadratic regime next to a converged row (de-duplication during the solve), saved no
measurable time.
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


def _at_roundoff(q, h_norm):
    """‖G‖ ≤ _ROUNDOFF (1 + ‖h‖), from q = ½‖G‖²."""
    return 2 * q <= (_ROUNDOFF * (1 + h_norm)) ** 2


def _damped_solve(A, grad, mu, eye):
    """``δ = −(AᵀA + μI)⁻¹ grad`` and the Cholesky factor (LU where round-off breaks it)."""
    M = A.transpose(1, 2) @ A
    M.diagonal(dim1=1, dim2=2).add_(mu[:, None])  # + μI: the same numbers, without an (m, S, S) product
    L, info = torch.linalg.cholesky_ex(M)
    bad = info != 0
    if bool(bad.any()):  # ‖A‖² ε > μ: AᵀA + μI is not numerically positive definite
        L = torch.where(bad[:, None, None], eye, L)
    delta = -torch.cholesky_solve(grad.unsqueeze(-1), L).squeeze(-1)
    if bool(bad.any()):
        delta[bad] = -torch.linalg.solve_ex(M[bad], grad[bad])[0]  # a failed solve: a rejected step
    return delta, L, ~bad


def _chord(sys_, h, G, q, x, A, L, steps, max_iter, tol):
    """Chord steps ``δ = −(AᵀA + μI)⁻¹ AᵀG(h)`` with a fixed factor ``L`` on these rows, while
    each is accepted, cuts q by ``_CHORD_RATE`` and the row's budget lasts. Returns the updated
    ``h, G, q, steps`` and which rows converged."""
    h, G, q, steps = h.clone(), G.clone(), q.clone(), steps.clone()
    converged = torch.zeros_like(q, dtype=torch.bool)
    live = torch.nonzero(steps < max_iter).ravel()
    for _ in range(_CHORD_STEPS):
        if live.numel() == 0:
            break
        hl, Gl, ql, Al = h[live], G[live], q[live], A[live]
        delta = -torch.cholesky_solve(Al.transpose(1, 2) @ Gl.unsqueeze(-1), L[live]).squeeze(-1)
        G_new, q_new = _q_of(sys_, hl + delta, x[live])
        accept = q_new < ql
        h[live] = h_new = torch.where(accept[:, None], hl + delta, hl)
        G[live] = torch.where(accept[:, None], G_new, Gl)
        q[live] = qk = torch.where(accept, q_new, ql)
        steps[live] += 1
        tiny = delta.norm(dim=1) <= 1e-14 * (1 + hl.norm(dim=1))
        conv = (qk == 0) | ((qk < tol) & (_at_roundoff(qk, h_new.norm(dim=1)) | tiny))
        converged[live] = conv
        live = live[accept & ~conv & (q_new <= _CHORD_RATE * ql) & (steps[live] < max_iter)]
    return h, G, q, steps, converged


def levenberg_marquardt(sys_, h, x, *, max_iter: int, tol: float):
    """Minimise ``q`` from every row of ``h (n, S)`` at constant inputs ``x (n, d)``.

    Returns ``(h, q, stop)``: final states, their q (inf where not finite) and the `STOP` code
    of each row (int64). Each iteration works on the rows still running (kept compacted, so
    that nothing is gathered from or scattered to the full batch until a row stops);
    ``max_iter`` bounds each row's steps, LM and chord steps together. Chord steps are taken
    only where the Jacobian comes from automatic differentiation (no ``analytic_tangent``):
    an analytic one costs little more than a step.
    """
    n, S = h.shape
    chord = not sys_.analytic_tangent
    eye = torch.eye(S, dtype=h.dtype, device=h.device)
    G, q_out = _q_of(sys_, h, x)
    h_out = h.clone()
    stop = torch.full((n,), 2, dtype=torch.int64, device=h.device)  # "limit" unless it stops earlier
    finite = torch.isfinite(q_out)
    stop[~finite] = 3  # a start where F is not finite is broken
    idx = torch.nonzero(finite).ravel()  # the running rows; below, every array is over them
    hc, Gc, qc, xc = h[idx], G[idx], q_out[idx], x[idx]
    m = idx.numel()
    mu = torch.full((m,), 1e-3, dtype=h.dtype, device=h.device)
    A = torch.empty(m, S, S, dtype=h.dtype, device=h.device)
    fresh = torch.zeros(m, dtype=torch.bool, device=h.device)  # A[i] = J(h_i) − I is current
    steps = torch.zeros(m, dtype=torch.int64, device=h.device)  # trial steps each row has taken
    with torch.no_grad():
        while idx.numel():
            if not bool(fresh.any()):
                A = sys_.jacobian(hc, xc) - eye
            elif not bool(fresh.all()):  # a rejected step left the state, and so its Jacobian, as it was
                stale = torch.nonzero(~fresh).ravel()
                A[stale] = sys_.jacobian(hc[stale], xc[stale]) - eye
            grad = (A * Gc.unsqueeze(-1)).sum(1)  # Aᵀ G; a batched matrix-vector bmm costs 5x more here
            broken = ~torch.isfinite(grad).all(1)  # a non-finite A (with G finite) makes AᵀG so
            if bool(broken.any()):  # no step (and none into LAPACK), the row stops
                A = torch.where(broken[:, None, None], eye, A)
                grad = torch.where(broken[:, None], 0.0, grad)
            delta, L, factored = _damped_solve(A, grad, mu, eye)
            trial = hc + delta
            G_new, q_new = _q_of(sys_, trial, xc)
            accept = q_new < qc
            gain = qc - q_new
            flat = accept & (gain <= 1e-12 * qc)  # no relative progress
            tiny = delta.norm(dim=1) <= 1e-14 * (1 + hc.norm(dim=1))
            creep = accept & (gain <= 1e-6 * qc)
            fast = accept & factored & (q_new <= _CHORD_ENTRY * qc)
            hc = torch.where(accept[:, None], trial, hc)
            Gc = torch.where(accept[:, None], G_new, Gc)
            qc = torch.where(accept, q_new, qc)
            mu = torch.where(fast, 1e-12, torch.where(accept, mu / 3, mu * 4)).clamp(1e-12, 1e12)  # fast: Newton
            fresh, steps = ~accept, steps + 1
            converged = (qc == 0) | ((qc < tol) & (flat | tiny | (mu >= 1e12) | _at_roundoff(qc, hc.norm(dim=1))))
            minimum = ~converged & ((mu >= 1e12) | (~accept & tiny))
            # creeping: q falls by less than 1e-6 of itself a step, so the budget cannot bring it
            # to a fixed point; the row stops as unconverged (never as a point)
            creeping = ~converged & ~minimum & creep & (qc >= tol)
            # ... unless the linear model cannot lower q either: G ⟂ range(A) (∇q = AᵀG = 0), a
            # local minimum of q (a slow point), where the least-squares residual ‖G + Aδ‖ ≈ ‖G‖;
            # near a fixed point A is invertible and that residual is ≈ 0
            if bool(creeping.any()):
                Ak, Gk = A[creeping], Gc[creeping]
                U, sv, _ = torch.linalg.svd(Ak)
                along = (U.transpose(1, 2) @ Gk.unsqueeze(-1)).squeeze(-1) * (sv > _SINGULAR)
                lin2 = (Gk * Gk).sum(1) - (along * along).sum(1)  # ‖G + Aδ‖² with δ on the range
                at_min = torch.zeros_like(creeping)
                at_min[creeping] = lin2 > 0.25 * (Gk * Gk).sum(1)
                minimum = minimum | at_min
            done = broken | converged | minimum | creeping
            fast = fast & ~done
            if chord and bool(fast.any()):
                f = torch.nonzero(fast).ravel()
                hc[f], Gc[f], qc[f], steps[f], conv = _chord(sys_, hc[f], Gc[f], qc[f], xc[f], A[f], L[f], steps[f],
                                                             max_iter, tol)
                converged[f] = conv
                done[f] = conv
            code = torch.where(broken, 3, torch.where(converged, 0, torch.where(minimum, 1, 2)))
            finish = done | (steps >= max_iter)  # out of budget: "limit"
            if bool(finish.any()):
                gone = idx[finish]
                h_out[gone], q_out[gone], stop[gone] = hc[finish], qc[finish], code[finish]
                keep = ~finish
                idx, hc, Gc, qc, xc, mu, A, fresh, steps = (
                    t[keep] for t in (idx, hc, Gc, qc, xc, mu, A, fresh, steps))
    return h_out, q_out, stop
