"""``reortho_every="auto"`` against a QR every step on every reference case (no timing here).

The QR method is exact whatever the schedule (docs/science.md §5): skipping QRs changes the
exponents only by round-off amplified by the block condition, which "auto" keeps near
``u^{-1/4}`` and below ``u^{-1/2}``. Two failures of the schedule found by these cases are
pinned: Hénon's intermittent folds pushed a block to ln κ = 26 (beyond the 18.4 cap; 4e-10
in float64, ``-inf`` exponents in float32) when blocks were sized from the last block only,
and float32 blocks lost the tail of a non-normal chain that the spread of diag R cannot see.
"""
from __future__ import annotations

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
        return float(np.max(np.where(a == b, 0.0, np.abs(a - b))))  # -inf in both: equal


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
