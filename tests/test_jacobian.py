"""Jacobian spectra along trajectories against Jacobians known in closed form."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import dynalysis
from dynalysis.errors import OptionError
from dynalysis._core.trajectory import sort_by_modulus
from dynalysis.models import build_model

F64 = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_linear_map_spectrum_is_that_of_A_at_every_sample():
    A = torch.tensor([[0.5, 2.0, 0.0], [0.0, -0.9, 1.0], [0.3, 0.0, 0.2]], dtype=F64)
    sys_ = dynalysis.MapSystem(lambda h, x: h @ A.T + x, 3, 3)
    x = torch.randn(2, 23, 3, generator=_gen(1), dtype=F64)
    ds = dynalysis.jacobian_eigenvalues(sys_, x, every=5, transient=2)
    assert ds.time.values.tolist() == [7, 12, 17, 22]
    assert ds.eigenvalue.dims == ("trajectory", "time", "eigen_index")
    ev = sort_by_modulus(np.linalg.eigvals(A.numpy()))
    sv = np.linalg.svd(A.numpy(), compute_uv=False)
    np.testing.assert_allclose(ds.eigenvalue.values, np.broadcast_to(ev, (2, 4, 3)), atol=1e-12)
    np.testing.assert_allclose(ds.singular_value.values, np.broadcast_to(sv, (2, 4, 3)), atol=1e-12)
    np.testing.assert_allclose(ds.spectral_radius.values, np.abs(ev[0]), atol=1e-12)
    np.testing.assert_allclose(ds.spectral_norm.values, sv[0], atol=1e-12)
    assert ds.attrs["has_recurrent_matrix"] == 0 and "recurrent_eigenvalue" not in ds


def test_tanh_network_jacobian_matches_diag_derivative_times_W_along_the_trajectory():
    N = 5
    W = torch.randn(N, N, generator=_gen(2), dtype=F64) * 1.5 / math.sqrt(N)
    V = torch.randn(N, 2, generator=_gen(3), dtype=F64)
    sys_ = dynalysis.MapSystem(lambda h, x: torch.tanh(h @ W.T + x @ V.T), N, 2)
    x = torch.randn(3, 12, 2, generator=_gen(4), dtype=F64)
    ds = dynalysis.jacobian_eigenvalues(sys_, x, every=4)
    h = torch.zeros(3, N, dtype=F64)
    for t in range(1, 13):
        h_next = sys_.step(h, x[:, t - 1])
        if t % 4 == 0:  # J_t = diag(1 - h_t²) W, evaluated at (h_{t-1}, x_t)
            J = (1 - h_next ** 2)[:, :, None] * W
            ev = sort_by_modulus(np.linalg.eigvals(J.numpy()))
            np.testing.assert_allclose(ds.eigenvalue.sel(time=t).values, ev, atol=1e-12)
            np.testing.assert_allclose(ds.singular_value.sel(time=t).values,
                                       np.linalg.svd(J.numpy(), compute_uv=False), atol=1e-12)
        h = h_next


def test_wcrnn_module_reports_its_recurrent_matrix_and_analytic_jacobian():
    net = build_model("wcrnn", input_size=2, hidden_size=6, output_size=3, epsilon=0.1, seed=0)
    sys_ = dynalysis.ModuleSystem(net)
    x = torch.randn(2, 10, 2, generator=_gen(5))
    ds = dynalysis.jacobian_eigenvalues(sys_, x, every=10)
    W = (net.R + 0.1 * net.W).detach().double()  # recurrent_matrix: R + εW, J at zero pre-activation
    np.testing.assert_allclose(ds.recurrent_eigenvalue.values, sort_by_modulus(np.linalg.eigvals(W.numpy())),
                               atol=1e-10)
    np.testing.assert_allclose(ds.recurrent_singular_value.values, np.linalg.svd(W.numpy(), compute_uv=False),
                               atol=1e-10)
    assert ds.attrs["has_recurrent_matrix"] == 1
    # J_10 = R + ε diag(tanh'(a)) W at the state before step 10
    h = torch.zeros(2, 6, dtype=F64)
    net64 = sys_.to(dtype=F64).net
    for t in range(9):
        h = net64.step(h, x[:, t].double())
    a = h @ net64.W.T + x[:, 9].double() @ net64.V.T + net64.b
    J = net64.R + 0.1 * (1 - torch.tanh(a) ** 2)[:, :, None] * net64.W
    np.testing.assert_allclose(ds.eigenvalue.isel(time=0).values,
                               sort_by_modulus(np.linalg.eigvals(J.detach().numpy())), atol=1e-10)


def test_eigenvalues_are_complex_and_sorted_by_modulus():
    th = 0.3
    A = 0.9 * torch.tensor([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]], dtype=F64)
    sys_ = dynalysis.MapSystem(lambda h, x: h @ A.T, 2)
    ds = dynalysis.jacobian_eigenvalues(sys_, dynalysis.zero_inputs(sys_, 1, 3), every=1)
    ev = ds.eigenvalue.isel(trajectory=0, time=0).values
    assert np.iscomplexobj(ev)
    np.testing.assert_allclose(ev, [0.9 * np.exp(1j * th), 0.9 * np.exp(-1j * th)], atol=1e-12)


@pytest.mark.parametrize("kwargs", [{"every": 0}, {"transient": -1}, {"dtype": "int8"}])
def test_invalid_options_raise(kwargs):
    sys_ = dynalysis.MapSystem(lambda h, x: h, 2)
    with pytest.raises(OptionError):
        dynalysis.jacobian_eigenvalues(sys_, dynalysis.zero_inputs(sys_, 1, 20), **kwargs)


def test_too_short_inputs_raise():
    sys_ = dynalysis.MapSystem(lambda h, x: h, 2)
    with pytest.raises(OptionError, match="at least"):
        dynalysis.jacobian_eigenvalues(sys_, dynalysis.zero_inputs(sys_, 1, 5), every=10)


def test_diverging_trajectories_are_flagged_and_never_reach_lapack():
    """h ← h²: the start 2 overflows to inf within 11 steps, the start 0.5 goes to 0. MKL aborts
    the process on NaN input to eigvals, so non-finite Jacobians must be left out and flagged."""
    square = dynalysis.MapSystem(lambda h, x: h * h, 1)
    with pytest.warns(dynalysis.DivergenceWarning, match="jacobian_eigenvalues: 1 of 2 trajectories diverged"):
        ds = dynalysis.jacobian_eigenvalues(square, dynalysis.zero_inputs(square, 2, 40), every=5,
                                            initial_state=torch.tensor([[2.0], [0.5]], dtype=torch.float64))
    assert ds.diverged.values.tolist() == [1, 0]
    assert np.isnan(ds.eigenvalue.isel(trajectory=0, time=-1).values).all()
    good = ds.eigenvalue.isel(trajectory=1).values[:, 0]
    h = 0.5 ** (2.0 ** (ds.time.values - 1))                     # h_{t-1}; J_t = 2 h_{t-1}
    np.testing.assert_allclose(good.real, 2 * h, rtol=1e-12, atol=0)


def test_results_name_the_recurrent_matrix_they_show():
    """A WCRNN's recurrent matrix is R + eps*W, not the coupling W: results say which."""
    net = build_model("wcrnn", input_size=1, hidden_size=4, epsilon=0.1, seed=0)
    ds = dynalysis.jacobian_eigenvalues(dynalysis.ModuleSystem(net), torch.zeros(1, 12, 1), every=5)
    assert ds.attrs["recurrent_matrix_description"] == net.recurrent_matrix_description
    assert "R + eps" in ds.attrs["recurrent_matrix_description"]
