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

from ..errors import OptionError
from .._core.options import check_positive_int
from .starts import constant_input_for, pca_frame, sample_starts
from .._core.provenance import provenance_attrs, set_var_attrs
from ..system import System
from .._core.trajectory import set_flag, sort_by_modulus
from .._core.options import resolve_dtype

__all__ = ["find_fixed_points"]

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
    active = torch.arange(n, device=h.device)
    with torch.no_grad():
        for _ in range(max_iter):
            ha, Ga, qa, xa = h[active], G[active], q[active], x[active]
            A = sys_.jacobian(ha, xa) - eye
            At = A.transpose(1, 2)
            grad = (At @ Ga.unsqueeze(-1)).squeeze(-1)
            delta = -torch.linalg.solve(At @ A + mu[active, None, None] * eye, grad)
            G_new, q_new = q_of(ha + delta, xa)
            accept = q_new < qa
            stalled = accept & (qa - q_new <= 1e-12 * qa)  # converged, or creeping along a plateau
            small_step = accept & (delta.norm(dim=1) <= 1e-14 * (1 + ha.norm(dim=1)))
            h[active] = torch.where(accept[:, None], ha + delta, ha)
            G[active] = torch.where(accept[:, None], G_new, Ga)
            q[active] = torch.where(accept, q_new, qa)
            mu[active] = torch.where(accept, mu[active] / 3, mu[active] * 4).clamp(1e-12, 1e12)
            done = (q[active] == 0) | (mu[active] >= 1e12) | stalled | small_step
            active = active[~done]
            if active.numel() == 0:
                break
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
        Driving inputs; starts are sampled around the states these trajectories visit (after
        ``transient``). The whole trajectories define the PCA frame and are kept, projected on
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
        the point a start converged to, -1 if discarded); ``constant_input (input_dim)``;
        PCA frame ``pca_mean (state_dim)``, ``pca_components (pc, state_dim)``,
        ``pca_explained_variance (pc)``, ``fixed_point_pc (fixed_point, pc)`` and, with
        ``inputs``, ``trajectory_pc (trajectory, time, pc)``.

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
    dtype = resolve_dtype(dtype)
    max_iter = check_positive_int("max_iter", max_iter)
    check_positive_int("trace_points", trace_points)
    for name, val in (("tol", tol), ("slow_tol", slow_tol), ("dedupe_tol", dedupe_tol),
                      ("marginal_tol", marginal_tol), ("start_noise", start_noise + 1e-300)):
        if not (isinstance(val, (int, float)) and np.isfinite(val) and val > 0):
            raise OptionError(f"{name} must be a positive number, got {val!r}")
    if slow_tol < tol:
        raise OptionError(f"slow_tol ({slow_tol}) must be >= tol ({tol})")
    sys_ = system.to(dtype=dtype, device=device)
    S = system.state_size
    x_star = constant_input_for(system, constant_input, inputs, dtype=dtype, device=device)
    h0, traj, start_info = sample_starts(sys_, inputs, starts, n_starts=n_starts, noise=start_noise,
                                         initial_fraction=initial_fraction, transient=transient,
                                         seed=seed, dtype=dtype, device=device)
    n = h0.shape[0]
    h, q = _levenberg_marquardt(sys_, h0.clone(), x_star.expand(n, -1), max_iter=max_iter)
    h_np, q_np = h.cpu().numpy(), q.cpu().numpy()
    keep = np.nonzero(q_np < slow_tol)[0]
    reps, labels = _dedupe(h_np[keep], q_np[keep], dedupe_tol)
    rep_q = q_np[keep][reps]
    kind = (rep_q >= tol).astype(np.int8)
    order = np.lexsort((rep_q, kind))  # fixed points first, then by q
    reps, rep_q, kind = reps[order], rep_q[order], kind[order]
    points = h_np[keep][reps]
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
    stability = np.where(rho < 1 - marginal_tol, 0, np.where(rho > 1 + marginal_tol, 2, 1)).astype(np.int8)
    n_unstable = (np.abs(eig) > 1 + marginal_tol).sum(1).astype(np.int32)

    frame_states = traj.reshape(-1, S) if traj is not None else h0.cpu().numpy()
    mean, comps, var = pca_frame(frame_states, n_pc=min(3, S))
    ds = xr.Dataset(
        {
            "state": (("fixed_point", "state_dim"), points.reshape(-1, S)),
            "q": ("fixed_point", rep_q),
            "kind": ("fixed_point", kind),
            "eigenvalue": (("fixed_point", "eigen_index"), eig),
            "spectral_radius": ("fixed_point", rho),
            "n_unstable": ("fixed_point", n_unstable),
            "stability": ("fixed_point", stability),
            "start_q": ("start", q_np),
            "start_assignment": ("start", assignment.astype(np.int32)),
            "constant_input": ("input_dim", x_star[0].cpu().numpy()),
            "pca_mean": ("state_dim", mean),
            "pca_components": (("pc", "state_dim"), comps),
            "pca_explained_variance": ("pc", var),
            "fixed_point_pc": (("fixed_point", "pc"), (points.reshape(-1, S) - mean) @ comps.T),
        },
        coords={"fixed_point": np.arange(len(points)), "state_dim": np.arange(S),
                "eigen_index": np.arange(S), "start": np.arange(n),
                "input_dim": np.arange(system.input_size), "pc": np.arange(comps.shape[0])},
    )
    if traj is not None:
        from .._core.trajectory import thin_indices

        idx = thin_indices(traj.shape[1], trace_points)
        ds["trajectory_pc"] = (("trajectory", "time", "pc"), (traj[:, idx] - mean) @ comps.T)
        ds = ds.assign_coords(trajectory=np.arange(traj.shape[0]), time=start_info["times"][idx])
    set_var_attrs(ds, {
        "state": ("state at the fixed (or slow) point", "1"),
        "q": ("speed q = 0.5 ||F(h, x*) - h||^2 at the point", "1"),
        "kind": ("fixed point (q < tol) or slow point (tol <= q < slow_tol)", "1"),
        "eigenvalue": ("eigenvalue of the Jacobian at the point (decreasing modulus)", "1"),
        "spectral_radius": ("spectral radius of the Jacobian at the point", "1"),
        "n_unstable": ("number of Jacobian eigenvalues with modulus > 1 + marginal_tol", "1"),
        "stability": ("linear stability of the point (spectral radius vs 1)", "1"),
        "start_q": ("final speed q reached from each start", "1"),
        "start_assignment": ("index of the point each start converged to (-1: discarded)", "1"),
        "constant_input": ("constant input x* of the map F(h, x*)", "1"),
        "pca_mean": ("mean of the states defining the PCA frame", "1"),
        "pca_components": ("principal axes of the trajectory states (unit vectors)", "1"),
        "pca_explained_variance": ("variance of the trajectory states along each axis", "1"),
        "fixed_point_pc": ("point in principal-component coordinates", "1"),
        "trajectory_pc": ("trajectory state in principal-component coordinates", "1"),
        "fixed_point": ("point index (fixed points first, then by q)", "1"),
        "state_dim": ("state dimension", "1"),
        "eigen_index": ("eigenvalue rank (0 = largest modulus)", "1"),
        "start": ("start index", "1"),
        "input_dim": ("input dimension", "1"),
        "pc": ("principal component (0 = largest variance)", "1"),
        "trajectory": ("trajectory index", "1"),
        "time": ("step t of the state h_t (1-based)", "step"),
    })
    set_flag(ds, "kind", KIND)
    set_flag(ds, "stability", STABILITY)
    ds.attrs.update(provenance_attrs("fixed_points", system, dict(
        constant_input=_describe(constant_input),
        starts=start_info["source"], n_starts=n, start_noise=float(start_noise),
        initial_fraction=float(initial_fraction), transient=transient,
        max_iter=max_iter, tol=tol, slow_tol=slow_tol, dedupe_tol=dedupe_tol,
        marginal_tol=marginal_tol, seed=int(seed), dtype=str(dtype).replace("torch.", ""))))
    return ds


def _describe(constant_input) -> str:
    if constant_input is None or isinstance(constant_input, str):
        return constant_input or "zero"
    return "given"
