"""Memory kernel, Fisher memory curve and memory capacity against closed forms."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import dynalysis
from dynalysis.errors import OptionError
from dynalysis.memory.combined import linearisation, memory_analysis
from dynalysis.models import MODELS, build_model

F64 = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _linear_rnn(N=6, d=2, O=3, seed=0, readout=True, scale=0.9):
    g = _gen(seed)
    A = torch.randn(N, N, generator=g, dtype=F64) * scale / math.sqrt(N)
    B = torch.randn(N, d, generator=g, dtype=F64)
    C = torch.randn(O, N, generator=g, dtype=F64)
    sys_ = dynalysis.MapSystem(lambda h, x: h @ A.T + x @ B.T, N, d,
                               readout=(lambda h: h @ C.T) if readout else None)
    return sys_, A, B, C


def _kernel(C, A, B, L):
    return np.stack([(C @ torch.linalg.matrix_power(A, j) @ B).numpy() for j in range(L + 1)])


# --- memory kernel -------------------------------------------------------------------------
def test_kernel_of_a_linear_rnn_is_C_A_power_j_B():
    sys_, A, B, C = _linear_rnn()
    x = torch.randn(4, 30, 2, generator=_gen(1), dtype=F64)
    ds = dynalysis.memory_kernel(sys_, x, max_lag=12)
    assert ds.kernel.dims == ("lag", "output", "input") and ds.kernel.shape == (13, 3, 2)
    np.testing.assert_allclose(ds.kernel.values, _kernel(C, A, B, 12), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ds.kernel_std.values, 0, atol=1e-12)  # input-independent
    assert ds.attrs["output_is_state"] == 0


def test_kernel_without_readout_is_A_power_j_B_on_the_state():
    sys_, A, B, _ = _linear_rnn(readout=False)
    x = torch.randn(2, 15, 2, generator=_gen(2), dtype=F64)
    ds = dynalysis.memory_kernel(sys_, x, max_lag=14)  # the whole sequence
    np.testing.assert_allclose(ds.kernel.values, _kernel(torch.eye(6, dtype=F64), A, B, 14), atol=1e-10)
    assert ds.attrs["output_is_state"] == 1 and ds.sizes["output"] == 6


@pytest.mark.skipif("linear" not in MODELS, reason="the LinearRNN cell is not registered")
def test_kernel_of_the_linear_rnn_model_is_C_A_power_j_B():
    net = build_model("linear", input_size=2, hidden_size=5, output_size=3, s_A=0.8, seed=0)
    sys_ = dynalysis.ModuleSystem(net)
    ds = dynalysis.memory_kernel(sys_, torch.randn(3, 20, 2, generator=_gen(3)), max_lag=8)
    A, B, C = (p.detach().double() for p in (net.A, net.B, net.C))
    np.testing.assert_allclose(ds.kernel.values, _kernel(C, A, B, 8), atol=1e-10)


def test_kernel_of_a_nonlinear_network_matches_the_full_input_jacobian():
    N, d = 4, 2
    g = _gen(4)
    W = torch.randn(N, N, generator=g, dtype=F64)
    V = torch.randn(N, d, generator=g, dtype=F64)
    C = torch.randn(1, N, generator=g, dtype=F64)
    sys_ = dynalysis.MapSystem(lambda h, x: torch.tanh(h @ W.T + x @ V.T), N, d, readout=lambda h: h @ C.T)
    x = torch.randn(3, 10, d, generator=g, dtype=F64)
    ds = dynalysis.memory_kernel(sys_, x, max_lag=5)

    def y_T(seq):  # one trajectory, all steps differentiable
        h = torch.zeros(1, N, dtype=F64)
        for t in range(seq.shape[0]):
            h = sys_.step(h, seq[t][None])
        return sys_.readout(h)[0]

    per_traj = np.stack([torch.autograd.functional.jacobian(y_T, x[b]).numpy() for b in range(3)])  # (B, O, T, d)
    expected = per_traj[:, :, ::-1][:, :, :6].transpose(0, 2, 1, 3)  # lag j ↔ time T-1-j
    np.testing.assert_allclose(ds.kernel.values, expected.mean(0), atol=1e-12)
    np.testing.assert_allclose(ds.kernel_std.values, expected.std(0), atol=1e-12)


def test_kernel_errors():
    sys_, *_ = _linear_rnn()
    with pytest.raises(OptionError, match="at least"):
        dynalysis.memory_kernel(sys_, torch.zeros(1, 5, 2), max_lag=5)
    with pytest.raises(OptionError, match="input width"):
        dynalysis.memory_kernel(sys_, torch.zeros(1, 20, 3), max_lag=5)
    auto = dynalysis.MapSystem(lambda h, x: h, 2)
    with pytest.raises(OptionError, match="input_size"):
        dynalysis.memory_kernel(auto, torch.zeros(1, 20, 0), max_lag=5)


# --- Fisher memory -------------------------------------------------------------------------
def _chain(N, alpha):
    return np.diag(np.full(N - 1, alpha), -1)


@pytest.mark.parametrize("alpha", [0.9, 1.0, 1.05])
@pytest.mark.parametrize("horizon", [None, 30])
def test_fisher_memory_of_the_chain_matches_the_closed_form(alpha, horizon):
    N = 20
    ds = dynalysis.fisher_memory_curve(_chain(N, alpha), np.eye(N)[0], max_lag=25, horizon=horizon)
    k = np.arange(N)
    exact = 1 / (k + 1) if alpha == 1 else alpha ** (2 * k) * (alpha ** 2 - 1) / (alpha ** (2 * (k + 1)) - 1)
    np.testing.assert_allclose(ds.fisher_memory.values[:N], exact, atol=1e-12)
    np.testing.assert_allclose(ds.fisher_memory.values[N:], 0, atol=1e-12)  # the chain forgets at N
    assert float(ds.fisher_memory_total) == pytest.approx(exact.sum(), abs=1e-10)


def test_fisher_memory_total_of_the_unit_chain_at_N100_is_H100():
    N = 100
    ds = dynalysis.fisher_memory_curve(_chain(N, 1.0), np.eye(N)[0], max_lag=10)
    assert float(ds.fisher_memory_total) == pytest.approx(sum(1 / k for k in range(1, 101)), abs=1e-9)
    assert float(ds.fisher_memory_total) == pytest.approx(5.19, abs=5e-3)


@pytest.mark.parametrize("horizon", [None, 40])
def test_fisher_memory_total_is_one_for_normal_W_and_unit_v(horizon):
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    v = rng.standard_normal(16)
    v /= np.linalg.norm(v)
    W = 0.95 * Q if horizon is None else Q  # stationary needs ρ < 1; a horizon allows ρ = 1
    ds = dynalysis.fisher_memory_curve(W, v, max_lag=5, horizon=horizon)
    assert float(ds.fisher_memory_total) == pytest.approx(1.0, abs=1e-10)


def test_fisher_memory_is_bounded_by_N_for_a_non_normal_W():
    rng = np.random.default_rng(1)
    W = 0.3 * rng.standard_normal((8, 8))
    v = rng.standard_normal(8)
    total = float(dynalysis.fisher_memory_curve(W, v / np.linalg.norm(v), max_lag=3).fisher_memory_total)
    assert 0 < total <= 8


@pytest.mark.parametrize("kwargs, match", [
    ({"W": np.eye(3), "v": np.ones(3)}, "spectral radius"),
    ({"W": np.eye(3) * 0.5, "v": np.ones(2)}, "shape"),
    ({"W": np.ones((2, 3)), "v": np.ones(2)}, "square"),
    ({"W": np.eye(3) * 0.5, "v": np.ones(3), "horizon": 0}, "horizon"),
])
def test_fisher_memory_errors(kwargs, match):
    W, v = kwargs.pop("W"), kwargs.pop("v")
    with pytest.raises(OptionError, match=match):
        dynalysis.fisher_memory_curve(W, v, max_lag=3, **kwargs)


# --- memory capacity -----------------------------------------------------------------------
def _shift_register(N):
    return dynalysis.MapSystem(lambda h, x: torch.cat([x[:, :1], h[:, :-1]], 1), N, 1, name="shift")


@pytest.mark.parametrize("distribution", ["uniform", "gaussian"])
def test_shift_register_recalls_each_lag_below_N_exactly_and_nothing_beyond(distribution):
    N = 8
    ds = dynalysis.memory_capacity(_shift_register(N), max_lag=20, distribution=distribution, seed=3)
    cap = ds.capacity.values
    np.testing.assert_allclose(cap[:N], 1.0, atol=1e-6)
    assert cap[N:].max() < 0.05
    assert float(ds.memory_capacity) == pytest.approx(N, abs=0.3)


def test_linear_network_capacity_is_at_most_N():
    N = 6
    sys_, *_ = _linear_rnn(N=N, d=1, O=1)
    ds = dynalysis.memory_capacity(sys_, max_lag=30, steps=1500)
    assert 1.0 < float(ds.memory_capacity) <= N + 0.3


def test_capacity_uses_the_requested_input_channel():
    # channel 1 feeds the register; channel 0 is ignored by the map
    sys_ = dynalysis.MapSystem(lambda h, x: torch.cat([x[:, 1:2], h[:, :-1]], 1), 3, 2)
    assert float(dynalysis.memory_capacity(sys_, max_lag=5, input_channel=1).memory_capacity) > 2.9
    assert float(dynalysis.memory_capacity(sys_, max_lag=5, input_channel=0).memory_capacity) < 0.2


def test_capacity_of_an_exploding_map_warns():
    sys_ = dynalysis.MapSystem(lambda h, x: 1.5 * h + x, 2, 1)
    with pytest.warns(RuntimeWarning, match="grow without bound"):
        ds = dynalysis.memory_capacity(sys_, max_lag=3, steps=400)
    assert np.isfinite(ds.capacity.values).all()


@pytest.mark.parametrize("kwargs", [{"distribution": "cauchy"}, {"input_channel": 1}, {"ridge": 0.0},
                                    {"train_fraction": 1.0}, {"steps": 1}, {"input_scale": -1.0}])
def test_capacity_invalid_options(kwargs):
    with pytest.raises(OptionError):
        dynalysis.memory_capacity(_shift_register(3), max_lag=4, **kwargs)


# --- the combined "memory" analysis ---------------------------------------------------------
def test_memory_analysis_combines_kernel_capacity_and_fisher_on_one_lag_axis():
    sys_, A, B, C = _linear_rnn(N=5, d=1, O=2, scale=0.5)
    assert float(torch.linalg.eigvals(A).abs().max()) < 1
    x = torch.randn(2, 20, 1, generator=_gen(5), dtype=F64)
    ds = memory_analysis(sys_, x, max_lag=6, seed=1)
    for v in ("kernel", "kernel_norm", "capacity", "memory_capacity", "fisher_memory", "fisher_memory_total"):
        assert v in ds, v
    assert ds.sizes["lag"] == 7 and ds.attrs["analysis"] == "memory"
    np.testing.assert_allclose(ds.kernel.values, _kernel(C, A, B, 6), atol=1e-10)
    # the linearisation of a linear map is (A, B[:, 0]), stationary since ρ(A) < 1
    ref = dynalysis.fisher_memory_curve(A.numpy(), B[:, 0].numpy(), max_lag=6)
    np.testing.assert_allclose(ds.fisher_memory.values, ref.fisher_memory.values, atol=1e-12)
    assert ds.attrs["fisher_horizon"] == "stationary"


def test_linearisation_of_a_tanh_network_at_rest():
    W = torch.tensor([[0.0, 0.5], [0.2, 0.0]], dtype=F64)
    b = torch.tensor([0.3, -0.1], dtype=F64)
    sys_ = dynalysis.MapSystem(lambda h, x: torch.tanh(h @ W.T + 2 * x + b), 2, 1)
    A, v = linearisation(sys_)
    gain = 1 - torch.tanh(b) ** 2
    np.testing.assert_allclose(A, (gain[:, None] * W).numpy(), atol=1e-14)
    np.testing.assert_allclose(v, (2 * gain).numpy(), atol=1e-14)


def test_memory_time_is_the_e_folding_lag_of_a_scalar_linear_map():
    """For h ← λh + x with readout h the kernel is λ^j, so the memory time is −1/ln λ."""
    lam = 0.8
    lin = dynalysis.MapSystem(lambda h, x: lam * h + x, 1, 1, readout=lambda h: h)
    ds = dynalysis.memory_kernel(lin, torch.randn(2, 40, 1, dtype=torch.float64), max_lag=30)
    assert abs(float(ds.memory_time) - (-1 / np.log(lam))) < 1e-9
    short = dynalysis.memory_kernel(lin, torch.randn(2, 40, 1, dtype=torch.float64), max_lag=3)
    assert np.isnan(float(short.memory_time))  # 0.8^3 = 0.51 > 1/e: not decayed within 3 lags
