"""Non-normality measures against the closed forms of docs/science.md §3."""
from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch

import dynalysis
import dynalysis.nonnormal
from dynalysis.errors import OptionError
from dynalysis.models import build_model


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


def test_system_without_recurrent_matrix_is_analysed_through_its_linearisation_at_rest():
    """h ← tanh(J h + b): at the initial state 0 and zero input ∂F/∂h = diag(1 − tanh²b) J."""
    J = torch.tensor([[0.5, 2.0, 0.0], [0.0, 0.5, 1.0], [0.0, 0.0, -0.3]], dtype=torch.float64)
    b = torch.tensor([0.2, -0.1, 0.4], dtype=torch.float64)
    cell = dynalysis.MapSystem(lambda h, x: torch.tanh(h @ J.T + b), 3)
    ds = _quiet(dynalysis.nonnormality, cell, n_pulses=4)
    A = ((1 - torch.tanh(b) ** 2)[:, None] * J).numpy()
    assert ds.attrs["matrix_source"] == "Jacobian at the initial state, zero input"
    assert float(ds.frobenius_norm) == pytest.approx(np.linalg.norm(A), rel=1e-12)
    assert float(ds.henrici) == pytest.approx(dynalysis.nonnormal.henrici(A), rel=1e-10)
    np.testing.assert_allclose(np.sort(np.abs(ds.eigenvalue.values)), np.sort(np.abs(np.diag(A))), atol=1e-12)
    assert json.loads(ds.attrs["options"])["matrix"] == "auto"


def test_a_gated_cell_gives_the_linearisation_of_its_whole_state():
    net = build_model("lstm", input_size=2, hidden_size=3, seed=0)
    sys_ = dynalysis.ModuleSystem(net)
    ds = _quiet(dynalysis.nonnormality, sys_, n_pulses=4)
    h0 = torch.zeros(1, sys_.state_size, dtype=torch.float64)
    J = sys_.to(dtype=torch.float64).jacobian(h0, torch.zeros(1, 2, dtype=torch.float64))[0].numpy()
    assert ds.sizes["eigen_index"] == sys_.state_size == 6
    assert float(ds.frobenius_norm) == pytest.approx(np.linalg.norm(J), rel=1e-12)
    assert ds.attrs["matrix_source"].startswith("Jacobian")


def test_matrix_option_chooses_recurrent_or_linearisation():
    net = build_model("wcrnn", input_size=1, hidden_size=5, epsilon=0.1, seed=0)
    sys_ = dynalysis.ModuleSystem(net)
    W = (net.R + 0.1 * net.W).detach().double().numpy()  # the effective linearisation R + εW
    rec = dynalysis.nonnormality(sys_, n_pulses=2)
    assert rec.attrs["matrix_source"] == "recurrent_matrix() of the system"
    assert float(rec.frobenius_norm) == pytest.approx(np.linalg.norm(W), rel=1e-12)
    lin = dynalysis.nonnormality(sys_, matrix="linearisation", n_pulses=2)
    net64 = sys_.to(dtype=torch.float64).net  # J = R + ε diag(tanh'(b)) W at h = 0, x = 0
    J = (net64.R + 0.1 * (1 - torch.tanh(net64.b) ** 2)[:, None] * net64.W).detach().numpy()
    assert float(lin.frobenius_norm) == pytest.approx(np.linalg.norm(J), rel=1e-12)
    with pytest.raises(OptionError, match="matrix='recurrent'.*linearisation"):
        dynalysis.nonnormality(dynalysis.MapSystem(lambda h, x: h, 3), matrix="recurrent")
    with pytest.raises(OptionError, match="matrix"):
        dynalysis.nonnormality(np.eye(3), matrix="linearisation")
    with pytest.raises(OptionError, match="invalid matrix='W'"):
        dynalysis.nonnormality(sys_, matrix="W")


def test_a_pulse_that_diverges_is_flagged_and_left_out_of_the_profile():
    """h ← W h + h³-like blow-up: the pulse 3·e_0 explodes, 0.1·e_0 decays along the chain."""
    N = 4
    W = torch.as_tensor(chain(N, 0.9))
    sys_ = dynalysis.MapSystem(lambda h, x: h @ W.T + h ** 3, N)
    sys_.recurrent_matrix = lambda: W
    pulses = np.array([[0.1, 0, 0, 0], [3.0, 0, 0, 0]])
    with pytest.warns(dynalysis.DivergenceWarning, match="1 of 2 pulses diverged"):
        ds = dynalysis.nonnormality(sys_, pulse=pulses, motif_steps=20)
    assert ds.diverged.values.tolist() == [0, 1]
    alone = dynalysis.nonnormality(sys_, pulse=pulses[0], motif_steps=20)
    np.testing.assert_array_equal(ds.motif_profile.values, alone.motif_profile.values)


@pytest.mark.parametrize("kwargs", [{"rtol": 0}, {"max_power": -1}, {"motif_steps": 0},
                                    {"pulse_into": "input"}, {"pulse": np.ones(3)}, {"pulse_scale": 0}])
def test_invalid_options_raise(kwargs):
    with pytest.raises(OptionError):
        dynalysis.nonnormality(chain(5, 1.0), **kwargs)


@pytest.mark.parametrize("W", [np.ones((2, 3)), np.array([[np.nan]])])
def test_invalid_matrices_raise(W):
    with pytest.raises(OptionError):
        dynalysis.nonnormality(W)
