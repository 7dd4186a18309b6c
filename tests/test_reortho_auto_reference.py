"""``reortho_every="auto"`` against a QR every step on every reference case (no timing here).

The QR method is exact whatever the schedule (docs/science.md §5): skipping QRs changes the
exponents only by round-off amplified by the block condition, which "auto" keeps near
``u^{-1/4}`` and below ``u^{-1/2}``. Two failures of the schedule found by these cases are
pinned: Hénon's intermittent folds pushed a block to ln κ = 26 (beyond the 18.4 cap; 4e-10
in float64, ``-inf`` exponents in float32) when blocks were sized from the last block only,
and float32 blocks lost the tail of a non-normal chain that the spread of diag R cannot see.
"""
from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch

import dynalysis
from dynalysis.lyapunov.qr import auto_log_condition
from dynalysis.testing._reference_cases import reference_cases

CASES = list(reference_cases(quick=True))


def _both(system, x, h0, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [dynalysis.lyapunov_spectrum(system, x, initial_state=h0, reortho_every=r, dtype=dtype)
                for r in (1, "auto")]


def _gap(a, b):
    with np.errstate(invalid="ignore"):
        # -inf in both (a rank-deficient Jacobian), or NaN in both (no interval there): equal
        return float(np.max(np.where((a == b) | (np.isnan(a) & np.isnan(b)), 0.0, np.abs(a - b))))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_auto_schedule_gives_the_every_step_exponents_to_round_off_in_float64(case):
    name, system, x, h0, exact = case
    every, auto = _both(system, x, h0, torch.float64)
    assert _gap(auto.exponent.values, every.exponent.values) <= 1e-10, name
    cap = auto_log_condition(torch.float64)
    if float(every.max_log_condition) > cap:  # one step alone exceeds the cap: every step
        assert float(auto.mean_reortho_interval) == 1.0
    else:
        assert float(auto.max_log_condition) <= cap + 1e-9  # the cap held
    assert float(auto.exponent_sum) == pytest.approx(float(every.exponent_sum), abs=1e-10, nan_ok=True)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_auto_schedule_samples_the_trace_and_the_interval_where_every_step_qr_does(case):
    """A QR at each trace step and confidence block boundary: Σ ln|R_ii| over a span does not
    depend on the QRs inside it, so the interval, ``converged`` and the trace are the
    every-step ones to round-off (they differed by up to 1.1e-3 when sampled at QR steps)."""
    name, system, x, h0, exact = case
    every, auto = _both(system, x, h0, torch.float64)
    np.testing.assert_array_equal(auto.step.values, every.step.values)
    for v in ("exponent_ci_low", "exponent_ci_high", "convergence"):
        assert _gap(auto[v].values, every[v].values) <= 1e-10, (name, v)
    np.testing.assert_array_equal(auto.converged.values, every.converged.values)
    assert int(auto.all_converged) == int(every.all_converged)


def test_auto_is_the_default_schedule_and_every_step_is_one_option_away():
    name, system, x, h0, exact = next(c for c in CASES if c[0].startswith("linear, normal"))
    default = dynalysis.lyapunov_spectrum(system, x, initial_state=h0)
    assert json.loads(default.attrs["options"])["reortho_every"] == "auto"
    assert float(default.mean_reortho_interval) > 1
    every = dynalysis.lyapunov_spectrum(system, x, initial_state=h0, reortho_every=1)
    assert float(every.mean_reortho_interval) == 1.0
    assert _gap(default.exponent.values, every.exponent.values) <= 1e-12


def test_auto_schedule_on_henon_stays_within_its_cap_in_both_precisions():
    name, system, x, h0, exact = next(c for c in CASES if c[0].startswith("Hénon"))
    for dtype in (torch.float64, torch.float32):
        every, auto = _both(system, x, h0, dtype)
        assert np.all(np.isfinite(auto.exponent.values))
        assert float(auto.max_log_condition) <= auto_log_condition(dtype) + 1e-6
        assert float(auto.exponent_sum) == pytest.approx(math.log(0.3), abs=1e-4)  # det J = -b


def test_auto_schedule_reorthonormalises_float32_frames_every_step():
    name, system, x, h0, exact = next(c for c in CASES if c[0].startswith("lower-triangular"))
    every, auto = _both(system, x, h0, torch.float32)
    assert float(auto.mean_reortho_interval) == 1.0
    np.testing.assert_array_equal(auto.exponent.values, every.exponent.values)
