"""Confidence intervals and convergence flags of Lyapunov exponents (docs/science.md §6).

Closed forms: the map ``h ← (e^{x_t} h) mod 1`` has Jacobian ``e^{x_t}`` whatever the state,
so its exponent over a run is exactly the mean of the ``x_t`` averaged, and for i.i.d.
``x_t ~ N(μ, σ²)`` the interval must cover μ about 95 % of the time with half-width
``1.96 σ / √(B n)``. A linear map with a constant Jacobian has no noise at all.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import dynalysis
from dynalysis import NumericalReliabilityWarning
from dynalysis.lyapunov.confidence import MAX_BLOCKS, BlockSums, block_length
from dynalysis.models import build_model

F64 = torch.float64


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def multiplier_map():
    """``h ← (e^x h) mod 1``: J_t = e^{x_t}, so λ = mean of the x_t averaged."""
    return dynalysis.MapSystem(lambda h, x: torch.remainder(torch.exp(x) * h, 1.0), 1, 1, name="multiplier")


def _ci(ds, i=0):
    return float(ds.exponent_ci_low[i]), float(ds.exponent_ci_high[i])


@pytest.mark.parametrize("B", [1, 8])
def test_interval_of_iid_log_multipliers_has_the_closed_form_width_and_coverage(B):
    mu, sigma, n, transient = 0.1, 0.5, 4000, 10
    halves, covered = [], 0
    for seed in range(20):
        x = mu + sigma * torch.randn(B, n + transient, 1, generator=_gen(seed), dtype=F64)
        ds = dynalysis.lyapunov_spectrum(multiplier_map(), x, transient=transient,
                                         initial_state=torch.full((B, 1), 0.3, dtype=F64))
        assert float(ds.exponent[0]) == pytest.approx(float(x[:, transient:].mean()), abs=1e-12)
        lo, hi = _ci(ds)
        assert lo <= float(ds.exponent[0]) <= hi
        halves.append((hi - lo) / 2)
        covered += lo <= mu <= hi
    theory = 1.96 * sigma / math.sqrt(B * n)
    assert 0.8 < np.mean(halves) / theory < 1.3, np.mean(halves) / theory
    assert covered >= 16  # 95 % coverage: P(fewer than 16 of 20) < 0.3 %


@pytest.mark.parametrize("method", ["jacobian", "tangent"])
def test_constant_jacobian_gives_a_zero_width_interval_and_converges(method):
    A = 0.8 * torch.linalg.qr(torch.randn(5, 5, generator=_gen(6), dtype=F64)).Q
    lin = dynalysis.testing.linear_map(A)
    ds = dynalysis.lyapunov_spectrum(lin, dynalysis.zero_inputs(lin, 3, 400), transient=10, method=method,
                                     initial_state=torch.ones(5, dtype=F64))
    np.testing.assert_allclose(ds.exponent.values, math.log(0.8), atol=1e-12)
    np.testing.assert_allclose(ds.exponent_ci_low.values, math.log(0.8), atol=1e-12)
    np.testing.assert_allclose(ds.exponent_ci_high.values, math.log(0.8), atol=1e-12)
    assert ds.converged.values.tolist() == [1] * 5 and int(ds.all_converged) == 1
    assert ds.converged.attrs["flag_meanings"] == "not_converged converged"


def test_logistic_interval_contains_ln2():
    """ln|f'(x_t)| of the logistic map is ln 2 plus a coboundary g(x_{t+1}) − g(x_t) (it is
    conjugate to the tent map), so its error falls like 1/T and the interval is narrow."""
    log = dynalysis.testing.logistic()
    h0 = torch.rand(16, 1, generator=_gen(1), dtype=F64)
    ds = dynalysis.lyapunov_spectrum(log, dynalysis.zero_inputs(log, 16, 2000), initial_state=h0)
    lo, hi = _ci(ds)
    assert lo <= math.log(2) <= hi and hi - lo < 0.02
    assert int(ds.converged[0]) == 1


def test_henon_interval_contains_the_reference_and_shrinks_like_one_over_sqrt_T():
    hen = dynalysis.testing.henon()
    h0 = 0.1 * torch.rand(8, 2, generator=_gen(1), dtype=F64)
    widths = []
    for T in (2000, 8000):
        ds = dynalysis.lyapunov_spectrum(hen, dynalysis.zero_inputs(hen, 8, T), initial_state=h0)
        lo, hi = _ci(ds)
        assert lo <= 0.41922 <= hi
        widths.append(hi - lo)
    assert 1.4 < widths[0] / widths[1] < 2.9, widths  # √4 = 2


def test_a_short_run_of_a_slowly_converging_network_is_flagged_and_warned():
    """A critical rotational WCRNN (the demo's cell, residual λ = 1): every exponent is near 0 and
    the finite-time estimates fall like 1/T while the frame aligns."""
    net = build_model("wcrnn", input_size=1, hidden_size=16, epsilon=0.1, residual="rotational",
                      residual_scale=1.0, frequencies=math.pi / 4, seed=0)
    x = torch.randn(4, 600, 1, generator=_gen(2))
    with pytest.warns(NumericalReliabilityWarning, match="leading exponent has not converged"):
        ds = dynalysis.lyapunov_spectrum(dynalysis.ModuleSystem(net), x, transient=100)
    assert int(ds.converged[0]) == 0 and int(ds.all_converged) == 0


def test_the_convergence_tolerance_is_the_option():
    hen = dynalysis.testing.henon()
    h0 = 0.1 * torch.rand(8, 2, generator=_gen(1), dtype=F64)
    x = dynalysis.zero_inputs(hen, 8, 2000)
    assert int(dynalysis.lyapunov_spectrum(hen, x, initial_state=h0).all_converged) == 1
    with pytest.warns(NumericalReliabilityWarning):
        strict = dynalysis.lyapunov_spectrum(hen, x, initial_state=h0, ci_tol=1e-4)
    assert strict.converged.values.tolist() == [0, 0]
    wide = dynalysis.lyapunov_spectrum(hen, x, initial_state=h0, confidence=0.99)
    narrow = dynalysis.lyapunov_spectrum(hen, x, initial_state=h0, confidence=0.5)
    assert (wide.exponent_ci_high - wide.exponent_ci_low > narrow.exponent_ci_high - narrow.exponent_ci_low).all()


@pytest.mark.parametrize("kwargs", [{"confidence": 1.0}, {"confidence": 0}, {"ci_tol": 0.0}, {"ci_tol": -1}])
def test_bad_confidence_options(kwargs):
    hen = dynalysis.testing.henon()
    with pytest.raises(dynalysis.OptionError, match=next(iter(kwargs))):
        dynalysis.lyapunov_spectrum(hen, dynalysis.zero_inputs(hen, 1, 200), **kwargs)


def test_block_sums_keep_a_fixed_number_of_blocks_and_every_step():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 4, (100, 64))  # 100 flushes of 64 QR steps covering 1-3 steps each
    ends = np.cumsum(lengths).reshape(100, 64)
    blocks = BlockSums(2, 3, int(ends[-1, -1]), dtype=F64, device="cpu")
    total = np.zeros((2, 3))
    for i in range(100):
        logs = rng.standard_normal((64, 2, 3))
        blocks.add(torch.as_tensor(logs), ends[i])
        total += logs.sum(0)
        assert blocks.sums.shape == (MAX_BLOCKS, 2, 3)
    sums, n = blocks.filled()
    assert MAX_BLOCKS // 2 < len(n) <= MAX_BLOCKS and (n > 0).all()
    np.testing.assert_allclose(sums.sum(0), total, atol=1e-9)
    assert n.sum() == ends[-1, -1]


@pytest.mark.parametrize("n_steps", [1, 63, 64, 65, 1000, 4096, 4097])
def test_blocks_are_fixed_time_spans_whatever_the_qr_schedule(n_steps):
    """Blocks of P = block_length(n) steps, 33-64 of them: the same spans for a QR every step
    and for QRs at the block boundaries only, with equal sums (the interval depends on them)."""
    P = block_length(n_steps)
    assert -(-n_steps // P) <= MAX_BLOCKS and (P == 1 or -(-n_steps // (P // 2)) > MAX_BLOCKS)
    rates = np.random.default_rng(1).standard_normal((n_steps, 1, 2))
    every = BlockSums(1, 2, n_steps, dtype=F64, device="cpu")
    every.add(torch.as_tensor(rates), np.arange(1, n_steps + 1))
    ends = np.unique(np.minimum(np.arange(P, n_steps + P, P), n_steps))
    coarse = BlockSums(1, 2, n_steps, dtype=F64, device="cpu")
    spans = np.add.reduceat(rates, np.r_[0, ends[:-1]], axis=0)
    coarse.add(torch.as_tensor(spans), ends)
    (s1, n1), (s2, n2) = every.filled(), coarse.filled()
    np.testing.assert_array_equal(n1, n2)
    np.testing.assert_allclose(s1, s2, atol=1e-12)


def test_an_exponent_near_zero_converges_on_the_absolute_tolerance():
    """The multiplier map with mean log-multiplier 0: λ = 0, so no relative criterion can be met,
    but a run resolving λ to ±ci_atol is converged (and not with ci_atol=0)."""
    x = 0.05 * torch.randn(4, 20000, 1, generator=_gen(3), dtype=F64)
    x = x - x.mean(1, keepdim=True)  # exponent exactly 0 over the run
    kw = dict(transient=0, initial_state=torch.tensor([0.3], dtype=F64))
    ds = dynalysis.lyapunov_spectrum(multiplier_map(), x, **kw)
    half = (float(ds.exponent_ci_high[0]) - float(ds.exponent_ci_low[0])) / 2
    assert abs(float(ds.exponent[0])) < 1e-12 and 0 < half < 1e-3
    assert int(ds.converged[0]) == 1
    with pytest.warns(NumericalReliabilityWarning, match="has not converged"):
        strict = dynalysis.lyapunov_spectrum(multiplier_map(), x, ci_atol=0.0, **kw)
    assert int(strict.converged[0]) == 0
    with pytest.raises(dynalysis.OptionError, match="ci_atol"):
        dynalysis.lyapunov_spectrum(multiplier_map(), x, ci_atol=-1.0, **kw)


def test_kaplan_yorke_range_brackets_the_estimate():
    """D_KY is nondecreasing in every exponent, so the dimensions of the intervals' ends
    bracket it; for Henon the bracket is narrow around 1.26."""
    henon = dynalysis.testing.henon()
    ds = dynalysis.lyapunov_spectrum(henon, dynalysis.zero_inputs(henon, 8, 5000),
                                     initial_state=torch.tensor([0.1, 0.1]))
    lo, d, hi = float(ds.kaplan_yorke_ci_low), float(ds.kaplan_yorke_dimension), float(ds.kaplan_yorke_ci_high)
    assert lo <= d <= hi and hi - lo < 0.02 and abs(d - 1.258) < 0.01
