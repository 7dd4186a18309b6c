"""The contract's divergence policy, over every verb that drives trajectories: a ``diverged``
flag per trajectory, one `DivergenceWarning`, means over the finite trajectories only, and NaN
headline numbers when nothing is finite (the rest of the contract: `test_contracts.py`).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import dynalysis
from dynalysis.memory.combined import memory_analysis

# --- one divergence policy ---------------------------------------------------------------------
def _some_diverge():
    """h ← (0.5 h₀ + x, h₁² + x²): inputs of amplitude 4 blow h₁ up, amplitude 0.1 do not."""
    return dynalysis.MapSystem(lambda h, x: torch.stack([0.5 * h[:, 0] + x[:, 0], h[:, 1] ** 2 + x[:, 0] ** 2], 1),
                               2, 1, name="some diverge")


def _all_diverge():
    """h ← 10²⁰⁰ (h² + 1) + x: overflows on the second step from any state."""
    return dynalysis.MapSystem(lambda h, x: 1e200 * (h * h + 1) + x, 2, 1, name="all diverge")


def _drive(n=3, T=60, big=(1,)):
    x = 0.2 * (torch.rand(n, T, 1, generator=torch.Generator().manual_seed(3), dtype=torch.float64) - 0.5)
    for b in big:
        x[b] *= 40
    return x


_SIGNAL = _drive(3, 600)[..., 0].numpy()
_PULSES = np.array([[0.1], [3.0], [-0.05]])

# verb -> (call(system, inputs, signal), check that the means use only the finite rows, headline)
_DIVERGING = {
    "lyapunov_spectrum": (
        lambda s, x, sig: dynalysis.lyapunov_spectrum(s, x, transient=5),
        lambda ds, s, x, sig, ok: np.testing.assert_allclose(
            ds.exponent.values, ds.exponent_per_trajectory.values[ok].mean(0), rtol=1e-12),
        lambda ds: ds.exponent.values),
    "jacobian_eigenvalues": (
        lambda s, x, sig: dynalysis.jacobian_eigenvalues(s, x, every=8),
        lambda ds, s, x, sig, ok: np.testing.assert_array_equal(
            ds.eigenvalue.values[ok], dynalysis.jacobian_eigenvalues(s, x[ok], every=8).eigenvalue.values),
        lambda ds: ds.eigenvalue.values),
    "find_fixed_points": (
        lambda s, x, sig: dynalysis.find_fixed_points(s, x, n_starts=16),
        lambda ds, s, x, sig, ok: (np.testing.assert_array_equal(ds.trajectory_diverged.values, ~ok),
                                   np.testing.assert_array_equal(ds.start_assignment.values[ds.diverged.values == 1], -1),
                                   np.testing.assert_array_equal(np.isfinite(ds.state.values), True)),
        lambda ds: ds.state.values),
    "nonnormality": (
        lambda s, x, sig: dynalysis.nonnormality(s, pulse=_PULSES, motif_steps=30),
        lambda ds, s, x, sig, ok: np.testing.assert_array_equal(
            ds.motif_profile.values,
            dynalysis.nonnormality(s, pulse=_PULSES[ds.diverged.values == 0], motif_steps=30).motif_profile.values),
        lambda ds: ds.motif_profile.values),
    "memory_kernel": (
        lambda s, x, sig: dynalysis.memory_kernel(s, x, max_lag=5),
        lambda ds, s, x, sig, ok: np.testing.assert_array_equal(
            ds.kernel.values, dynalysis.memory_kernel(s, x[ok], max_lag=5).kernel.values),
        lambda ds: ds.kernel_norm.values),
    "memory_capacity": (
        lambda s, x, sig: dynalysis.memory_capacity(s, max_lag=4, inputs=sig),
        lambda ds, s, x, sig, ok: np.testing.assert_array_equal(
            ds.capacity.values, dynalysis.memory_capacity(s, max_lag=4, inputs=sig[ok]).capacity.values),
        lambda ds: ds.capacity.values),
    "covariant_lyapunov_vectors": (
        lambda s, x, sig: dynalysis.covariant_lyapunov_vectors(s, x, transient=5, n_times=8),
        lambda ds, s, x, sig, ok: np.testing.assert_array_equal(
            np.isfinite(ds.clv.values).all((1, 2, 3)), ok),
        lambda ds: ds.exponent.values),
    "memory_analysis": (
        lambda s, x, sig: memory_analysis(s, x, max_lag=5),
        lambda ds, s, x, sig, ok: np.testing.assert_array_equal(
            ds.kernel.values, dynalysis.memory_kernel(s, x[ok], max_lag=5).kernel.values),
        lambda ds: np.r_[ds.kernel_norm.values, float(ds.memory_capacity)]),
}


@pytest.mark.parametrize("verb", list(_DIVERGING))
def test_some_diverging_trajectories_are_flagged_warned_and_left_out_of_the_means(verb):
    call, check, _ = _DIVERGING[verb]
    system, x = _some_diverge(), _drive()
    with pytest.warns(dynalysis.DivergenceWarning, match="diverged"):
        ds = call(system, x, _SIGNAL)
    assert "diverged" in ds and ds.diverged.attrs["flag_meanings"] == "finite diverged"
    assert 0 < int(ds.diverged.sum()) < ds.sizes[ds.diverged.dims[0]] or verb == "find_fixed_points"
    ok = np.array([True, False, True])
    if "trajectory" in ds.diverged.dims:
        np.testing.assert_array_equal(ds.diverged.values == 0, ok)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(ds, system, x, _SIGNAL, ok)


@pytest.mark.parametrize("verb", list(_DIVERGING))
def test_when_everything_diverges_the_headline_numbers_are_nan(verb):
    call, _, headline = _DIVERGING[verb]
    with pytest.warns(dynalysis.DivergenceWarning):
        ds = call(_all_diverge(), _drive(big=()), _drive(3, 600, big=())[..., 0].numpy())
    assert ds.diverged.values.all()
    assert np.isnan(headline(ds)).all()  # no fixed point at all for find_fixed_points (an empty array)
