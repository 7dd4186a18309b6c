"""Transient growth ‖A^k‖₂, the Kreiss bounds, and Jacobian products along trajectories
(docs/science.md §3, §6).

Closed forms: Jordan blocks against numpy.linalg.matrix_power (and, for large k, the exact
scaled binomial sum), normal matrices ‖A^k‖ = ρ^k, the chain initializer's ‖W^k‖ = α^k for
k < N and 0 after; then the Kreiss inequalities, overflow-free long runs, the trajectory mode
against explicit Jacobian products, divergence, options and the result contract.
"""
from __future__ import annotations

import math
from math import comb

import numpy as np
import pytest
import torch

import dynalysis
from dynalysis.errors import DivergenceWarning, OptionError, ResultsFileError
from dynalysis.models.initializers import chain
from dynalysis.nonnormal.transient import SCHEMA
from dynalysis.plotting import PLOTTERS


def jordan(lam, n: int) -> np.ndarray:
    return lam * np.eye(n) + np.diag(np.ones(n - 1), 1)


def jordan_log_norm(lam, n: int, k: int) -> float:
    """``ln ‖J^k‖₂`` exactly scaled: ``J^k = λ^k Σ_j C(k, j) λ^{−j} N^j``."""
    N = np.diag(np.ones(n - 1), 1)
    S = sum(comb(k, j) * lam ** (-j) * np.linalg.matrix_power(N, j) for j in range(min(k, n - 1) + 1))
    return k * math.log(abs(lam)) + math.log(np.linalg.norm(S, 2))


@pytest.mark.parametrize("lam, n", [(0.5, 3), (0.9, 6), (-1.2, 4), (0.3 + 0.8j, 3)])
def test_jordan_block_powers_equal_matrix_power(lam, n):
    J = jordan(lam, n)
    ds = dynalysis.transient_growth(J, max_power=40)
    ref = [np.linalg.norm(np.linalg.matrix_power(J, k), 2) for k in range(41)]
    np.testing.assert_allclose(ds.power_norm.values, ref, rtol=1e-12)
    k = int(np.argmax(ref))
    assert int(ds.peak_power) == k and float(ds.peak_norm) == pytest.approx(ref[k], rel=1e-12)


def test_normal_matrix_powers_are_rho_to_the_k():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    th = np.array([0.3, 1.1, 2.5])
    D = np.zeros((6, 6))
    for i, (r, t) in enumerate(zip([0.95, 0.7, 0.4], th)):
        D[2 * i:2 * i + 2, 2 * i:2 * i + 2] = r * np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    ds = dynalysis.transient_growth(Q @ D @ Q.T, max_power=60)
    np.testing.assert_allclose(ds.power_norm.values, 0.95 ** np.arange(61), rtol=1e-12)
    assert int(ds.peak_power) == 0 and float(ds.kreiss_lower_bound) == 1.0  # no transient growth


@pytest.mark.parametrize("n, alpha", [(20, 1.05), (10, 0.99), (8, 2.0)])
def test_chain_initializer_grows_transiently_although_rho_is_zero(n, alpha):
    W = chain(n, alpha=alpha, dtype=torch.float64)
    ds = dynalysis.transient_growth(W, max_power=2 * n)
    k = np.arange(2 * n + 1)
    np.testing.assert_allclose(ds.power_norm.values[:n], alpha ** k[:n], rtol=1e-13)
    assert (ds.power_norm.values[n:] == 0).all() and np.isneginf(ds.log_power_norm.values[n:]).all()
    assert float(ds.spectral_radius) == 0.0
    if alpha > 1:
        assert int(ds.peak_power) == n - 1 and float(ds.peak_norm) == pytest.approx(alpha ** (n - 1), rel=1e-13)
        assert float(ds.peak_norm) > 1.0
    K = float(ds.kreiss_lower_bound)
    assert 1.0 <= K <= float(ds.peak_norm) <= float(ds.kreiss_upper_bound_on_peak)


@pytest.mark.parametrize("lam, n", [(1.5, 3), (0.5, 4)])
def test_long_runs_neither_overflow_nor_underflow(lam, n):
    ds = dynalysis.transient_growth(jordan(lam, n), max_power=3000)
    log_norm = ds.log_power_norm.values
    assert np.isfinite(log_norm).all()
    for k in (1, 10, 500, 1500, 3000):
        assert log_norm[k] == pytest.approx(jordan_log_norm(lam, n, k), rel=1e-11, abs=1e-11)
    if lam > 1:  # the norm itself leaves the float64 range; its log does not
        assert np.isinf(ds.power_norm.values[-1]) and math.isinf(float(ds.kreiss_lower_bound))


def test_scaled_orthogonal_matrix_grows_exactly_like_rho_k_for_thousands_of_steps():
    Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((5, 5)))
    ds = dynalysis.transient_growth(2.0 * Q, max_power=2000)
    np.testing.assert_allclose(ds.log_power_norm.values, np.arange(2001) * math.log(2.0), rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kreiss_inequalities_for_random_non_normal_matrices(seed):
    rng = np.random.default_rng(seed)
    n = 8
    T = np.diag(rng.uniform(-0.9, 0.9, n)) + np.triu(rng.standard_normal((n, n)), 1)  # ρ < 0.9
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    ds = dynalysis.transient_growth(Q @ T @ Q.T, max_power=800)
    assert float(ds.peak_norm) > 2.0  # transient growth
    assert ds.power_norm.values[-1] < 1e-6 * float(ds.peak_norm)  # the peak over all k is in the run
    K = float(ds.kreiss_lower_bound)
    assert 1.0 <= K <= float(ds.peak_norm) <= math.e * n * K == pytest.approx(float(ds.kreiss_upper_bound_on_peak))


def test_trajectory_mode_on_a_linear_map_equals_the_matrix_powers():
    A = jordan(0.8, 4)
    lin = dynalysis.testing.linear_map(A)
    tr = dynalysis.transient_growth(lin, max_power=30, inputs=dynalysis.zero_inputs(lin, 3, 35), transient=5)
    ref = dynalysis.transient_growth(A, max_power=30).log_power_norm.values
    np.testing.assert_allclose(tr.log_product_norm.values, np.tile(ref, (3, 1)), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(tr.mean_log_product_norm.values, ref, rtol=1e-12, atol=1e-13)
    assert (tr.product_peak_power.values == np.argmax(ref)).all() and tr.attrs["mode"] == "trajectory"


def test_trajectory_mode_against_explicit_jacobian_products():
    rnn = dynalysis.testing.tanh_rnn(6, gain=1.4, input_size=2, seed=1)
    x = torch.randn(2, 16, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    h0 = torch.randn(2, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    tr = dynalysis.transient_growth(rnn, max_power=12, inputs=x, transient=3, initial_state=h0)
    for b in range(2):
        h, P = h0[b], torch.eye(6, dtype=torch.float64)
        for t in range(3):
            h = rnn.step(h[None], x[b, t][None])[0]
        expected = [0.0]
        for t in range(3, 15):
            J = torch.func.jacrev(lambda s: rnn.step(s[None], x[b, t][None])[0])(h)
            P, h = J @ P, rnn.step(h[None], x[b, t][None])[0]
            expected.append(math.log(torch.linalg.matrix_norm(P, ord=2)))
        np.testing.assert_allclose(tr.log_product_norm.values[b], expected, rtol=1e-10, atol=1e-12)


def test_diverging_trajectories_are_flagged_warned_and_left_out_of_the_mean():
    blow = dynalysis.MapSystem(lambda h, x: h * (1 + x[:, :1]), 2, 1, name="blow-up")  # J = (1 + x) I
    x = torch.zeros(3, 6, 1, dtype=torch.float64)
    x[1] = 1e300  # trajectory 1: (1 + 1e300)^k overflows at the second step
    with pytest.warns(DivergenceWarning, match="1 of 3"):
        tr = dynalysis.transient_growth(blow, max_power=6, inputs=x, initial_state=torch.ones(2))
    assert tr.diverged.values.tolist() == [0, 1, 0]
    assert np.isnan(tr.log_product_norm.values[1]).all() and int(tr.product_peak_power[1]) == -1
    np.testing.assert_allclose(tr.mean_log_product_norm.values, np.zeros(7), atol=1e-15)  # J = I for the others


def counting_system(state_size: int = 3, input_size: int = 1):
    calls = {"n": 0}

    def step(h, x):
        calls["n"] += 1
        return 0.5 * h

    return dynalysis.MapSystem(step, state_size, input_size), calls


@pytest.mark.parametrize("options, match", [
    ({"max_power": -1}, "max_power"), ({"max_power": 1.5}, "max_power"),
    ({"inputs": torch.zeros(2, 10, 1), "at": "initial_state"}, "exclude inputs"),
    ({"inputs": torch.zeros(2, 10, 1), "at_input": np.zeros(1)}, "exclude inputs"),
    ({"transient": 3, "at": "initial_state"}, "trajectories"),
    ({"inputs": torch.zeros(2, 10, 2)}, "input width"), ({"inputs": torch.zeros(10, 1)}, "shape"),
    ({"inputs": torch.zeros(2, 10, 1), "transient": 5}, "at least 105"),
    ({"inputs": torch.zeros(2, 200, 1), "transient": -1}, "transient"), ({"at": "nowhere"}, "at"),
])
def test_bad_options_raise_option_error_before_any_step(options, match):
    system, calls = counting_system()
    with pytest.raises(OptionError, match=match):
        dynalysis.transient_growth(system, **options)
    assert calls["n"] == 0


def test_a_matrix_has_no_trajectories():
    with pytest.raises(OptionError, match="System"):
        dynalysis.transient_growth(np.eye(2), inputs=torch.zeros(1, 5, 0))


@pytest.mark.parametrize("mode", ["matrix", "trajectory"])
def test_result_contract_netcdf_round_trip_and_figure(mode, tmp_path):
    A = jordan(0.7, 3)
    if mode == "matrix":
        ds = dynalysis.transient_growth(A, max_power=30)
    else:
        lin = dynalysis.testing.linear_map(A)
        ds = dynalysis.transient_growth(lin, max_power=30, inputs=dynalysis.zero_inputs(lin, 2, 30))
    assert ds.attrs["mode"] == mode and ds.attrs["analysis"] == SCHEMA.name
    for name in ds.variables:
        assert ds[name].attrs.get("long_name") and "units" in ds[name].attrs, name
    path = tmp_path / "tg.nc"
    dynalysis.save_results(ds, path)
    back = dynalysis.open_results(path)
    for name in ds.data_vars:
        np.testing.assert_array_equal(back[name].values, ds[name].values)
    (png,) = PLOTTERS["transient_growth"](back, tmp_path)
    assert png.name == "transient_growth.png" and png.stat().st_size > 10_000
    with pytest.raises(ResultsFileError, match="already exist"):
        PLOTTERS["transient_growth"](back, tmp_path)
