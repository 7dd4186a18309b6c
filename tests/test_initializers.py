"""Initializers: each definition's mathematics (docs/science.md §1–§3), checked in closed form."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from dynalysis.errors import OptionError
from dynalysis.models import initializers as I

f64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def henrici(W) -> float:
    """Departure from normality: Frobenius norm of the strictly upper part of the Schur form."""
    T, _ = scipy.linalg.schur(np.asarray(W, dtype=complex), output="complex")
    return float(np.linalg.norm(np.triu(T, 1)))


def eig(W) -> np.ndarray:
    return np.linalg.eigvals(np.asarray(W, dtype=float))


# --- eigen initializer (Dou & Principe) ---------------------------------------------------
@pytest.mark.parametrize("normal", [True, False])
@pytest.mark.parametrize("radius_distribution", ["uniform", "area"])
@pytest.mark.parametrize("n", [12, 13])
def test_eigen_eigenvalues_in_annulus_and_phase_range(normal, radius_distribution, n):
    r_min, r_max, th_min, th_max = 0.6, 0.8, 0.3, 1.2
    W = I.eigen(n, r_min=r_min, r_max=r_max, theta_min=th_min, theta_max=th_max, normal=normal,
                radius_distribution=radius_distribution, generator=gen(1), dtype=f64)
    lam = eig(W)
    assert np.all(np.abs(lam) >= r_min - 1e-9) and np.all(np.abs(lam) <= r_max + 1e-9)
    phases = np.sort(np.abs(np.angle(lam)))
    if n % 2:  # odd N: one real positive eigenvalue (documented)
        assert phases[0] < 1e-9
        phases = phases[1:]
    assert np.all(phases >= th_min - 1e-9) and np.all(phases <= th_max + 1e-9)
    # conjugate pairs: each phase appears twice
    np.testing.assert_allclose(phases[0::2], phases[1::2], atol=1e-8)


def test_eigen_normal_vs_non_normal():
    Wn = I.eigen(10, generator=gen(2), dtype=f64)
    np.testing.assert_allclose(Wn @ Wn.T, Wn.T @ Wn, atol=1e-12)  # normal matrix
    assert henrici(Wn) < 1e-10
    Wp = I.eigen(10, normal=False, generator=gen(2), dtype=f64)
    assert henrici(Wp) > 0.1  # same kind of spectrum, clearly non-normal


def test_eigen_linspace_phases_are_exact():
    theta = np.linspace(0.2, 2.0, 4)
    W = I.eigen(8, r_min=0.95, r_max=0.95, theta_min=0.2, theta_max=2.0,
                phase_distribution="linspace", generator=gen(3), dtype=f64)
    lam = eig(W)
    np.testing.assert_allclose(np.abs(lam), 0.95, atol=1e-12)
    np.testing.assert_allclose(np.sort(np.abs(np.angle(lam)))[::2], theta, atol=1e-10)


@pytest.mark.parametrize("bad", [dict(r_min=1.0, r_max=0.9), dict(theta_max=4.0),
                                 dict(r_min=-0.1), dict(radius_distribution="x")])
def test_eigen_rejects_invalid_ranges(bad):
    with pytest.raises(OptionError):
        I.eigen(6, **bad)


# --- classic initializers ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-6)])
def test_orthogonal_is_orthogonal(dtype, tol):
    gain = 0.7
    W = I.orthogonal(16, gain=gain, generator=gen(), dtype=dtype).double()
    torch.testing.assert_close(W @ W.T / gain ** 2, torch.eye(16, dtype=f64), atol=tol, rtol=0)
    np.testing.assert_allclose(np.abs(eig(W)), gain, atol=1e-6)


def test_np_rnn_largest_eigenvalue_is_one():
    W = I.np_rnn(20, generator=gen(), dtype=f64)
    torch.testing.assert_close(W, W.T)
    lam = np.linalg.eigvalsh(W.numpy())
    assert abs(lam[-1] - 1.0) < 1e-12
    assert lam[0] > 0


def test_identity_is_scaled_identity():
    torch.testing.assert_close(I.identity(5, scale=0.9), 0.9 * torch.eye(5))


def test_xavier_and_kaiming_variances():
    rows, cols = 300, 200
    W = I.xavier(rows, cols, gain=2.0, generator=gen(), dtype=f64)
    a = 2.0 * math.sqrt(6.0 / (rows + cols))
    assert W.abs().max() <= a
    assert W.var().item() == pytest.approx(4.0 * 2.0 / (rows + cols), rel=0.03)
    Wn = I.xavier(rows, cols, distribution="normal", generator=gen(), dtype=f64)
    assert Wn.var().item() == pytest.approx(2.0 / (rows + cols), rel=0.03)
    K = I.kaiming(rows, cols, nonlinearity="relu", generator=gen(), dtype=f64)
    assert K.var().item() == pytest.approx(2.0 / cols, rel=0.03)
    Ko = I.kaiming(rows, cols, nonlinearity="tanh", mode="fan_out", distribution="uniform",
                   generator=gen(), dtype=f64)
    assert Ko.var().item() == pytest.approx((5 / 3) ** 2 / rows, rel=0.03)


@pytest.mark.parametrize("fan,expected", [("in", 0.9 ** 2 / 200), ("out", 0.9 ** 2 / 300),
                                          ("none", 0.9 ** 2)])
def test_normal_fan_scaling(fan, expected):
    W = I.normal(300, 200, gain=0.9, fan=fan, generator=gen(), dtype=f64)
    assert W.var().item() == pytest.approx(expected, rel=0.03)
    assert abs(W.mean().item()) < 0.01 * math.sqrt(expected) * 10


def test_uniform_default_bound_is_torch_rnn_default():
    W = I.uniform(16, 40, generator=gen(), dtype=f64)
    assert W.abs().max() <= 1 / math.sqrt(16)
    assert W.abs().max() > 0.9 / math.sqrt(16)


def test_same_generator_seed_same_matrix():
    for fn in (I.eigen, I.orthogonal, I.np_rnn, I.normal, I.xavier):
        torch.testing.assert_close(fn(6, generator=gen(5)), fn(6, generator=gen(5)))


# --- chains and the source input (Orhan & Pitkow) ------------------------------------------
@pytest.mark.parametrize("alpha", [0.99, 1.0, 1.05])
def test_chain_henrici_and_nilpotency(alpha):
    N = 10
    W = I.chain(N, alpha=alpha, dtype=f64)
    assert henrici(W) == pytest.approx(alpha * math.sqrt(N - 1), rel=1e-6)
    assert torch.linalg.matrix_power(W, N).abs().max() == 0
    assert torch.linalg.matrix_power(W, N - 1)[N - 1, 0] == pytest.approx(alpha ** (N - 1))


@pytest.mark.parametrize("beta", [0.01, 0.04, 0.07])
def test_chain_feedback_henrici_and_spectrum(beta):
    N, alpha = 20, 0.99
    W = I.chain_feedback(N, alpha=alpha, beta=beta, dtype=f64)
    d_exact = math.sqrt(N - 1) * abs(alpha - beta)
    if beta >= 0.04:  # Schur-based d is itself ill-conditioned for smaller β (docs/science.md §3)
        assert henrici(W) == pytest.approx(d_exact, rel=1e-6)
    # D W D⁻¹ with D = diag((β/α)^{i/2}) is symmetric tridiagonal with off-diagonals √(αβ):
    # its (well-conditioned) spectrum is 2√(αβ) cos(kπ/(N+1)); W's own eigenvalues are not
    # (docs/science.md: ill-conditioned for non-normal W)
    d = (beta / alpha) ** (torch.arange(N, dtype=f64) / 2)
    S = d[:, None] * W / d[None, :]
    torch.testing.assert_close(S, S.T, rtol=1e-12, atol=0)
    k = np.arange(1, N + 1)
    expected = np.sort(2 * math.sqrt(alpha * beta) * np.cos(k * math.pi / (N + 1)))
    lam = np.linalg.eigvalsh(S.numpy())
    np.testing.assert_allclose(lam, expected, atol=1e-12)
    # Henrici from the exact spectrum: ‖W‖_F² − Σ|λ|² = (N−1)(α−β)²
    assert math.sqrt(torch.sum(W ** 2).item() - np.sum(lam ** 2)) == pytest.approx(d_exact, rel=1e-10)


def test_pulse_enters_source_and_reaches_sink_after_n_minus_1_steps():
    N, d = 8, 3
    W, V = I.chain(N, dtype=f64), I.source_input(N, d, dtype=f64)
    h = V @ torch.tensor([1.0, 0.0, 0.0], dtype=f64)  # pulse on input channel 0
    assert torch.nonzero(h).flatten().tolist() == [0]
    for k in range(1, N):
        h = W @ h
        assert torch.nonzero(h).flatten().tolist() == [k]  # travels one unit per step
    assert h[N - 1] == pytest.approx(0.9)
    assert (W @ h).abs().max() == 0  # and leaves the chain at the sink
    # the transposed (sink-fed) orientation would never propagate
    assert (W.T @ (V @ torch.tensor([1.0, 0.0, 0.0], dtype=f64))).abs().max() == 0


def test_source_input_maps_channel_k_to_unit_k():
    V = I.source_input(4, 6, scale=0.5)
    torch.testing.assert_close(V, 0.5 * torch.eye(4, 6))


def test_antisymmetric_ramp():
    N, c = 6, 0.01
    W = I.antisymmetric_ramp(N, scale=c, dtype=f64)
    torch.testing.assert_close(W, -W.T)
    assert W[0, N - 1] == pytest.approx(c) and W[N - 1, 0] == pytest.approx(-c)
    assert W[1, 3] == pytest.approx(c * 2 / (N - 1))


@pytest.mark.parametrize("cell,gates", [("lstm", 4), ("gru", 3)])
def test_mixed_puts_chain_on_candidate_and_ramp_on_gates(cell, gates):
    N = 5
    W = I.mixed(N, cell=cell, alpha=1.0, ramp_scale=0.02, dtype=f64)
    blocks = W.chunk(gates, 0)
    assert W.shape == (gates * N, N)
    for k, B in enumerate(blocks):
        expected = I.chain(N, dtype=f64) if k == 2 else I.antisymmetric_ramp(N, scale=0.02, dtype=f64)
        torch.testing.assert_close(B, expected)


# --- residual matrices (Dubinin & Effenberger) ---------------------------------------------
@pytest.mark.parametrize("n", [6, 7])
def test_rotational_eigenvalues(n):
    thetas = [0.3, 1.1, 2.5]
    R = I.rotational(n, scale=0.95, frequencies=thetas, dtype=f64)
    lam = eig(R)
    expected = [0.95 * np.exp(s * 1j * t) for t in thetas for s in (1, -1)]
    if n % 2:
        expected.append(0.95)  # trailing 1x1 block
    np.testing.assert_allclose(np.sort_complex(lam), np.sort_complex(np.array(expected)), atol=1e-12)
    np.testing.assert_allclose(R @ R.T, 0.95 ** 2 * np.eye(n), atol=1e-12)


def test_rotational_frequency_forms():
    single = I.rotational(4, frequencies=2 * math.pi / 8, dtype=f64)
    np.testing.assert_allclose(np.abs(np.angle(eig(single))), 2 * math.pi / 8, atol=1e-12)
    drawn = I.rotational(40, frequencies="uniform", generator=gen(), dtype=f64)
    phases = np.abs(np.angle(eig(drawn)))
    assert phases.min() >= 0 and phases.max() <= math.pi + 1e-12 and phases.std() > 0.5
    with pytest.raises(OptionError, match="frequencies"):
        I.rotational(6, frequencies=[0.1, 0.2])
    with pytest.raises(OptionError, match="frequencies"):
        I.rotational(6, frequencies="gaussian")


def test_heterogeneous_scales_from_range_and_memory_times():
    lam = I.heterogeneous_scales(500, scale_range=[0.5, 0.9], generator=gen(), dtype=f64)
    assert lam.min() >= 0.5 and lam.max() <= 0.9 and lam.max() - lam.min() > 0.35
    lam = I.heterogeneous_scales(500, memory_time_range=[2.0, 50.0], generator=gen(), dtype=f64)
    tau = -1 / torch.log(lam)
    assert tau.min() >= 2.0 - 1e-9 and tau.max() <= 50.0 + 1e-9 and tau.max() - tau.min() > 40
    with pytest.raises(OptionError, match="not both"):
        I.heterogeneous_scales(4, scale_range=[0.5, 0.9], memory_time_range=[1, 2])
    with pytest.raises(OptionError, match="memory_time_range"):
        I.heterogeneous_scales(4, memory_time_range=[0.0, 2.0])


def test_residual_matrix_kinds_and_option_checks():
    torch.testing.assert_close(I.residual_matrix(4, "identity", residual_scale=0.8), 0.8 * torch.eye(4))
    R = I.residual_matrix(5, "heterogeneous", scale_range=[0.2, 0.3], generator=gen())
    torch.testing.assert_close(R, torch.diag(torch.diagonal(R)))
    with pytest.raises(OptionError, match="frequencies"):
        I.residual_matrix(4, "identity", frequencies=0.3)
    with pytest.raises(OptionError, match="residual_scale"):
        I.residual_matrix(4, "heterogeneous", residual_scale=0.5)
    with pytest.raises(OptionError, match="residual"):
        I.residual_matrix(4, "nonlinear")


def test_wcrnn_init_is_residual_plus_epsilon_gaussian():
    N = 200
    opts = dict(residual="rotational", residual_scale=0.9, frequencies=0.4)
    R = I.residual_matrix(N, **opts, dtype=f64)
    W1 = I.wcrnn(N, epsilon=0.1, generator=gen(7), dtype=f64, **opts)
    W2 = I.wcrnn(N, epsilon=0.01, generator=gen(7), dtype=f64, **opts)
    torch.testing.assert_close((W1 - R) / 0.1, (W2 - R) / 0.01)  # same W_0, scaled by ε
    W0 = (W1 - R) / 0.1
    assert W0.var().item() == pytest.approx(1.0 / N, rel=0.03)


# --- the registry used by the cells' options ---------------------------------------------------
def test_registry_builds_by_name_and_rejects_unknown_options():
    W = I.recurrent_init("chain_feedback", 5, {"alpha": 1.0, "beta": 0.1}, dtype=f64)
    torch.testing.assert_close(W, I.chain_feedback(5, alpha=1.0, beta=0.1, dtype=f64))
    V = I.input_init("source", 5, 2, {"scale": 0.9}, dtype=f64)
    torch.testing.assert_close(V, I.source_input(5, 2, dtype=f64))
    with pytest.raises(OptionError, match="allowed options: r_min"):
        I.recurrent_init("eigen", 5, {"radius": 0.9})
    with pytest.raises(OptionError, match="allowed values"):
        I.recurrent_init("glorot", 5)
    with pytest.raises(OptionError, match="allowed values"):
        I.input_init("chain", 5, 2)
