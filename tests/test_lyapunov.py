"""Lyapunov spectra against closed forms (docs/science.md §5 reference values).

These guard the QR engine: every case has an exact or literature value.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import dynalysis
from dynalysis.models import build_model

F64 = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _orthogonal(n, seed):
    return torch.linalg.qr(torch.randn(n, n, generator=_gen(seed), dtype=F64)).Q


def logistic():
    return dynalysis.MapSystem(lambda h, x: 4 * h * (1 - h), 1, name="logistic")


def henon(a=1.4, b=0.3):
    return dynalysis.MapSystem(lambda h, x: torch.stack([1 - a * h[:, 0] ** 2 + h[:, 1], b * h[:, 0]], 1),
                               2, name="henon")


def test_logistic_map_r4_is_ln2_in_one_dimension():
    sys_ = logistic()
    h0 = torch.rand(16, 1, generator=_gen(1), dtype=F64)
    ds = dynalysis.lyapunov_spectrum(sys_, dynalysis.zero_inputs(sys_, 16, 2500), initial_state=h0)
    assert ds.sizes["exponent_index"] == 1
    assert float(ds.exponent[0]) == pytest.approx(math.log(2), abs=5e-3)


def test_henon_map_exponents_and_exact_sum():
    sys_ = henon()
    h0 = 0.1 * torch.rand(8, 2, generator=_gen(2), dtype=F64)
    ds = dynalysis.lyapunov_spectrum(sys_, dynalysis.zero_inputs(sys_, 8, 4000), initial_state=h0)
    lam = ds.exponent.values
    assert lam[0] == pytest.approx(0.4192, abs=5e-3)
    assert lam[1] == pytest.approx(-1.6232, abs=5e-3)
    # det J = -b on every step: the sum is ln 0.3 up to round-off
    assert float(ds.exponent_sum) == pytest.approx(math.log(0.3), abs=1e-10)


def test_henon_leading_exponent_alone():
    sys_ = henon()
    h0 = 0.1 * torch.rand(8, 2, generator=_gen(3), dtype=F64)
    ds = dynalysis.lyapunov_spectrum(sys_, dynalysis.zero_inputs(sys_, 8, 4000), n_exponents=1,
                                     initial_state=h0)
    assert ds.sizes["exponent_index"] == 1
    assert float(ds.exponent[0]) == pytest.approx(0.4192, abs=5e-3)


def test_non_normal_linear_map_gives_ln_abs_eigenvalues_in_order():
    # upper triangular, strongly coupled: eigenvalues are the diagonal
    A = torch.tensor([[0.9, 3.0, -2.0, 1.0], [0.0, -0.5, 4.0, 0.5],
                      [0.0, 0.0, 0.3, 2.0], [0.0, 0.0, 0.0, -1.2]], dtype=F64)
    P = _orthogonal(4, 4)
    A = P @ A @ P.T  # hide the triangular structure
    sys_ = dynalysis.MapSystem(lambda h, x: h @ A.T, 4, name="linear")
    h0 = torch.randn(3, 4, generator=_gen(5), dtype=F64)
    ds = dynalysis.lyapunov_spectrum(sys_, dynalysis.zero_inputs(sys_, 3, 3000), transient=200,
                                     initial_state=h0)
    expected = np.sort(np.log(np.abs([0.9, -0.5, 0.3, -1.2])))[::-1]
    np.testing.assert_allclose(ds.exponent.values, expected, atol=5e-3)


def test_scaled_orthogonal_map_has_a_flat_spectrum():
    lam = 0.8
    A = lam * _orthogonal(6, 6)
    sys_ = dynalysis.MapSystem(lambda h, x: h @ A.T, 6)
    ds = dynalysis.lyapunov_spectrum(sys_, dynalysis.zero_inputs(sys_, 2, 200), transient=10,
                                     initial_state=torch.ones(6, dtype=F64))
    np.testing.assert_allclose(ds.exponent.values, math.log(lam), atol=1e-10)


def test_wcrnn_module_with_weak_coupling_matches_residual():
    net = build_model("wcrnn", input_size=2, hidden_size=8, output_size=0, epsilon=1e-3,
                      residual_scale=0.9, seed=0)
    sys_ = dynalysis.ModuleSystem(net)
    x = torch.randn(3, 600, 2, generator=_gen(7))
    ds = dynalysis.lyapunov_spectrum(sys_, x, transient=100)
    np.testing.assert_allclose(ds.exponent.values, math.log(0.9), atol=1e-2)


def test_wcrnn_map_with_normal_heterogeneous_residual_matches_ln_abs_eig_R():
    N, eps = 6, 1e-3
    scales = torch.tensor([0.98, 0.95, 0.9, 0.8, 0.7, 0.6], dtype=F64)
    Q = _orthogonal(N, 8)
    R = Q @ torch.diag(scales) @ Q.T  # normal, eigenvalues = scales
    W = torch.randn(N, N, generator=_gen(9), dtype=F64) / math.sqrt(N)
    V = torch.randn(N, 1, generator=_gen(10), dtype=F64)
    sys_ = dynalysis.MapSystem(lambda h, x: h @ R.T + eps * torch.tanh(h @ W.T + x @ V.T), N, 1)
    x = torch.randn(3, 800, 1, generator=_gen(11), dtype=F64)
    ds = dynalysis.lyapunov_spectrum(sys_, x, transient=200)
    np.testing.assert_allclose(ds.exponent.values, np.log(scales.numpy()), atol=1e-2)


@pytest.mark.parametrize("g, sign", [(0.5, -1), (3.0, 1)])
def test_random_tanh_network_is_stable_below_and_chaotic_above_g1(g, sign):
    N = 48
    W = torch.randn(N, N, generator=_gen(12), dtype=F64) / math.sqrt(N)
    sys_ = dynalysis.MapSystem(lambda h, x: torch.tanh(g * h @ W.T), N)
    h0 = torch.randn(3, N, generator=_gen(13), dtype=F64)
    ds = dynalysis.lyapunov_spectrum(sys_, dynalysis.zero_inputs(sys_, 3, 700), n_exponents=2,
                                     transient=200, initial_state=h0)
    assert ds.sizes["exponent_index"] == 2
    lam1 = float(ds.exponent[0])
    assert sign * lam1 > 0.1, lam1
    if g < 1:  # the fixed point 0 with J = gW: λ_1 = ln ρ(gW)
        rho = float(torch.linalg.eigvals(g * W).abs().max())
        assert lam1 == pytest.approx(math.log(rho), abs=2e-2)
