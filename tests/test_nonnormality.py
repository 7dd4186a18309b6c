"""Non-normality measures against the closed forms of docs/science.md §3."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import dynalysis
from dynalysis.errors import DynalysisError, OptionError


def chain(N, alpha, beta=0.0):
    """``W_ij = α δ_{i,j+1} + β δ_{i+1,j}`` (unit j feeds unit j+1)."""
    W = np.zeros((N, N))
    i = np.arange(N - 1)
    W[i + 1, i] = alpha
    W[i, i + 1] = beta
    return W


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", dynalysis.NumericalReliabilityWarning)
        return fn(*args, **kwargs)


def _normal_matrices():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    S = rng.standard_normal((12, 12))
    blocks = np.zeros((12, 12))
    for k in range(6):  # rotation blocks r_k Rot(θ_k), rotated by Q: normal, complex spectrum
        r, th = 0.5 + 0.1 * k, 0.3 + 0.4 * k  # distinct eigenvalues: unit eigenvectors orthonormal
        blocks[2 * k:2 * k + 2, 2 * k:2 * k + 2] = r * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    return {"symmetric": S + S.T, "scaled orthogonal": 0.9 * Q, "rotation blocks": Q @ blocks @ Q.T,
            "diagonal": np.diag(np.arange(1.0, 13.0))}


@pytest.mark.parametrize("name", list(_normal_matrices()))
def test_normal_matrices_have_zero_henrici(name):
    W = _normal_matrices()[name]
    ds = _quiet(dynalysis.nonnormality, W)
    assert float(ds.henrici) < 1e-12 * np.linalg.norm(W)
    assert int(ds.henrici_reliable) == 1
    assert float(ds.eigenvector_condition) == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("N", [20, 100])
@pytest.mark.parametrize("alpha", [0.99, 1.0, 1.05])
def test_chain_henrici_is_alpha_sqrt_N_minus_1(N, alpha):
    ds = _quiet(dynalysis.nonnormality, chain(N, alpha), motif_steps=N + 5, pulse=np.eye(N)[0])
    assert float(ds.henrici) == pytest.approx(alpha * math.sqrt(N - 1), abs=1e-6)
    assert float(ds.henrici_normalized) == pytest.approx(1.0, abs=1e-12)  # all of W is off-normal
    assert float(ds.spectral_radius) == 0 and float(ds.spectral_abscissa) == 0
    # (W + Wᵀ)/2 is tridiagonal with α/2 off the diagonal: eigenvalues α cos(kπ/(N+1))
    assert float(ds.numerical_abscissa) == pytest.approx(alpha * math.cos(math.pi / (N + 1)), abs=1e-12)
    # transient growth of a nilpotent map: ‖W^k‖₂ = α^k for k < N, then 0
    k = ds.power.values
    np.testing.assert_allclose(ds.power_norm.values, np.where(k < N, alpha ** k.astype(float), 0.0), atol=1e-12)


@pytest.mark.parametrize("beta", [0.03, 0.04, 0.05, 0.07])
def test_feedback_chain_at_N20_is_sqrt_N_minus_1_times_alpha_minus_beta(beta):
    N, alpha = 20, 0.99
    ds = _quiet(dynalysis.nonnormality, chain(N, alpha, beta))
    assert float(ds.henrici) == pytest.approx(math.sqrt(N - 1) * abs(alpha - beta), abs=1e-6)
    assert int(ds.henrici_reliable) == 1
    # real spectrum: the eigenvalue-free bound is exact too
    assert float(ds.henrici_upper_bound) == pytest.approx(math.sqrt(N - 1) * abs(alpha - beta), abs=1e-10)


@pytest.mark.parametrize("N", [20, 40, 100])
@pytest.mark.parametrize("beta", [0.01, 0.02, 0.04, 0.07])
def test_reliability_flag_is_honest_on_feedback_chains(N, beta):
    """Flagged reliable ⇒ within 1e-6 of the closed form; otherwise a warning is raised."""
    exact = math.sqrt(N - 1) * (0.99 - beta)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = dynalysis.nonnormality(chain(N, 0.99, beta))
    warned = any(issubclass(w.category, dynalysis.NumericalReliabilityWarning) for w in caught)
    if int(ds.henrici_reliable):
        assert abs(float(ds.henrici) - exact) < 1e-6 and not warned
    else:
        assert warned


def test_feedback_chain_at_N100_warns_with_the_condition_number_instead_of_a_silent_value():
    N, alpha, beta = 100, 0.99, 0.04
    exact = math.sqrt(N - 1) * (alpha - beta)  # 9.45
    with pytest.warns(dynalysis.NumericalReliabilityWarning, match="condition number"):
        ds = dynalysis.nonnormality(chain(N, alpha, beta))
    assert int(ds.henrici_reliable) == 0
    assert float(ds.eigenvector_condition) > 1e12
    assert float(ds.henrici_spread) > 1e-3
    assert abs(float(ds.henrici) - exact) > 1e-3  # the float64 Schur value is wrong, and flagged
    assert float(ds.henrici_upper_bound) == pytest.approx(exact, abs=1e-9)
    assert ds.henrici_reliable.attrs["flag_meanings"] == "unreliable reliable"


def test_normalized_henrici_and_transient_growth_of_a_2x2_matrix():
    W = np.array([[0.5, 4.0], [0.0, 0.5]])  # Jordan-like: ‖W^k‖ grows before decaying
    ds = _quiet(dynalysis.nonnormality, W, max_power=10)
    assert float(ds.henrici) == pytest.approx(4.0, abs=1e-12)
    assert float(ds.henrici_normalized) == pytest.approx(4.0 / np.linalg.norm(W), abs=1e-12)
    for k in range(11):
        assert float(ds.power_norm[k]) == pytest.approx(np.linalg.norm(np.linalg.matrix_power(W, k), 2), rel=1e-10)
    assert float(ds.spectral_norm) > 1 > float(ds.spectral_radius) == pytest.approx(0.5)
    assert float(ds.numerical_abscissa) == pytest.approx(2.5, abs=1e-12)  # 0.5 + 4/2


def test_chain_motif_profile_of_a_pulsed_chain_is_alpha_at_plus_one():
    N, alpha = 12, 0.9
    ds = _quiet(dynalysis.nonnormality, chain(N, alpha), pulse=np.eye(N)[0], motif_steps=30)
    prof = ds.motif_profile.to_series()
    assert prof[1] == pytest.approx(alpha, abs=1e-12)
    assert np.abs(prof.drop(1).values).max() < 1e-12
    assert ds.sizes["order_difference"] == 2 * N - 1


def test_chain_motif_through_the_source_input_of_a_system():
    N, alpha = 10, 1.0
    W = torch.as_tensor(chain(N, alpha))
    V = torch.zeros(N, 1, dtype=torch.float64)
    V[0, 0] = 0.9  # source input: channel 0 drives unit 0 (docs/science.md §3)
    sys_ = dynalysis.MapSystem(lambda h, x: torch.tanh(h @ W.T + x @ V.T), N, 1)
    sys_.recurrent_matrix = lambda: W
    ds = _quiet(dynalysis.nonnormality, sys_, n_pulses=4)
    assert ds.attrs["matrix_source"].startswith("recurrent_matrix")
    prof = ds.motif_profile.to_series()
    assert prof[1] == pytest.approx(alpha, abs=1e-12) and np.abs(prof.drop(1).values).max() < 1e-12


def test_system_without_recurrent_matrix_is_an_error():
    sys_ = dynalysis.MapSystem(lambda h, x: h, 3)
    with pytest.raises(DynalysisError, match="no recurrent weight matrix"):
        dynalysis.nonnormality(sys_)


@pytest.mark.parametrize("kwargs", [{"rtol": 0}, {"max_power": -1}, {"motif_steps": 0},
                                    {"pulse_into": "input"}, {"pulse": np.ones(3)}, {"pulse_scale": 0}])
def test_invalid_options_raise(kwargs):
    with pytest.raises(OptionError):
        dynalysis.nonnormality(chain(5, 1.0), **kwargs)


@pytest.mark.parametrize("W", [np.ones((2, 3)), np.array([[np.nan]])])
def test_invalid_matrices_raise(W):
    with pytest.raises(OptionError):
        dynalysis.nonnormality(W)
