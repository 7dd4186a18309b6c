"""Fixed and slow points of maps whose fixed points are known in closed form."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize
import torch

import dynalysis
from dynalysis.errors import OptionError
from dynalysis._core.trajectory import sort_by_modulus

F64 = torch.float64
STABLE, MARGINAL, UNSTABLE = 0, 1, 2


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _uniform_starts(n, dim, lo, hi, seed=0):
    return lo + (hi - lo) * torch.rand(n, dim, generator=_gen(seed), dtype=F64)


@pytest.mark.parametrize("A, flag", [
    ([[0.5, 0.4], [-0.2, 0.3]], STABLE),
    ([[1.5, 0.4], [0.0, 0.3]], UNSTABLE),
    ([[0.0, -1.0], [1.0, 0.0]], MARGINAL),  # rotation by π/2: |λ| = 1
])
def test_affine_map_fixed_point_eigenvalues_and_stability(A, flag):
    A = torch.tensor(A, dtype=F64)
    c = torch.tensor([1.0, -2.0], dtype=F64)
    sys_ = dynalysis.MapSystem(lambda h, x: h @ A.T + c, 2)
    ds = dynalysis.find_fixed_points(sys_, starts=_uniform_starts(16, 2, -5, 5))
    assert ds.sizes["fixed_point"] == 1
    expected = np.linalg.solve(np.eye(2) - A.numpy(), c.numpy())
    np.testing.assert_allclose(ds.state.values[0], expected, atol=1e-10)
    np.testing.assert_allclose(ds.eigenvalue.values[0], sort_by_modulus(np.linalg.eigvals(A.numpy())), atol=1e-12)
    assert int(ds.stability[0]) == flag and int(ds.kind[0]) == 0
    assert (ds.start_assignment.values == 0).all()
    assert ds.stability.attrs["flag_meanings"] == "stable marginal unstable"
    np.testing.assert_array_equal(ds.stability.attrs["flag_values"], [0, 1, 2])


def test_contracting_tanh_network_has_only_the_origin():
    N, g = 10, 0.8
    W = torch.randn(N, N, generator=_gen(1), dtype=F64) / math.sqrt(N)
    W = W / torch.linalg.matrix_norm(W, ord=2)  # ‖gW‖₂ = g < 1: a contraction, 0 is the only fixed point
    sys_ = dynalysis.MapSystem(lambda h, x: torch.tanh(g * h @ W.T), N)
    ds = dynalysis.find_fixed_points(sys_, starts=_uniform_starts(32, N, -1, 1, seed=2))
    assert ds.sizes["fixed_point"] == 1
    np.testing.assert_allclose(ds.state.values[0], 0, atol=1e-10)
    np.testing.assert_allclose(ds.eigenvalue.values[0], sort_by_modulus(np.linalg.eigvals(g * W.numpy())),
                               atol=1e-10)
    assert int(ds.stability[0]) == STABLE


def test_logistic_map_fixed_points_zero_and_three_quarters_both_unstable():
    sys_ = dynalysis.MapSystem(lambda h, x: 4 * h * (1 - h), 1)
    ds = dynalysis.find_fixed_points(sys_, starts=_uniform_starts(20, 1, 0, 1, seed=3))
    order = np.argsort(ds.state.values[:, 0])
    np.testing.assert_allclose(ds.state.values[order, 0], [0.0, 0.75], atol=1e-12)
    np.testing.assert_allclose(ds.eigenvalue.values[order, 0].real, [4.0, -2.0], atol=1e-10)
    assert (ds.stability.values == UNSTABLE).all()
    assert (ds.n_unstable.values == 1).all()


def test_bistable_tanh_map_has_two_stable_points_and_an_unstable_origin():
    h_star = scipy.optimize.brentq(lambda h: math.tanh(2 * h) - h, 0.5, 1.5)  # 0.9575...
    sys_ = dynalysis.MapSystem(lambda h, x: torch.tanh(2 * h), 1)
    ds = dynalysis.find_fixed_points(sys_, starts=_uniform_starts(30, 1, -3, 3, seed=4))
    order = np.argsort(ds.state.values[:, 0])
    np.testing.assert_allclose(ds.state.values[order, 0], [-h_star, 0.0, h_star], atol=1e-12)
    assert ds.stability.values[order].tolist() == [STABLE, UNSTABLE, STABLE]
    slope = 2 * (1 - h_star ** 2)
    np.testing.assert_allclose(ds.eigenvalue.values[order, 0].real, [slope, 2.0, slope], atol=1e-10)


def test_ghost_of_a_saddle_node_is_a_slow_point():
    c = 1e-4  # h ← h + h² + c: no fixed point; q = ½(h² + c)² is smallest (½c²) at h = 0
    sys_ = dynalysis.MapSystem(lambda h, x: h + h ** 2 + c, 1)
    ds = dynalysis.find_fixed_points(sys_, starts=_uniform_starts(8, 1, -0.5, 0.5, seed=5), max_iter=400,
                                     dedupe_tol=1e-4)
    assert ds.sizes["fixed_point"] == 1
    assert int(ds.kind[0]) == 1 and ds.kind.attrs["flag_meanings"] == "fixed slow"
    assert float(ds.q[0]) == pytest.approx(0.5 * c ** 2, rel=1e-3)
    assert abs(float(ds.state[0, 0])) < 1e-3
    assert int(ds.stability[0]) == MARGINAL  # J = 1 + 2h ≈ 1


def test_constant_input_shifts_the_fixed_point():
    sys_ = dynalysis.MapSystem(lambda h, x: 0.5 * h + x, 1, 1)
    ds = dynalysis.find_fixed_points(sys_, constant_input=[2.0], starts=torch.zeros(3, 1))
    np.testing.assert_allclose(ds.state.values[:, 0], [4.0], atol=1e-12)
    x = torch.full((2, 10, 1), 3.0, dtype=F64)
    ds = dynalysis.find_fixed_points(sys_, x, constant_input="mean", n_starts=4)
    np.testing.assert_allclose(ds.state.values[:, 0], [6.0], atol=1e-12)
    np.testing.assert_allclose(ds.constant_input.values, [[3.0]])  # (condition, input_dim)


def test_starts_from_trajectories_and_pca_frame():
    N = 4
    A = 0.5 * torch.eye(N, dtype=F64)
    sys_ = dynalysis.MapSystem(lambda h, x: h @ A.T + x, N, N)
    x = torch.randn(3, 40, N, generator=_gen(6), dtype=F64)
    ds = dynalysis.find_fixed_points(sys_, x, n_starts=10, transient=5, seed=1)
    np.testing.assert_allclose(ds.state.values, np.zeros((1, N)), atol=1e-12)
    assert ds.trajectory_pc.dims == ("trajectory", "time", "pc") and ds.sizes["pc"] == 3
    comps = ds.pca_components.values
    np.testing.assert_allclose(comps @ comps.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(ds.fixed_point_pc.values[0], -ds.pca_mean.values @ comps.T, atol=1e-12)
    assert ds.sizes["start"] == 10


def test_no_fixed_point_gives_empty_but_valid_result():
    sys_ = dynalysis.MapSystem(lambda h, x: h + 1.0, 2)  # a translation has no fixed or slow point
    ds = dynalysis.find_fixed_points(sys_, starts=torch.zeros(3, 2, dtype=F64))
    assert ds.sizes["fixed_point"] == 0
    assert (ds.start_assignment.values == -1).all()


@pytest.mark.parametrize("kwargs", [
    {"tol": 1e-6, "slow_tol": 1e-8}, {"tol": -1.0}, {"constant_input": "median"},
    {"constant_input": [1.0, 2.0]}, {"starts": torch.zeros(3, 5)}, {"n_starts": 0},
    {"max_iter": 0}, {"initial_fraction": 1.5},
])
def test_invalid_options_raise(kwargs):
    sys_ = dynalysis.MapSystem(lambda h, x: 0.5 * h + x, 2, 1)
    with pytest.raises(OptionError):
        dynalysis.find_fixed_points(sys_, **kwargs)


def test_diverging_trajectories_leave_starts_on_the_finite_states_and_are_flagged():
    """h ← (0.5 h₀ + x, h₁² + x²): the trajectory driven with amplitude 4 overflows (today's code
    refused the whole analysis); the stable fixed point at zero input, (0, 0), is still found
    from the finite trajectory's states and the initial state."""
    blow = dynalysis.MapSystem(lambda h, x: torch.stack([0.5 * h[:, 0] + x[:, 0], h[:, 1] ** 2 + x[:, 0] ** 2], 1), 2, 1)
    x = 0.2 * (torch.rand(2, 80, 1, generator=_gen(7), dtype=F64) - 0.5)
    x[1] *= 40
    with pytest.warns(dynalysis.DivergenceWarning, match="find_fixed_points: 1 of 2 trajectories"):
        ds = dynalysis.find_fixed_points(blow, x, n_starts=32, initial_fraction=0.5, start_noise=1.0, seed=2)
    assert ds.trajectory_diverged.values.tolist() == [0, 1]
    assert np.isnan(ds.trajectory_pc.isel(trajectory=1, time=-1).values).all()
    assert np.isfinite(ds.trajectory_pc.isel(trajectory=0).values).all()
    assert np.isfinite(ds.pca_mean.values).all()
    assert ds.sizes["fixed_point"] == 1 and int(ds.stability[0]) == STABLE
    np.testing.assert_allclose(ds.state.values[0], [0.0, 0.0], atol=1e-9)
    assert not ds.diverged.values.any()  # every start lay on the finite trajectory or at rest
    assert (ds.start_assignment.values[ds.diverged.values == 1] == -1).all()


def test_starts_whose_map_is_not_finite_are_diverged_and_never_searched():
    calls = []
    boom = dynalysis.MapSystem(lambda h, x: calls.append(len(h)) or 1e200 * (h * h + 1), 1)
    with pytest.warns(dynalysis.DivergenceWarning, match="3 of 3 starts diverged"):
        ds = dynalysis.find_fixed_points(boom, starts=torch.tensor([[0.0], [1.0], [-2.0]], dtype=F64))
    assert ds.diverged.values.tolist() == [1, 1, 1] and ds.sizes["fixed_point"] == 0
    assert np.isnan(ds.start_q.values).all()
    assert [c for c in calls if c > 1] == [3]  # one evaluation of q at the starts (besides the
    # one-row dtype probe of MapSystem.to), no search step
