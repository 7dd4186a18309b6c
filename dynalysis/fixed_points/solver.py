"""Levenberg–Marquardt on the residual ``G(h) = F(h, x*) − h`` from many starts at once.

    q(h) = ½ ‖G(h)‖²,   A = J − I,   (AᵀA + μ I) δ = −Aᵀ G,
    accept h + δ where q decreases (μ ← μ/3), else μ ← 4μ

It converges quadratically to fixed points of any stability and to local minima of ``q``. Each
row stops for one of four reasons (`STOP`): q reached 0 or fell below ``tol`` and no longer
improves ("converged"); no step decreases q any more, the damping saturating or the step
vanishing ("minimum": a local minimum of q, a slow point if q is small); the iteration budget
ran out, or q fell by less than 1e-6 of itself in a step, so that the budget could not bring
it to a fixed point although the linearisation could ("limit": unconverged; a creeping row
whose Gauss–Newton model cannot lower q either, ‖G + Aδ‖ > ½‖G‖, sits at a minimum); the map or its Jacobian was not finite ("broken").
Such creeping rows used to be reported as slow points — near-marginal attractors of trained
GRUs contract by 1e-4 a step, and rows stopped 3e-2 from one were listed as "slow" and
"stable" — and are now unconverged, never points.
"""
from __future__ import annotations

import torch

__all__ = ["levenberg_marquardt", "STOP"]

STOP = ("converged", "minimum", "limit", "broken")
_SINGULAR = 1e-5  # singular values of A = J − I below this count as 0 (J is dimensionless)


def levenberg_marquardt(sys_, h, x, *, max_iter: int, tol: float):
    """Minimise ``q`` from every row of ``h (n, S)`` at constant inputs ``x (n, d)``.

    Returns ``(h, q, stop)``: final states, their q (inf where not finite) and the `STOP` code
    of each row (int64). Each iteration works on the rows still running.
    """
    n, S = h.shape
    eye = torch.eye(S, dtype=h.dtype, device=h.device)

    def q_of(state, xs):
        G = sys_.step(state, xs) - state
        q = 0.5 * (G * G).sum(1)
        return G, torch.where(torch.isfinite(q), q, torch.full_like(q, float("inf")))

    G, q = q_of(h, x)
    mu = torch.full((n,), 1e-3, dtype=h.dtype, device=h.device)
    stop = torch.full((n,), 2, dtype=torch.int64, device=h.device)  # "limit" unless it stops earlier
    stop[~torch.isfinite(q)] = 3
    active = torch.nonzero(torch.isfinite(q)).ravel()  # a start where F is not finite is broken
    with torch.no_grad():
        for _ in range(max_iter):
            if active.numel() == 0:
                break
            ha, Ga, qa, xa = h[active], G[active], q[active], x[active]
            A = sys_.jacobian(ha, xa) - eye
            At = A.transpose(1, 2)
            grad = (At @ Ga.unsqueeze(-1)).squeeze(-1)
            broken = ~(torch.isfinite(A).all((1, 2)) & torch.isfinite(grad).all(1))
            if broken.any():  # a non-finite Jacobian: no step (and none into LAPACK), the row stops
                A = torch.where(broken[:, None, None], eye, A)
                At, grad = A.transpose(1, 2), torch.where(broken[:, None], 0.0, grad)
            delta = -torch.linalg.solve(At @ A + mu[active, None, None] * eye, grad)
            G_new, q_new = q_of(ha + delta, xa)
            accept = q_new < qa
            h[active] = torch.where(accept[:, None], ha + delta, ha)
            G[active] = torch.where(accept[:, None], G_new, Ga)
            q[active] = torch.where(accept, q_new, qa)
            mu[active] = torch.where(accept, mu[active] / 3, mu[active] * 4).clamp(1e-12, 1e12)
            qn = q[active]
            flat = accept & (qa - q_new <= 1e-12 * qa)  # no relative progress
            tiny = delta.norm(dim=1) <= 1e-14 * (1 + ha.norm(dim=1))
            converged = (qn == 0) | ((qn < tol) & (flat | tiny | (mu[active] >= 1e12)))
            minimum = ~converged & ((mu[active] >= 1e12) | (~accept & tiny))
            # creeping: q falls by less than 1e-6 of itself a step, so the budget cannot bring it
            # to a fixed point; the row stops as unconverged (never as a point)
            creeping = ~converged & ~minimum & accept & (qa - q_new <= 1e-6 * qa) & (qn >= tol)
            # ... unless the linear model cannot lower q either: G ⟂ range(A) (∇q = AᵀG = 0), a
            # local minimum of q (a slow point), where the least-squares residual ‖G + Aδ‖ ≈ ‖G‖;
            # near a fixed point A is invertible and that residual is ≈ 0
            if creeping.any():
                Ac, Gc = A[creeping], G[active][creeping]
                U, sv, _ = torch.linalg.svd(Ac)
                along = (U.transpose(1, 2) @ Gc.unsqueeze(-1)).squeeze(-1) * (sv > _SINGULAR)
                lin2 = (Gc * Gc).sum(1) - (along * along).sum(1)  # ‖G + Aδ‖² with δ on the range
                at_min = torch.zeros_like(creeping)
                at_min[creeping] = lin2 > 0.25 * (Gc * Gc).sum(1)
                minimum = minimum | at_min
            code = torch.where(broken, 3, torch.where(converged, 0, torch.where(minimum, 1, 2)))
            done = broken | converged | minimum | creeping
            stop[active[done]] = code[done]
            active = active[~done]
    return h, q, stop
