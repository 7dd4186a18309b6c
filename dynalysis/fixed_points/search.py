"""Fixed points and slow points of a step map at constant input (Sussillo & Barak 2013).

    q(h) = ½ ‖F(h, x*) − h‖²        fixed point: q = 0;  slow point: a local minimum with small q

minimised from many starts at once by Levenberg–Marquardt on the residual ``G(h) = F(h, x*) − h``
(Jacobian ``A = J − I`` from `System.jacobian`):

    (AᵀA + μ I) δ = −Aᵀ G,    accept h + δ where q decreases (μ ← μ/3), else μ ← 4μ

which converges quadratically to fixed points of any stability and to local minima of q.
Candidates are de-duplicated by distance (connected components of the ``< dedupe_tol`` graph).
"""
from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from .._core.divergence import DIVERGED_FLAGS, warn_diverged
from .._core.inputs import as_inputs
from .._core.options import (check_fraction, check_positive_float, check_positive_int,
                             resolve_dtype)
from .._core.result import Schema, Var, build_result
from .._core.trajectory import sort_by_modulus, thin_indices
from ..errors import OptionError
from ..system import System
from .starts import as_starts, constant_input_for, pca_frame, sample_starts

__all__ = ["find_fixed_points", "SCHEMA"]

STABILITY = ("stable", "marginal", "unstable")
KIND = ("fixed", "slow")


def _levenberg_marquardt(sys_, h, x, *, max_iter):
    """Minimise ``q`` from every row of ``h (n, S)`` at once; return ``(h, q)``.

    Rows stop when q is 0, the damping saturates, or a step no longer improves q (relative
    1e-12); each iteration works on the rows still running.
    """
    n, S = h.shape
    eye = torch.eye(S, dtype=h.dtype, device=h.device)

    def q_of(state, xs):
        G = sys_.step(state, xs) - state
        q = 0.5 * (G * G).sum(1)
        return G, torch.where(torch.isfinite(q), q, torch.full_like(q, float("inf")))

    G, q = q_of(h, x)
    mu = torch.full((n,), 1e-3, dtype=h.dtype, device=h.device)
    active = torch.nonzero(torch.isfinite(q)).ravel()  # a start where F is not finite is diverged
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
            stalled = accept & (qa - q_new <= 1e-12 * qa)  # converged, or creeping along a plateau
            small_step = accept & (delta.norm(dim=1) <= 1e-14 * (1 + ha.norm(dim=1)))
            h[active] = torch.where(accept[:, None], ha + delta, ha)
            G[active] = torch.where(accept[:, None], G_new, Ga)
            q[active] = torch.where(accept, q_new, qa)
            mu[active] = torch.where(accept, mu[active] / 3, mu[active] * 4).clamp(1e-12, 1e12)
            done = (q[active] == 0) | (mu[active] >= 1e12) | stalled | small_step | broken
            active = active[~done]
    return h, q


def _dedupe(points: np.ndarray, q: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Group points closer than ``tol`` (transitively); return (representatives, labels)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(points)
    if n == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    pairs = cKDTree(points).query_pairs(tol, output_type="ndarray").reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    order = np.lexsort((q, labels))  # by label, then q: the first of each label is its best
    _, first = np.unique(labels[order], return_index=True)
    return order[first], labels


def find_fixed_points(system: System, inputs=None, *, constant_input=None, starts=None,
                      n_starts: int = 64, start_noise: float = 0.1, initial_fraction: float = 0.25,
                      transient: int = 0,
                      max_iter: int = 200, tol: float = 1e-12, slow_tol: float = 1e-6,
                      dedupe_tol: float = 1e-6, marginal_tol: float = 1e-6, seed: int = 0,
                      dtype=torch.float64, device=None, trace_points: int = 300) -> xr.Dataset:
    """Fixed points and slow points of the step map at a constant input.

    Parameters
    ----------
    system : System
        A step map (`dynalysis.load_checkpoint`, `dynalysis.MapSystem`, ...).
    inputs : Tensor or ndarray, shape (trajectory, time, input_size), optional
        Driving inputs; starts are sampled around the states that the trajectories which stay
        finite visit (after ``transient``). The whole trajectories define the PCA frame and are kept, projected on
        it, for plotting.
    constant_input : None, "zero", "mean" or array of shape (input_size,)
        The input ``x*`` held constant: zero (autonomous dynamics, default), the mean of
        ``inputs``, or the given vector.
    starts : array, shape (n, state_size), optional
        Explicit starting states (then ``inputs`` only provide the PCA frame).
    n_starts : int, default 64
        Number of starts sampled when ``starts`` is not given.
    start_noise : float, default 0.1
        Gaussian noise added to sampled starts, in units of the per-dimension standard
        deviation of the trajectory states (absolute units when there are no ``inputs``).
    initial_fraction : float, default 0.25
        Fraction of the sampled starts placed around the system's initial state rather than on
        trajectory states (all of them without ``inputs``). Derivative-based searches cannot
        leave regions where the non-linearity saturates, so trajectories that drift far (an
        integrating network driven for long) may never lead to the fixed points near the
        initial state.
    transient : int, default 0
        Trajectory steps not used as starts (they still enter the PCA frame).
    max_iter : int, default 200
        Levenberg–Marquardt iterations.
    tol : float, default 1e-12
        ``q < tol``: a fixed point.
    slow_tol : float, default 1e-6
        ``tol ≤ q < slow_tol``: a slow point. Starts ending above are discarded.
    dedupe_tol : float, default 1e-6
        Points closer than this (Euclidean) are one point; the one with the smallest q is kept.
    marginal_tol : float, default 1e-6
        ``|ρ − 1| ≤ marginal_tol`` is marginal; ``ρ`` the spectral radius of ``J(h*)``.
    seed : int, default 0
        Seed of the choice of starts and of the noise.
    dtype : torch.dtype or str, default float64
    device : optional
    trace_points : int, default 300
        Time points of the trajectories kept (in PCA coordinates) for plots.

    Returns
    -------
    xarray.Dataset
        ``state (fixed_point, state_dim)``; ``q (fixed_point)``; ``kind (fixed_point)``
        (flag: fixed, slow); ``eigenvalue (fixed_point, eigen_index)``: complex eigenvalues
        of ``J(h*)``, decreasing modulus; ``spectral_radius``, ``n_unstable`` (eigenvalues
        with ``|λ| > 1 + marginal_tol``) and ``stability`` (flag: stable, marginal, unstable)
        over ``fixed_point``; ``start_q (start)`` and ``start_assignment (start)`` (index of
        the point a start converged to, -1 if discarded); ``diverged (start)``: 1 where the
        search ended NaN/inf or no finite trajectory state was left to start from (with a
        `dynalysis.DivergenceWarning`; such starts find nothing); ``constant_input
        (input_dim)``; PCA frame ``pca_mean (state_dim)``, ``pca_components (pc, state_dim)``,
        ``pca_explained_variance (pc)``, ``fixed_point_pc (fixed_point, pc)`` and, with
        ``inputs``, ``trajectory_pc (trajectory, time, pc)`` and ``trajectory_diverged
        (trajectory)`` (a diverged trajectory's non-finite states are NaN there; its states
        are neither starts nor part of the PCA frame).

    Notes
    -----
    ``q(h) = ½‖F(h, x*) − h‖²`` is minimised by Levenberg–Marquardt on ``G = F − h`` (the
    Gauss–Newton matrix ``AᵀA`` with ``A = J − I`` and Levenberg damping), so unstable fixed
    points are found as readily as stable ones. Stability: ``ρ(J(h*)) < 1 − marginal_tol``
    stable, ``> 1 + marginal_tol`` unstable, otherwise marginal.

    References
    ----------
    D. Sussillo, O. Barak, "Opening the black box: low-dimensional dynamics in
    high-dimensional recurrent neural networks", Neural Computation 25 (2013) 626–649.
    M. D. Golub, D. Sussillo, "FixedPointFinder", JOSS 3 (2018) 1003.

    Examples
    --------
    >>> import torch, dynalysis
    >>> bistable = dynalysis.MapSystem(lambda h, x: torch.tanh(2 * h), 1)
    >>> ds = dynalysis.find_fixed_points(bistable, starts=torch.linspace(-2, 2, 9)[:, None])
    >>> sorted(ds.state.values[:, 0].round(4).tolist())
    [-0.9575, 0.0, 0.9575]
    """
    # every option, input and start is checked before the first step of the map
    dtype = resolve_dtype(dtype)
    max_iter = check_positive_int("max_iter", max_iter)
    trace_points = check_positive_int("trace_points", trace_points)
    n_starts = check_positive_int("n_starts", n_starts)
    transient = check_positive_int("transient", transient, minimum=0)
    tol, slow_tol, dedupe_tol, marginal_tol = (check_positive_float(name, val) for name, val in (
        ("tol", tol), ("slow_tol", slow_tol), ("dedupe_tol", dedupe_tol), ("marginal_tol", marginal_tol)))
    start_noise = check_positive_float("start_noise", start_noise, allow_zero=True)
    initial_fraction = check_fraction("initial_fraction", initial_fraction, closed=True)
    if slow_tol < tol:
        raise OptionError(f"slow_tol ({slow_tol}) must be >= tol ({tol})")
    S = system.state_size
    x = None if inputs is None else as_inputs(system, inputs, dtype=dtype, device=device, min_steps=transient + 1,
                                              needed_for=f"transient={transient} + 1")
    x_star = constant_input_for(system, constant_input, x, dtype=dtype, device=device)
    given = as_starts(starts, S, dtype=dtype, device=device)

    sys_ = system.to(dtype=dtype, device=device)
    h0, traj, start_info = sample_starts(sys_, x, given, n_starts=n_starts, noise=start_noise,
                                         initial_fraction=initial_fraction, transient=transient,
                                         seed=seed, dtype=dtype, device=device)
    n = h0.shape[0]
    h, q = _levenberg_marquardt(sys_, h0.clone(), x_star.expand(n, -1), max_iter=max_iter)
    h_np, q_np = h.cpu().numpy(), q.cpu().numpy()
    start_diverged = ~np.isfinite(q_np) | ~np.isfinite(h_np).all(1)
    traj_diverged = start_info["trajectory_diverged"]
    warn_diverged({"trajectories": traj_diverged if traj_diverged is not None else [], "starts": start_diverged},
                  analysis="find_fixed_points")
    keep = np.nonzero(q_np < slow_tol)[0]
    reps, labels = _dedupe(h_np[keep], q_np[keep], dedupe_tol)
    rep_q = q_np[keep][reps]
    kind = (rep_q >= tol).astype(np.int8)
    order = np.lexsort((rep_q, kind))  # fixed points first, then by q
    reps, rep_q, kind = reps[order], rep_q[order], kind[order]
    points = h_np[keep][reps].reshape(-1, S)
    assignment = np.full(n, -1)
    if len(keep):
        label_rank = np.empty(labels.max() + 1, dtype=int)
        label_rank[labels[reps]] = np.arange(len(reps))
        assignment[keep] = label_rank[labels]

    if len(points):
        pts = torch.as_tensor(points, dtype=dtype, device=h.device)
        with torch.no_grad():
            J = sys_.jacobian(pts, x_star.expand(len(points), -1))
        eig = sort_by_modulus(torch.linalg.eigvals(J).cpu().numpy())
    else:
        eig = np.zeros((0, S), dtype=complex)
    rho = np.abs(eig[:, 0]) if len(points) else np.zeros(0)
    stability = np.where(rho < 1 - marginal_tol, 0, np.where(rho > 1 + marginal_tol, 2, 1))
    n_unstable = (np.abs(eig) > 1 + marginal_tol).sum(1).astype(np.int32)

    use_traj = traj is not None and not traj_diverged.all()
    frame_states = traj[~traj_diverged].reshape(-1, S) if use_traj else h0.cpu().numpy()
    mean, comps, var = pca_frame(frame_states, n_pc=min(3, S))
    data = {
        "state": points, "q": rep_q, "kind": kind, "eigenvalue": eig, "spectral_radius": rho,
        "n_unstable": n_unstable, "stability": stability,
        "start_q": np.where(start_diverged, np.nan, q_np),
        "start_assignment": assignment.astype(np.int32), "diverged": start_diverged,
        "constant_input": x_star[0].cpu().numpy(), "pca_mean": mean, "pca_components": comps,
        "pca_explained_variance": var, "fixed_point_pc": (points - mean) @ comps.T,
    }
    coords = {"fixed_point": np.arange(len(points)), "state_dim": np.arange(S), "eigen_index": np.arange(S),
              "start": np.arange(n), "input_dim": np.arange(system.input_size), "pc": np.arange(comps.shape[0])}
    if traj is not None:
        idx = thin_indices(traj.shape[1], trace_points)
        with np.errstate(invalid="ignore", over="ignore"):
            pc = (traj[:, idx] - mean) @ comps.T
        data["trajectory_pc"] = np.where(np.isfinite(pc), pc, np.nan)
        data["trajectory_diverged"] = traj_diverged
        coords.update(trajectory=np.arange(traj.shape[0]), time=start_info["times"][idx])
    options = dict(constant_input=_describe(constant_input), starts=start_info["source"], n_starts=n,
                   start_noise=start_noise, initial_fraction=initial_fraction, transient=transient,
                   max_iter=max_iter, tol=tol, slow_tol=slow_tol, dedupe_tol=dedupe_tol,
                   marginal_tol=marginal_tol, seed=int(seed), dtype=dtype)
    return build_result(SCHEMA, data, coords, system=system, options=options)


def _describe(constant_input) -> str:
    if constant_input is None or isinstance(constant_input, str):
        return constant_input or "zero"
    return "given"


SCHEMA = Schema("fixed_points", description="fixed and slow points at a constant input, with Jacobian "
                "eigenvalues and stability", variables={
    "state": Var(("fixed_point", "state_dim"), "state at the fixed (or slow) point"),
    "q": Var(("fixed_point",), "speed q = 0.5 ||F(h, x*) - h||^2 at the point"),
    "kind": Var(("fixed_point",), "fixed point (q < tol) or slow point (tol <= q < slow_tol)", flags=KIND),
    "eigenvalue": Var(("fixed_point", "eigen_index"), "eigenvalue of the Jacobian at the point (decreasing modulus)"),
    "spectral_radius": Var(("fixed_point",), "spectral radius of the Jacobian at the point"),
    "n_unstable": Var(("fixed_point",), "number of Jacobian eigenvalues with modulus > 1 + marginal_tol"),
    "stability": Var(("fixed_point",), "linear stability of the point (spectral radius vs 1)", flags=STABILITY),
    "start_q": Var(("start",), "final speed q reached from each start (NaN: diverged)"),
    "start_assignment": Var(("start",), "index of the point each start converged to (-1: discarded)"),
    "diverged": Var(("start",), "start diverged (its search, or every trajectory state it could start "
                                "from, is NaN/inf)", flags=DIVERGED_FLAGS),
    "constant_input": Var(("input_dim",), "constant input x* of the map F(h, x*)"),
    "pca_mean": Var(("state_dim",), "mean of the states defining the PCA frame"),
    "pca_components": Var(("pc", "state_dim"), "principal axes of the trajectory states (unit vectors)"),
    "pca_explained_variance": Var(("pc",), "variance of the trajectory states along each axis"),
    "fixed_point_pc": Var(("fixed_point", "pc"), "point in principal-component coordinates"),
    "trajectory_pc": Var(("trajectory", "time", "pc"), "trajectory state in principal-component coordinates "
                         "(NaN where it diverged)", optional=True),
    "trajectory_diverged": Var(("trajectory",), "driving trajectory diverged (NaN/inf state)",
                               flags=DIVERGED_FLAGS, optional=True),
}, coords={
    "fixed_point": Var(("fixed_point",), "point index (fixed points first, then by q)"),
    "state_dim": Var(("state_dim",), "state dimension"),
    "eigen_index": Var(("eigen_index",), "eigenvalue rank (0 = largest modulus)"),
    "start": Var(("start",), "start index"),
    "input_dim": Var(("input_dim",), "input dimension"),
    "pc": Var(("pc",), "principal component (0 = largest variance)"),
    "trajectory": Var(("trajectory",), "trajectory index"),
    "time": Var(("time",), "step t of the state h_t (1-based)", "step", time="duration"),
})
