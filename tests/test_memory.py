"""Memory kernel, Fisher memory curve and memory capacity against closed forms."""
from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch
import xarray as xr

import dynalysis
from dynalysis.errors import DivergenceWarning, NumericalReliabilityWarning, OptionError
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
    with pytest.warns(NumericalReliabilityWarning, match="grow without bound"):
        ds = dynalysis.memory_capacity(sys_, max_lag=3, steps=400)
    assert np.isfinite(ds.capacity.values).all()


@pytest.mark.parametrize("kwargs", [{"distribution": "cauchy"}, {"input_channel": 1}, {"ridge": -1.0},
                                    {"train_fraction": 1.0}, {"steps": 1}, {"input_scale": -1.0},
                                    {"transient": 3}, {"steps": 102}, {"inputs": np.zeros((2, 50, 2))},
                                    {"inputs": np.zeros((1, 300)), "steps": 400},
                                    {"inputs": np.full((1, 300), np.nan)}])
def test_capacity_invalid_options(kwargs):
    option = next(iter(kwargs))
    with pytest.raises(OptionError, match=option if option != "steps" else "steps"):
        dynalysis.memory_capacity(_shift_register(3), max_lag=4, **kwargs) if "transient" not in kwargs else \
            dynalysis.memory_capacity(_shift_register(3), max_lag=5, **kwargs)


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
    assert int(ds.memory_time_censored) == 0
    short = dynalysis.memory_kernel(lin, torch.randn(2, 40, 1, dtype=torch.float64), max_lag=3)
    # 0.8^3 = 0.51 > 1/e: not decayed within 3 lags, so only "at least 3 steps" is known
    assert float(short.memory_time) == 3 and int(short.memory_time_censored) == 1
    assert short.memory_time_censored.attrs["flag_meanings"] == "within_window at_least_window"


@pytest.mark.parametrize("tau, censored", [(49.6, 1), (48.5, 0), (45.0, 0), (60.0, 1)])
def test_a_memory_time_at_the_edge_of_the_window_is_censored(tau, censored):
    """Kernel λ^j with −1/ln λ = τ in a 50-lag window: a crossing inside the last lag (49.6, which
    the demo printed as a memory time) is not evidence that the kernel stays below peak/e."""
    lam = math.exp(-1 / tau)
    lin = dynalysis.MapSystem(lambda h, x: lam * h + x, 1, 1, readout=lambda h: h)
    ds = dynalysis.memory_kernel(lin, torch.randn(1, 60, 1, dtype=torch.float64), max_lag=50)
    assert int(ds.memory_time_censored) == censored
    assert float(ds.memory_time) == pytest.approx(50.0 if censored else tau, abs=1e-9)


def test_kernel_transient_cuts_the_inputs():
    sys_, A, B, C = _linear_rnn()
    x = torch.randn(2, 40, 2, generator=_gen(8), dtype=F64)
    ds = dynalysis.memory_kernel(sys_, x, max_lag=5, transient=10)
    assert json.loads(ds.attrs["options"])["transient"] == 10 and json.loads(ds.attrs["options"])["steps"] == 16
    np.testing.assert_allclose(ds.kernel.values, _kernel(C, A, B, 5), atol=1e-10)
    with pytest.raises(OptionError, match="at least 46"):
        dynalysis.memory_kernel(sys_, x, max_lag=5, transient=40)


def test_kernel_of_diverging_trajectories_is_the_mean_of_the_finite_ones():
    """h ← (0.5 h + x, h₁² + x²): inputs of amplitude 2 blow h₁ up, amplitude 0.1 do not."""
    blow = dynalysis.MapSystem(lambda h, x: torch.stack([0.5 * h[:, 0] + x[:, 0], h[:, 1] ** 2 + x[:, 0] ** 2], 1), 2, 1)
    x = torch.rand(3, 30, 1, generator=_gen(9), dtype=F64) - 0.5
    x[1] *= 8
    with pytest.warns(DivergenceWarning, match="memory_kernel: 1 of 3 trajectories diverged"):
        ds = dynalysis.memory_kernel(blow, x, max_lag=5)
    assert ds.diverged.values.tolist() == [0, 1, 0]
    finite = dynalysis.memory_kernel(blow, x[[0, 2]], max_lag=5)
    np.testing.assert_array_equal(ds.kernel.values, finite.kernel.values)
    np.testing.assert_array_equal(ds.kernel_norm.values, finite.kernel_norm.values)
    with pytest.warns(DivergenceWarning, match="1 of 1"):
        none = dynalysis.memory_kernel(blow, x[[1]], max_lag=5)
    assert np.isnan(none.kernel.values).all() and np.isnan(float(none.memory_time))


# --- memory capacity: preconditions, the default readout, your own signal ----------------
def test_too_many_lags_for_the_steps_is_refused_before_any_work():
    """The issue's case: max_lag=5000, steps=200 returned MC = 76 for a 64-unit network."""
    calls = []
    net = dynalysis.testing.tanh_rnn(64, input_size=1)
    counting = dynalysis.MapSystem(lambda h, x: calls.append(1) or net.step(h, x), 64, 1)
    with pytest.raises(OptionError, match=r"steps \(200\).*transient \(5000\)"):
        dynalysis.memory_capacity(counting, max_lag=5000, steps=200)
    with pytest.raises(OptionError, match=r"max_lag \(900\).*scored steps.*= 900\).*raise steps to at least 1801"):
        dynalysis.memory_capacity(counting, max_lag=900, steps=1800, transient=900)
    with pytest.raises(OptionError, match=r"70 training steps.*65 weights.*at least 130"):
        dynalysis.memory_capacity(counting, max_lag=5, steps=200)
    assert not calls


def test_capacity_above_the_bound_is_never_silent():
    """A 4-unit shift register summed over 300 lags on 210 held-out steps: chance adds ~1.4."""
    with pytest.warns(NumericalReliabilityWarning) as record:
        ds = dynalysis.memory_capacity(_shift_register(4), max_lag=300, steps=1000)
    assert float(ds.memory_capacity) > 4
    messages = " ".join(str(w.message) for w in record)
    assert "exceeds its bound N = 4" in messages and "chance correlation" in messages
    assert float(ds.capacity_chance_level) == pytest.approx(1 / (210 - 1))
    np.testing.assert_allclose(ds.capacity.values[:4], 1.0, atol=1e-9)


def test_few_training_steps_per_weight_warn_that_capacity_is_biased_low():
    with pytest.warns(NumericalReliabilityWarning, match="overfit"):
        dynalysis.memory_capacity(_linear_rnn(N=30, d=1, O=1)[0], max_lag=5, steps=300)


def _orthogonal_reservoir(N=20, rho=0.9, seed=0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((N, N)))
    return dynalysis.testing.linear_map(rho * Q, rng.standard_normal((N, 1)))


def test_shift_register_capacity_is_exactly_N():
    N = 12
    ds = dynalysis.memory_capacity(_shift_register(N), max_lag=N - 1)
    assert float(ds.memory_capacity) == pytest.approx(N, abs=1e-9)


def test_linear_reservoir_capacity_matches_the_exact_value_N():
    """Orthogonal W, ρ = 0.9, N = 20: MC = N exactly (Jaeger 2001; Krylov matrix of full rank).
    The held-out estimate of the total scatters by about 0.05 at 10⁵ scored steps (∝ 1/√steps)."""
    ds = dynalysis.memory_capacity(_orthogonal_reservoir(), max_lag=150, steps=50000, n_trajectories=8)
    assert float(ds.memory_capacity) == pytest.approx(20, abs=0.05)


@pytest.mark.slow
def test_least_squares_keeps_the_far_lags_a_relative_ridge_removes():
    """A Gaussian reservoir (N = 20, ρ = 0.9) stores its far lags in state directions of tiny
    variance: the former default relative ridge 1e-8 loses about 2 of its exact capacity 20."""
    rng = np.random.default_rng(0)
    W = rng.standard_normal((20, 20))
    gauss = dynalysis.testing.linear_map(0.9 * W / np.abs(np.linalg.eigvals(W)).max(), rng.standard_normal((20, 1)))
    kw = dict(max_lag=150, steps=50000, n_trajectories=8)
    assert float(dynalysis.memory_capacity(gauss, **kw).memory_capacity) == pytest.approx(20, abs=0.05)
    assert float(dynalysis.memory_capacity(gauss, ridge=1e-8, **kw).memory_capacity) < 18.5


def test_your_own_signal_gives_the_least_squares_capacity_of_that_signal():
    sys_ = _orthogonal_reservoir(N=6, rho=0.8, seed=1)
    s = np.random.default_rng(5).standard_normal((2, 1200))
    ds = dynalysis.memory_capacity(sys_, max_lag=10, inputs=s, transient=50)
    same = dynalysis.memory_capacity(sys_, max_lag=10, inputs=torch.as_tensor(s)[..., None], transient=50)
    np.testing.assert_array_equal(ds.capacity.values, same.capacity.values)
    options = json.loads(ds.attrs["options"])
    assert options["signal"] == "given" and options["steps"] == 1200 and options["n_trajectories"] == 2
    # reference: numpy least squares with a bias column on the same states, fitted and scored per lag
    H = dynalysis._core.trajectory.run_states(sys_, torch.as_tensor(s)[..., None], torch.zeros(2, 6, dtype=F64)).numpy()
    n_train = round(0.7 * 1150)
    expected = []
    for k in range(11):
        X, y = H[:, 50:], s[:, 50 - k:1200 - k]
        Z = np.concatenate([X, np.ones(X.shape[:2] + (1,))], -1)
        w, *_ = np.linalg.lstsq(Z[:, :n_train].reshape(-1, 7), y[:, :n_train].ravel(), rcond=None)
        pred, target = Z[:, n_train:].reshape(-1, 7) @ w, y[:, n_train:].ravel()
        expected.append(np.corrcoef(pred, target)[0, 1] ** 2)
    np.testing.assert_allclose(ds.capacity.values, expected, atol=1e-9)


def test_washout_is_the_former_name_of_transient():
    with pytest.warns(DeprecationWarning, match="washout= is renamed transient="):
        old = dynalysis.memory_capacity(_shift_register(3), max_lag=4, washout=150)
    new = dynalysis.memory_capacity(_shift_register(3), max_lag=4, transient=150)
    xr.testing.assert_equal(old, new)
    assert json.loads(new.attrs["options"])["transient"] == 150
    with pytest.raises(OptionError, match="not both"):
        dynalysis.memory_capacity(_shift_register(3), max_lag=4, washout=150, transient=150)


def test_capacity_of_diverging_trajectories_uses_the_finite_ones():
    blow = dynalysis.MapSystem(lambda h, x: torch.stack([0.5 * h[:, 0] + x[:, 0], h[:, 1] ** 2 + x[:, 0] ** 2], 1), 2, 1)
    s = np.random.default_rng(1).uniform(-0.1, 0.1, (2, 800))
    s[1] *= 40
    with pytest.warns(DivergenceWarning, match="memory_capacity: 1 of 2 trajectories diverged"):
        ds = dynalysis.memory_capacity(blow, max_lag=4, inputs=s)
    assert ds.diverged.values.tolist() == [0, 1]
    alone = dynalysis.memory_capacity(blow, max_lag=4, inputs=s[:1])
    np.testing.assert_array_equal(ds.capacity.values, alone.capacity.values)
    with pytest.warns(DivergenceWarning):
        none = dynalysis.memory_capacity(blow, max_lag=4, inputs=s[1:])
    assert np.isnan(none.capacity.values).all() and np.isnan(float(none.memory_capacity))


@pytest.mark.parametrize("make, kw", [
    (lambda: _orthogonal_reservoir(N=6, rho=0.8, seed=1), dict(max_lag=12, steps=1500, n_trajectories=2)),
    (lambda: dynalysis.MapSystem(lambda h, x: 1.5 * h + x, 2, 1), dict(max_lag=3, steps=400)),  # peak grows
], ids=["reservoir", "exploding"])
def test_the_streamed_readout_does_not_depend_on_the_chunks(monkeypatch, make, kw):
    """The QR update is exact: 7-step chunks (rows split across train/held-out boundaries, the
    running peak rescaled at every chunk of a growing state) give the one-chunk answer."""
    from dynalysis.memory import capacity

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exploding map says so
        monkeypatch.setattr(capacity, "_ROWS_PER_CHUNK", 10**9)
        whole = dynalysis.memory_capacity(make(), **kw).capacity.values
        monkeypatch.setattr(capacity, "_ROWS_PER_CHUNK", 1)
        monkeypatch.setattr(capacity, "_TARGET_ELEMENTS", 7 * kw.get("n_trajectories", 1) * (kw["max_lag"] + 1))
        chunked = dynalysis.memory_capacity(make(), **kw).capacity.values
    assert whole.max() > 1e-3  # not a vacuous comparison of zeros
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-12)
