"""Correctness of the Lyapunov engine's speed options and fast paths (no timing here).

Theory used (docs/science.md §5): the QR method is exact in exact arithmetic whatever the QR
schedule, because ``J_k⋯J_1 Q_0 = Q_k R_k⋯R_1`` and ``diag(R_k⋯R_1) = Π diag R_i``. Skipping
QRs (``reortho_every = k``) therefore changes the result only by round-off amplified by the
conditioning of the ``k``-step product, ``u·e^{k(λ_1 − λ_min)}``. Householder QR's first
``m`` columns depend only on the first ``m`` columns, so fewer exponents reproduce the
leading ones.
"""
from __future__ import annotations

import json
import math
import time
import warnings

import numpy as np
import pytest
import torch

import dynalysis
from dynalysis import MapSystem, ModuleSystem
from dynalysis.errors import OptionError
from dynalysis.system import jacobian_reverse
from dynalysis.models import build_model

F64 = torch.float64


def linear_map(moduli, seed=0):
    """``h ← A h``, ``A = U diag(moduli) Uᵀ`` (random rotation U): exponents ``ln|moduli|``."""
    g = torch.Generator().manual_seed(seed)
    U = torch.linalg.qr(torch.randn(len(moduli), len(moduli), generator=g, dtype=F64)).Q
    A = U @ torch.diag(torch.tensor(moduli, dtype=F64)) @ U.T
    return (MapSystem(lambda h, x: h @ A.T.to(h.dtype), len(moduli), name="linear"),
            np.log(np.abs(moduli)))


def henon():
    return MapSystem(lambda h, x: torch.stack([1 - 1.4 * h[:, 0] ** 2 + h[:, 1], 0.3 * h[:, 0]], 1), 2)


def wcrnn(N=8, eps=0.2):
    return ModuleSystem(build_model("wcrnn", input_size=1, hidden_size=N, epsilon=eps, seed=0))


def drive(B, T, seed=1):
    return torch.randn(B, T, 1, generator=torch.Generator().manual_seed(seed), dtype=F64)


# --- reortho_every ----------------------------------------------------------------------------
@pytest.mark.parametrize("k", [2, 5, 7])
def test_reortho_every_k_matches_every_step_on_a_linear_map(k):
    system, exact = linear_map([1.2, 0.9, -0.5, 0.3])
    x = dynalysis.zero_inputs(system, 2, 400)
    # transient 150: the frame aligns as (0.9/1.2)^150 ≈ 1e-19, so no O(1/T) warm-up error
    every = dynalysis.lyapunov_spectrum(system, x, transient=150).exponent.values
    skip = dynalysis.lyapunov_spectrum(system, x, transient=150, reortho_every=k).exponent.values
    # spread ln(1.2/0.3) = 1.39 per step: u·e^{7·1.39} ≈ 4e-12, so both are exact to round-off
    np.testing.assert_allclose(skip, every, atol=1e-9)
    np.testing.assert_allclose(every, np.sort(exact)[::-1], atol=1e-9)


@pytest.mark.parametrize("k", [3, 10])
def test_reortho_every_k_matches_every_step_on_a_wcrnn(k):
    system = wcrnn()
    x = drive(2, 300)
    every = dynalysis.lyapunov_spectrum(system, x, transient=50).exponent.values
    skip = dynalysis.lyapunov_spectrum(system, x, transient=50, reortho_every=k).exponent.values
    assert every.max() - every.min() < 1.0  # well conditioned: u·e^{10·1} ≈ 5e-12
    np.testing.assert_allclose(skip, every, atol=1e-3)
    np.testing.assert_allclose(skip, every, atol=1e-9)  # and in fact to round-off


def test_reortho_every_keeps_the_henon_sum_ln_b():
    system = henon()
    x = dynalysis.zero_inputs(system, 2, 3000)
    ds = dynalysis.lyapunov_spectrum(system, x, initial_state=torch.tensor([0.1, 0.1]),
                                     reortho_every=4)
    assert float(ds.exponent_sum) == pytest.approx(math.log(0.3), abs=1e-9)  # det J = −b
    np.testing.assert_allclose(ds.exponent.values, [0.4192, -1.6232], atol=2e-2)


# --- n_exponents < N ---------------------------------------------------------------------------
def test_fewer_exponents_are_the_leading_part_of_the_full_spectrum():
    system, exact = linear_map([1.1, 0.8, 0.6, -0.4, 0.2, 0.1])
    x = dynalysis.zero_inputs(system, 3, 300)
    full = dynalysis.lyapunov_spectrum(system, x, transient=150)
    for n in (1, 2, 4):
        part = dynalysis.lyapunov_spectrum(system, x, transient=150, n_exponents=n)
        np.testing.assert_allclose(part.exponent.values, full.exponent.values[:n], atol=1e-12)
        np.testing.assert_allclose(part.exponent.values, np.log([1.1, 0.8, 0.6, 0.4])[:n], atol=1e-9)


def test_fewer_exponents_follow_the_same_frame_columns_on_a_wcrnn():
    system, x = wcrnn(N=10), drive(2, 200)
    full = dynalysis.lyapunov_spectrum(system, x, transient=20, trace_points=13)
    part = dynalysis.lyapunov_spectrum(system, x, transient=20, trace_points=13, n_exponents=3)
    # the convergence trace is by frame column: the first 3 columns evolve identically
    np.testing.assert_allclose(part.convergence.values, full.convergence.values[:, :3], atol=1e-12)


# --- float32 vs float64 ------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: linear_map([1.1, 0.7, -0.4, 0.2])[0],
    lambda: ModuleSystem(build_model("wcrnn", input_size=1, hidden_size=6, epsilon=0.05, seed=0,
                                     residual="heterogeneous", scale_range=[0.4, 1.0]))],
    ids=["linear", "wcrnn-heterogeneous"])
def test_float32_every_step_agrees_with_float64_when_exponents_are_separated(make):
    # every-step QR: float32 round-off (u32 ≈ 6e-8) enters each ln|R_ii| once, unamplified.
    # (Nearly degenerate exponents are another matter: round-off then rotates the frame
    # inside the degenerate subspace and changes the finite-time split, not the sum.)
    system = make()
    x = drive(2, 300) if system.input_size else dynalysis.zero_inputs(system, 2, 300)
    lam64 = dynalysis.lyapunov_spectrum(system, x, transient=50).exponent.values
    lam32 = dynalysis.lyapunov_spectrum(system, x, transient=50, dtype="float32").exponent.values
    np.testing.assert_allclose(lam32, lam64, atol=1e-5)


def test_float32_with_sparse_reorthonormalisation_loses_the_tail_float64_does_not():
    # A = [[1, 1], [0, e^-2]]: exponents 0 and -2. A is non-normal, so the second frame
    # column (⟂ e_1) is pushed back towards e_1 every step: after k = 12 steps its component
    # ⟂ e_1 is e^{-24} ≈ 4e-11 of its length — below float32 round-off (6e-8), far above
    # float64's (1e-16). (For a normal map the frame aligns with invariant eigenvectors and
    # nothing is lost; the pitfall needs mixing, as in trained networks.) Rotated by 45° so
    # that the lost component is a difference of O(1) coordinates, not a coordinate itself.
    c = math.sqrt(0.5)
    U = torch.tensor([[c, -c], [c, c]], dtype=F64)
    A = U @ torch.tensor([[1.0, 1.0], [0.0, math.exp(-2.0)]], dtype=F64) @ U.T
    system = MapSystem(lambda h, x: h @ A.T.to(h.dtype), 2)
    exact = np.array([0.0, -2.0])
    # 2 000 averaged steps and 10 trace points: the QRs every trace step and confidence block
    # (32 steps) add few; most blocks are 12 steps long
    x = dynalysis.zero_inputs(system, 2, 2100)
    kw = dict(reortho_every=12, trace_points=10)
    lam64 = dynalysis.lyapunov_spectrum(system, x, **kw).exponent.values
    lam32 = dynalysis.lyapunov_spectrum(system, x, dtype="float32", **kw).exponent.values
    np.testing.assert_allclose(lam64, exact, atol=1e-6)
    assert abs(lam32[0] - exact[0]) < 1e-3  # the leading exponent survives
    assert abs(lam32[1] - exact[1]) > 0.1  # the tail is swamped by round-off of the leading direction


# --- streaming: bounded trace ------------------------------------------------------------------
@pytest.mark.parametrize("reortho_every", [1, 3])
@pytest.mark.parametrize("method", ["tangent", "jacobian"])
def test_convergence_trace_is_bounded_and_ends_at_the_estimate(reortho_every, method):
    system, exact = linear_map([0.9, 0.5])
    x = dynalysis.zero_inputs(system, 2, 2010)
    ds = dynalysis.lyapunov_spectrum(system, x, transient=10, trace_points=7, method=method,
                                     reortho_every=reortho_every)
    steps = ds.step.values
    assert 2 <= len(steps) <= 8
    assert steps[-1] == 2000 and np.all(np.diff(steps) > 0)
    np.testing.assert_allclose(ds.convergence.values[-1], ds.exponent.values, atol=1e-12)


# --- the two ways to get J·Q, and the default tangent_step -------------------------------------
@pytest.mark.parametrize("make", [henon, lambda: wcrnn(N=6)], ids=["henon", "wcrnn"])
def test_tangent_and_jacobian_methods_agree(make):
    system = make()
    x = dynalysis.zero_inputs(system, 2, 300) if system.input_size == 0 else drive(2, 300)
    h0 = torch.tensor([0.1, 0.1]) if system.state_size == 2 else None
    a = dynalysis.lyapunov_spectrum(system, x, method="tangent", initial_state=h0)
    b = dynalysis.lyapunov_spectrum(system, x, method="jacobian", initial_state=h0)
    np.testing.assert_allclose(a.exponent.values, b.exponent.values, atol=1e-12)
    assert a.attrs["options"] != b.attrs["options"] and '"method": "jacobian"' in b.attrs["options"]


@pytest.mark.parametrize("S", [3, 70])  # reverse-mode full J below 65, vmap(jvp) columns above
def test_default_tangent_step_matches_jacrev(S):
    g = torch.Generator().manual_seed(0)
    W = torch.randn(S, S, generator=g, dtype=F64) / math.sqrt(S)
    system = MapSystem(lambda h, x: 0.5 * h + torch.tanh(h @ W.T + x) ** 2, S, 1)
    h = torch.randn(3, S, generator=g, dtype=F64)
    x = torch.randn(3, 1, generator=g, dtype=F64)
    Q = torch.randn(3, S, 4, generator=g, dtype=F64)
    nxt, JQ = system.tangent_step(h, x, Q)
    J = torch.stack([torch.func.jacrev(lambda s: system.step(s[None], x[b:b + 1])[0])(h[b])
                     for b in range(3)])
    torch.testing.assert_close(nxt, system.step(h, x), rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(JQ, J @ Q, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(system.jacobian(h, x), J, rtol=1e-12, atol=1e-12)


def test_jacobian_reverse_refuses_a_map_that_leaves_torch():
    """A detached output used to give J = 0 (λ = −∞, "stable" fixed points); now one clear line."""
    with pytest.raises(dynalysis.StepMapError, match="does not depend on the state through torch"):
        jacobian_reverse(lambda h, x: torch.ones_like(h).detach(), torch.zeros(2, 3), torch.zeros(2, 0))


def test_invalid_method_names_the_allowed_values():
    system = henon()
    with pytest.raises(OptionError, match="method.*'auto', 'tangent', 'jacobian'"):
        dynalysis.lyapunov_spectrum(system, dynalysis.zero_inputs(system, 1, 10), transient=1,
                                    method="svd")


def test_geqrf_and_linalg_qr_paths_give_the_same_spectrum(monkeypatch):
    import dynalysis.lyapunov.qr as engine

    system, x = wcrnn(N=40, eps=0.3), drive(2, 60)
    fast = dynalysis.lyapunov_spectrum(system, x, transient=10).exponent.values
    monkeypatch.setattr(engine, "_GEQRF_MIN_STATE", 10**9)  # force torch.linalg.qr
    plain = dynalysis.lyapunov_spectrum(system, x, transient=10).exponent.values
    np.testing.assert_allclose(fast, plain, atol=1e-13)


# --- reortho_every="auto" ---------------------------------------------------------------------
def test_auto_schedule_follows_the_spread_and_stays_exact_on_a_linear_map():
    # spread ln(1.2/0.3) = 1.386 per step; "auto" aims at half of ln(u^-1/2) = 9.2 per block:
    # blocks of int(9.2/1.386) = 6 steps, each with condition e^{6·1.386} ≈ 4e3
    # (2 050 averaged steps, 5 trace points: the QRs forced at the 64-step confidence blocks
    # cut one block in 11 short, 60 + 4 steps)
    system, exact = linear_map([1.2, 0.9, -0.5, 0.3])
    x = dynalysis.zero_inputs(system, 2, 2200)
    ds = dynalysis.lyapunov_spectrum(system, x, transient=150, reortho_every="auto", trace_points=5)
    np.testing.assert_allclose(ds.exponent.values, np.sort(exact)[::-1], atol=1e-9)
    assert 5.5 <= float(ds.mean_reortho_interval) <= 6.0
    assert float(ds.max_log_condition) == pytest.approx(6 * math.log(4.0), abs=1e-6)
    assert json.loads(ds.attrs["options"])["reortho_every"] == "auto"


@pytest.mark.parametrize("k", [1, 5])
def test_max_log_condition_is_the_block_spread(k):
    system, _ = linear_map([1.2, 0.9, -0.5, 0.3])
    ds = dynalysis.lyapunov_spectrum(system, dynalysis.zero_inputs(system, 2, 2200), transient=150,
                                     reortho_every=k, trace_points=5)
    assert float(ds.max_log_condition) == pytest.approx(k * math.log(4.0), abs=1e-6)
    # QRs at the multiples of k and, after the transient, at every trace step (every 512 = 2^9
    # >= 2050/5 steps), every confidence block (64) and the last step
    qr_steps = ({t for t in range(151, 2201) if t % k == 0} | set(range(150 + 64, 2201, 64))
                | set(range(150 + 512, 2201, 512)) | {2200})
    assert float(ds.mean_reortho_interval) == pytest.approx(2050 / len(qr_steps), rel=1e-12)


def test_auto_schedule_takes_long_blocks_on_a_near_isometry_and_matches_every_step():
    system = wcrnn(N=16, eps=0.05)
    x = drive(2, 2100)
    every = dynalysis.lyapunov_spectrum(system, x, transient=50, reortho_every=1, trace_points=5)
    auto = dynalysis.lyapunov_spectrum(system, x, transient=50, reortho_every="auto", trace_points=5)
    np.testing.assert_allclose(auto.exponent.values, every.exponent.values, atol=1e-12)
    assert float(auto.mean_reortho_interval) > 12  # the cap is 16 steps (and the last block)
    assert float(every.mean_reortho_interval) == 1.0


def test_auto_schedule_reorthonormalises_every_step_when_one_step_already_spreads_too_far():
    # moduli 1 and e^-12: one step's condition e^12 exceeds the 9.2 aim, so k = 1
    system, exact = linear_map([1.0, math.exp(-12.0)])
    ds = dynalysis.lyapunov_spectrum(system, dynalysis.zero_inputs(system, 2, 200), transient=20,
                                     reortho_every="auto")
    assert float(ds.mean_reortho_interval) == 1.0
    np.testing.assert_allclose(ds.exponent.values, exact, atol=1e-9)


def test_auto_schedule_keeps_the_float32_tail_that_a_fixed_k_loses():
    # the non-normal map of the float32 test above (exponents 0, -2; k = 12 loses the tail in
    # float32). "auto" aims at ln(u^-1/2)/2 per block: 9.2 in float64 → blocks of 4 steps,
    # 3.99 in float32 → every step; both keep the tail
    c = math.sqrt(0.5)
    U = torch.tensor([[c, -c], [c, c]], dtype=F64)
    A = U @ torch.tensor([[1.0, 1.0], [0.0, math.exp(-2.0)]], dtype=F64) @ U.T
    system = MapSystem(lambda h, x: h @ A.T.to(h.dtype), 2)
    x = dynalysis.zero_inputs(system, 2, 2100)  # 2 000 averaged steps: blocks of 32, trace every 512
    for dtype, interval, atol in (("float64", 4.0, 1e-9), ("float32", 1.0, 1e-4)):
        auto = dynalysis.lyapunov_spectrum(system, x, reortho_every="auto", dtype=dtype, trace_points=5)
        np.testing.assert_allclose(auto.exponent.values, [0.0, -2.0], atol=atol)
        assert float(auto.mean_reortho_interval) == pytest.approx(interval, abs=0.1)


@pytest.mark.parametrize("value,parsed", [("auto", "auto"), ("AUTO", "auto"), ("3", 3), (4, 4)])
def test_reortho_every_accepts_auto_and_integers(value, parsed):
    from dynalysis.lyapunov.spectrum import check_reortho_every

    assert check_reortho_every(value) == parsed


@pytest.mark.parametrize("value", ["fast", 0, -2, 2.5, True])
def test_reortho_every_rejects_other_values(value):
    system, _ = linear_map([1.0, 0.5])
    with pytest.raises(OptionError, match="reortho_every"):
        dynalysis.lyapunov_spectrum(system, dynalysis.zero_inputs(system, 1, 20), transient=2,
                                    reortho_every=value)


def test_forward_mode_through_a_kernel_without_a_forward_derivative_falls_back_and_says_so():
    """cuDNN's RNN kernels raise "Trying to use forward AD with _cudnn_rnn that does not support
    it"; the J·Q then comes from the unfused kernels (cuDNN off), with a warning. Simulated
    here by a step that fails that way while cuDNN is enabled (runs on any device)."""
    from dynalysis.system._base import _jvp_columns

    W = torch.randn(70, 70, generator=torch.Generator().manual_seed(0), dtype=F64) / 9

    def step(h, x):
        if torch.backends.cudnn.enabled:
            raise RuntimeError("Trying to use forward AD with _cudnn_rnn that does not support it "
                               "because it has not been implemented yet.")
        return torch.tanh(h @ W.T)

    h = torch.randn(2, 70, dtype=F64)
    Q = torch.randn(2, 70, 3, dtype=F64)
    with pytest.warns(RuntimeWarning, match="cuDNN"):
        nxt, JQ = _jvp_columns(step, h, torch.zeros(2, 0, dtype=F64), Q)
    J = (1 - torch.tanh(h @ W.T) ** 2)[:, :, None] * W
    torch.testing.assert_close(JQ, J @ Q)
    assert torch.backends.cudnn.enabled  # switched off only for the call


# --- method="auto": the cost model ------------------------------------------------------------
def _esn(N, seed=0):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(N, N, generator=g, dtype=F64) * (0.9 / math.sqrt(N))
    return MapSystem(lambda h, x, p: torch.tanh(h @ p["W"].T + x), N, 1, parameters={"W": W}, name=f"esn{N}")


@pytest.mark.parametrize("make, B, expected", [
    (henon, 4, "jacobian"),                       # autodiff, S <= 64: J by reverse mode either way
    (lambda: _esn(100), 1, "jacobian"),           # the 100-unit ESN: J is cheap for one trajectory
    (lambda: _esn(512), 4, "tangent"),            # forming J (S columns) costs more than the saved call
    (lambda: wcrnn(N=128), 4, "tangent"),         # analytic J·Q: one product per step
], ids=["henon", "esn100", "esn512", "wcrnn128"])
def test_auto_method_is_a_deterministic_cost_model_and_recorded(make, B, expected):
    from dynalysis.lyapunov.method import choose_method

    system = make()
    k = system.state_size
    first = choose_method(system.to(dtype=F64), batch=B, n_exponents=k, steps=50, dtype=F64, device="cpu")
    again = choose_method(system.to(dtype=F64), batch=B, n_exponents=k, steps=50, dtype=F64, device="cpu")
    assert first == again and first[0] == expected  # counted, not timed: the same every time
    x = drive(B, 12) if system.input_size else dynalysis.zero_inputs(system, B, 12)
    h0 = torch.full((B, system.state_size), 0.1, dtype=F64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a 12-step run has not converged, and says so
        ds = dynalysis.lyapunov_spectrum(system, x, transient=2, initial_state=h0)
        other = dynalysis.lyapunov_spectrum(system, x, transient=2, initial_state=h0,
                                            method="tangent" if expected == "jacobian" else "jacobian")
    assert ds.attrs["lyapunov_method"] == expected and json.loads(ds.attrs["options"])["method"] == expected
    assert ds.attrs["lyapunov_method_reason"]
    np.testing.assert_allclose(ds.exponent.values, other.exponent.values, atol=1e-11)



def test_the_method_record_survives_a_results_file(tmp_path):
    system = henon()
    ds = dynalysis.lyapunov_spectrum(system, dynalysis.zero_inputs(system, 2, 50), transient=5,
                                     initial_state=torch.tensor([0.1, 0.1]))
    assert ds.attrs["lyapunov_method_reason"].isascii()  # plain characters in NetCDF
    dynalysis.save_results({"lyapunov": ds}, tmp_path / "r.nc")
    back = dynalysis.open_results(tmp_path / "r.nc", group="lyapunov")
    assert back.attrs["lyapunov_method"] == "jacobian"
    assert back.attrs["lyapunov_method_reason"] == ds.attrs["lyapunov_method_reason"]


# --- method="auto": the probe where the model cannot tell the paths apart -----------------------
def _burn(seconds):
    """Busy CPU work outside torch (which the cost model cannot count), in CPU and wall time."""
    t0 = time.process_time()
    while time.process_time() - t0 < seconds:
        pass


class _Slowed(dynalysis.System):
    """``h <- tanh(W h)`` with an analytic J·Q, one path slowed by construction (CPU work the
    cost model cannot count): ``slow="tangent"`` burns in every `tangent_step`,
    ``slow="jacobian"`` in every `jacobian` call (one per chunk of steps)."""

    analytic_tangent = True

    def __init__(self, slow, S=6):
        self.state_size, self.input_size, self.metadata, self.slow = S, 0, {}, slow
        self.W = torch.randn(S, S, generator=torch.Generator().manual_seed(3), dtype=F64) * 0.4

    def step(self, h, x):
        return torch.tanh(h @ self.W.T)

    def tangent_step(self, h, x, Q):
        if self.slow == "tangent":
            _burn(2e-3)
        nxt = self.step(h, x)
        return nxt, (1 - nxt ** 2)[:, :, None] * (self.W @ Q)

    def jacobian(self, h, x):
        if self.slow == "jacobian":
            _burn(0.2)
        return (1 - self.step(h, x) ** 2)[:, :, None] * self.W


@pytest.fixture
def always_close(monkeypatch):
    """Make the cost model call every system a close call, so the probe decides."""
    from dynalysis.lyapunov import method

    monkeypatch.setattr(method, "PROBE_MARGIN", 1e9)
    return method


@pytest.mark.parametrize("slow, faster", [("tangent", "jacobian"), ("jacobian", "tangent")])
def test_the_probe_picks_the_path_that_is_faster_by_construction(always_close, slow, faster):
    system = _Slowed(slow)
    chosen, reason = always_close.choose_method(system, batch=2, n_exponents=6, steps=100_000, dtype=F64,
                                                device="cpu", reortho_every="auto")  # the default's
    assert chosen == faster and reason.startswith("probe") and "measured" in reason
    h0 = torch.full((2, 6), 0.1, dtype=F64)
    x = dynalysis.zero_inputs(system, 2, 30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 30 steps have not converged, and say so
        ds = dynalysis.lyapunov_spectrum(system, x, transient=2, initial_state=h0)  # the kept choice
        forced = dynalysis.lyapunov_spectrum(system, x, transient=2, initial_state=h0, method=slow)
    assert ds.attrs["lyapunov_method"] == faster and ds.attrs["lyapunov_method_reason"] == reason
    assert forced.attrs["lyapunov_method"] == slow and "given" in forced.attrs["lyapunov_method_reason"]
    np.testing.assert_allclose(ds.exponent.values, forced.exponent.values, rtol=0, atol=1e-12)


def test_the_probe_runs_once_per_system_and_shape_and_only_where_it_pays(always_close, monkeypatch):
    calls = []

    def fake_probe(system, **kw):
        calls.append(kw["batch"])
        return always_close.Probe(1.0, 2.0, 1)  # tangent measured faster

    monkeypatch.setattr(always_close, "probe_paths", fake_probe)
    system, opts = _Slowed(None), dict(n_exponents=6, dtype=F64, device="cpu")
    short = always_close.choose_method(system, batch=2, steps=20, **opts)
    assert calls == [] and "too short a run to probe" in short[1]  # the probe would cost > 10 %
    first = always_close.choose_method(system, batch=2, steps=100_000, **opts)
    again = always_close.choose_method(system, batch=2, steps=20, **opts)  # kept: even a short run
    other_batch = always_close.choose_method(system, batch=3, steps=100_000, **opts)
    assert calls == [2, 3] and first == again and first[0] == other_batch[0] == "tangent"
    unprobed = always_close.choose_method(_Slowed(None), batch=2, steps=100_000, probe=False, **opts)
    assert calls == [2, 3] and unprobed[1].startswith("cost model")
    monkeypatch.setattr(always_close, "PROBE_MARGIN", 0.0)  # no close call: the model decides
    assert always_close.choose_method(_Slowed(None), batch=2, steps=100_000, **opts)[1].startswith("cost model")
    assert calls == [2, 3]


def test_small_reverse_mode_states_are_probed_on_long_runs(always_close):
    """Below 65 states without an analytic J·Q the rule was always "jacobian" (an LSTM cell of
    32 units was 23 % faster by tangent): on a run long enough to probe, the probe decides."""
    class SlowJacobian(_Slowed):
        analytic_tangent = False
        tangent_step = dynalysis.System.tangent_step  # reverse mode, as a generic map

    system = SlowJacobian("jacobian")
    opts = dict(batch=2, n_exponents=6, dtype=F64, device="cpu")
    assert always_close.choose_method(system, steps=100_000, **opts)[0] == "tangent"
    assert always_close.choose_method(SlowJacobian("jacobian"), steps=30, **opts)[0] == "jacobian"  # the rule
