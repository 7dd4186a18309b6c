"""What a `find_fixed_points` result holds (the declarative schema of `build_result`)."""
from __future__ import annotations

from .._core.divergence import DIVERGED_FLAGS
from .._core.result import Schema, Var
from .classify import KIND, STABILITY, STATUS

__all__ = ["SCHEMA"]

SCHEMA = Schema("fixed_points", description="fixed and slow points at constant inputs (one search per input "
                "condition), with Jacobian eigenvalues, stability and unstable directions", variables={
    "state": Var(("fixed_point", "state_dim"), "state at the fixed (or slow) point"),
    "q": Var(("fixed_point",), "speed q = 0.5 ||F(h, x*) - h||^2 at the point"),
    "kind": Var(("fixed_point",), "fixed point (q < tol) or slow point (a local minimum of q with "
                "tol <= q < slow_tol)", flags=KIND),
    "fixed_point_condition": Var(("fixed_point",), "index of the input condition the point belongs to"),
    "extent": Var(("fixed_point",), "largest distance between two end states merged into this entry "
                  "(0: an isolated point; > 0: a slow or marginal manifold summarised by one entry)",
                  "1"),
    "start_count": Var(("fixed_point",), "number of starts that ended at this point (or manifold)"),
    "eigenvalue": Var(("fixed_point", "eigen_index"), "eigenvalue of the Jacobian at the point (decreasing modulus)"),
    "spectral_radius": Var(("fixed_point",), "spectral radius of the Jacobian at the point"),
    "n_unstable": Var(("fixed_point",), "number of Jacobian eigenvalues with modulus > 1 + marginal_tol"),
    "stability": Var(("fixed_point",), "linear stability of the point (spectral radius vs 1)", flags=STABILITY),
    "unstable_direction": Var(("fixed_point", "state_dim"), "unit eigenvector of the leading unstable "
                              "eigenvalue (its real part; for a complex pair, the plane's real direction); "
                              "NaN where the point has no unstable mode"),
    "start_q": Var(("start",), "final speed q reached from each start (NaN: diverged)"),
    "start_assignment": Var(("start",), "index of the point each start converged to (-1: none)"),
    "start_status": Var(("start",), "how the start ended: a fixed point, a slow point, unconverged "
                        "(iteration budget spent while q still fell, or q >= slow_tol), diverged",
                        flags=STATUS),
    "start_condition": Var(("start",), "index of the input condition of the start's search"),
    "diverged": Var(("start",), "start diverged (its search, or every trajectory state it could start "
                                "from, is NaN/inf)", flags=DIVERGED_FLAGS),
    "constant_input": Var(("condition", "input_dim"), "constant input x* of the map F(h, x*)"),
    "n_fixed_points": Var(("condition",), "number of fixed points found (q < tol)"),
    "n_stable": Var(("condition",), "number of stable fixed points found (the attractors)"),
    "n_saddles": Var(("condition",), "number of unstable fixed points found"),
    "n_slow": Var(("condition",), "number of slow-point entries (each point or manifold counted once)"),
    "n_unconverged": Var(("condition",), "number of starts that ended unconverged (not reported as points)"),
    "simulated_attractors": Var(("condition",), "distinct stable fixed points reached by forward simulation "
                                "from visited states (-1: not checked)"),
    "missed_attractors": Var(("condition",), "attractors reached by forward simulation that the search did "
                             "not report (-1: not checked)"),
    "unsettled_simulations": Var(("condition",), "forward simulations of the cross-check that ended on no fixed "
                                 "point (a cycle, chaos, or still drifting; -1: not checked)"),
    "simulated_period": Var(("condition",), "shortest period (2-8) of a periodic orbit a forward simulation "
                            "ended on (0: none): a cycle, attracting or marginal, that is not a fixed point"),
    "pca_mean": Var(("state_dim",), "mean of the states defining the PCA frame"),
    "pca_components": Var(("pc", "state_dim"), "principal axes of the trajectory states (unit vectors)"),
    "pca_explained_variance": Var(("pc",), "variance of the trajectory states along each axis"),
    "pca_total_variance": Var((), "total variance of the trajectory states (all axes)"),
    "fixed_point_pc": Var(("fixed_point", "pc"), "point in principal-component coordinates"),
    "trajectory_pc": Var(("trajectory", "time", "pc"), "trajectory state in principal-component coordinates "
                         "(NaN where it diverged)", optional=True),
    "trajectory_diverged": Var(("trajectory",), "driving trajectory diverged (NaN/inf state)",
                               flags=DIVERGED_FLAGS, optional=True),
}, coords={
    "fixed_point": Var(("fixed_point",), "point index (by condition; fixed points first, then by q)"),
    "condition": Var(("condition",), "name of the input condition (zero, mean, onehot_k, a task's name, ...)"),
    "state_dim": Var(("state_dim",), "state dimension"),
    "eigen_index": Var(("eigen_index",), "eigenvalue rank (0 = largest modulus)"),
    "start": Var(("start",), "start index (condition-major)"),
    "input_dim": Var(("input_dim",), "input dimension"),
    "pc": Var(("pc",), "principal component (0 = largest variance)"),
    "trajectory": Var(("trajectory",), "trajectory index"),
    "time": Var(("time",), "step t of the state h_t (1-based)", "step", time="duration"),
})
