"""Covariant Lyapunov vectors (Ginelli's algorithm): closed forms first, then Hénon, memory, CLI."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import dynalysis
from dynalysis.testing import henon, linear_map

ROOT = Path(__file__).resolve().parents[1]
HENON_REF = (0.4192, -1.6232)  # docs/science.md §5


def _unit_columns(V):
    return V / np.linalg.norm(V, axis=0, keepdims=True)


def _abs_cos(a, b):
    """|cos| between matching columns of a and b (..., S, k)."""
    num = np.abs((a * b).sum(-2))
    return num / (np.linalg.norm(a, axis=-2) * np.linalg.norm(b, axis=-2))


def _nonnormal_map():
    """A = V diag(λ) V⁻¹ with a far-from-orthogonal V and |λ| = 1.3, 0.9, 0.6, 0.2 (one negative)."""
    rng = np.random.default_rng(4)
    V = np.eye(4) + 0.9 * np.triu(rng.standard_normal((4, 4)), 1) + 0.3 * rng.standard_normal((4, 4))
    lam = np.array([1.3, -0.9, 0.6, 0.2])
    return V @ np.diag(lam) @ np.linalg.inv(V), _unit_columns(V), lam


# --- closed forms ---------------------------------------------------------------------------------
def test_a_constant_nonnormal_maps_clvs_are_its_eigenvectors_ordered_by_modulus():
    A, V, lam = _nonnormal_map()
    lin = linear_map(A)
    ds = dynalysis.covariant_lyapunov_vectors(lin, dynalysis.zero_inputs(lin, 2, 400), transient=100,
                                              n_times=5, initial_state=torch.ones(4))
    np.testing.assert_allclose(ds.exponent.values, np.log(np.abs(lam)), atol=1e-12)
    np.testing.assert_allclose(ds.clv_growth_rate.values, np.log(np.abs(lam)), atol=1e-12)
    np.testing.assert_allclose(_abs_cos(ds.clv.values, V), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(ds.clv.values, axis=-2), 1.0, atol=1e-13)
    pr = 1.0 / (V ** 4).sum(0)  # participation ratio of each unit eigenvector
    np.testing.assert_allclose(ds.participation_ratio.values, np.broadcast_to(pr, (2, 5, 4)), rtol=1e-10)
    # the QR (Gram-Schmidt) vectors of the same ordering are *not* the eigenvectors: the test can fail
    GS = np.linalg.qr(V)[0]
    assert _abs_cos(GS, V)[1:].max() < 0.9
    # the leading two alone (a frame of 2 columns) are the same two eigenvectors
    two = dynalysis.covariant_lyapunov_vectors(lin, dynalysis.zero_inputs(lin, 1, 400), n_vectors=2,
                                               n_times=3, initial_state=torch.ones(4))
    np.testing.assert_allclose(_abs_cos(two.clv.values, V[:, :2]), 1.0, atol=1e-12)


def test_the_subspace_angle_of_a_saddle_is_the_angle_between_its_eigenvectors():
    theta = 0.3
    V = np.array([[1.0, np.cos(theta)], [0.0, np.sin(theta)]])
    lin = linear_map(V @ np.diag([2.0, 0.5]) @ np.linalg.inv(V))
    ds = dynalysis.covariant_lyapunov_vectors(lin, dynalysis.zero_inputs(lin, 1, 200), transient=50, n_times=4,
                                              initial_state=torch.ones(2))
    assert int(ds.n_unstable) == 1  # one positive exponent, ln 2
    np.testing.assert_allclose(ds.min_subspace_angle.values, theta, rtol=1e-12)
    tiny = 1e-7  # near-tangent directions keep their relative accuracy (atan2 of sine and cosine)
    W = np.array([[1.0, np.cos(tiny)], [0.0, np.sin(tiny)]])
    lin = linear_map(W @ np.diag([2.0, 0.5]) @ np.linalg.inv(W))
    ds = dynalysis.covariant_lyapunov_vectors(lin, dynalysis.zero_inputs(lin, 1, 200), transient=50, n_times=4,
                                              initial_state=torch.ones(2))
    np.testing.assert_allclose(ds.min_subspace_angle.values, tiny, rtol=1e-6)


def test_a_diagonal_maps_clvs_sit_on_single_units():
    lin = linear_map(np.diag([0.5, 1.5, -0.8]))
    ds = dynalysis.covariant_lyapunov_vectors(lin, dynalysis.zero_inputs(lin, 1, 200), transient=60, n_times=3,
                                              initial_state=torch.ones(3))
    np.testing.assert_allclose(np.abs(ds.clv.values[0, 0]), np.eye(3)[:, [1, 2, 0]], atol=1e-12)
    np.testing.assert_allclose(ds.mean_participation_ratio.values, 1.0, rtol=1e-12)


# --- Hénon: covariance and growth rates -----------------------------------------------------------
@pytest.fixture(scope="module")
def henon_clv():
    sys_ = henon()
    T, tr = 6000, 200
    x = dynalysis.zero_inputs(sys_, 3, T)
    ds = dynalysis.covariant_lyapunov_vectors(sys_, x, transient=tr, n_times=T - 2 * tr + 1,
                                              initial_state=torch.tensor([0.1, 0.1]))
    return sys_, x, ds


def test_each_henon_clv_grows_at_its_own_exponent(henon_clv):
    sys_, x, ds = henon_clv
    v = torch.as_tensor(ds.clv.values[:, :-1])  # (B, n-1, S, k): v_i(t), t = 200 .. 5799
    h = torch.as_tensor(ds.trajectory_state.values[:, :-1])
    B, n, S, k = v.shape
    J = sys_.jacobian(h.reshape(B * n, S), torch.zeros(B * n, 0, dtype=torch.float64)).view(B, n, S, S)
    Jv = (J @ v).numpy()
    # covariance: J_{t+1} v_i(t) is parallel to v_i(t+1) (computed independently, backwards)
    np.testing.assert_allclose(_abs_cos(Jv, ds.clv.values[:, 1:]), 1.0, atol=1e-9)
    rate = np.log(np.linalg.norm(Jv, axis=-2)).mean((0, 1))  # time mean of ln‖J v_i‖
    np.testing.assert_allclose(rate, ds.clv_growth_rate.values, rtol=1e-10)
    np.testing.assert_allclose(rate, ds.exponent.values, atol=0.01)  # 3 × 5600 steps: error ≈ 1/√N
    np.testing.assert_allclose(rate, HENON_REF, atol=0.015)
    assert abs(rate.sum() - np.log(0.3)) < 0.01  # |det J| = b = 0.3 at every state


def test_henons_stable_and_unstable_directions_come_close_to_tangency(henon_clv):
    _, _, ds = henon_clv
    angle = ds.min_subspace_angle.values
    assert int(ds.n_unstable) == 1 and np.isfinite(angle).all()
    assert (angle > 0).all() and (angle <= np.pi / 2 + 1e-12).all()
    assert angle.min() < 0.05 < np.median(angle)  # non-hyperbolic: near-tangencies, far from typical


@pytest.mark.skipif(__import__("importlib").util.find_spec("lyapynov") is None,
                    reason="lyapynov (optional reference implementation) is not installed")
def test_henon_clvs_agree_with_lyapynov():
    import lyapynov

    a, b = 1.4, 0.3
    x0 = np.array([0.1, 0.1])

    def f(x, t):  # the same floating-point operations as dynalysis.testing.henon
        return np.array([1 - a * x[0] ** 2 + x[1], b * x[0]])

    def jac(x, t):
        return np.array([[-2 * a * x[0], 1.0], [b, 0.0]])

    n_forward, n_A, n_B, n_C = 0, 300, 200, 300
    ref, traj = lyapynov.CLV(lyapynov.DiscreteDS(x0, 0, f, jac), 2, n_forward, n_A, n_B, n_C, traj=True)
    ref, traj = np.asarray(ref), np.asarray(traj)
    sys_ = henon()
    T = n_forward + n_A + n_B + n_C + 10
    ds = dynalysis.covariant_lyapunov_vectors(sys_, dynalysis.zero_inputs(sys_, 1, T), transient=n_A // 2,
                                              backward_transient=n_C // 2, n_times=T - n_A // 2 - n_C // 2 + 1,
                                              initial_state=torch.tensor(x0))
    states, clv = ds.trajectory_state.values[0], ds.clv.values[0]
    dist = np.linalg.norm(states[None, :, :] - traj[:, None, :], axis=-1)  # match each point of the orbit
    match = dist.argmin(1)
    assert (dist.min(1) < 1e-9).all(), "lyapynov's orbit is not the orbit iterated here"
    np.testing.assert_allclose(_abs_cos(clv[match], ref), 1.0, atol=1e-8)


# --- the R factors: spilled to a file, memory flat in T --------------------------------------------
def test_r_factors_spilled_to_disk_give_the_same_vectors():
    sys_ = dynalysis.testing.tanh_rnn(6, gain=2.0, seed=1)
    x = dynalysis.zero_inputs(sys_, 2, 700)
    h0 = 0.3 * torch.ones(6)
    ram = dynalysis.covariant_lyapunov_vectors(sys_, x, n_times=20, initial_state=h0)
    disk = dynalysis.covariant_lyapunov_vectors(sys_, x, n_times=20, initial_state=h0, max_memory=0)
    assert ram.attrs["r_factors_spilled_to_disk_bytes"] == 0
    assert disk.attrs["r_factors_spilled_to_disk_bytes"] == 2 * 600 * 36 * 8  # every step after the transient
    np.testing.assert_array_equal(disk.clv.values, ram.clv.values)
    assert ram.exponent.values[0] > 0  # chaotic: the backward pass had something to do


PEAK = textwrap.dedent('''
    import re, sys, torch, dynalysis
    T, max_memory = int(sys.argv[1]), int(sys.argv[2])
    s = dynalysis.testing.tanh_rnn(48, gain=2.0, seed=0)
    ds = dynalysis.covariant_lyapunov_vectors(s, dynalysis.zero_inputs(s, 2, T), n_times=50,
                                              initial_state=0.3 * torch.ones(48), max_memory=max_memory)
    assert ds.sizes["time"] == 50 and ds.attrs["r_factors_spilled_to_disk_bytes"] == (
        0 if max_memory > 2**30 else 2 * (T - 100) * 48 * 48 * 8)
    with open("/proc/self/status") as f:
        print(int(re.search(r"VmHWM:\\s+(\\d+) kB", f.read()).group(1)) // 1024)
''')


def _peak_mib(tmp_path, T, max_memory):
    script = tmp_path / "peak.py"
    script.write_text(PEAK)
    # MALLOC_MMAP_THRESHOLD_ fixes glibc's otherwise adaptive threshold: with it adaptive, the
    # engine's chunked Jacobians (lyapunov_spectrum alike) fragment the heap by 100-200 MiB over
    # the first few chunks, a plateau of the allocator (measured 491/603/635 MiB at 2k/10k/30k
    # steps for lyapunov_spectrum itself), not memory the algorithm holds
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path),
           "MALLOC_MMAP_THRESHOLD_": str(2**17)}
    res = subprocess.run([sys.executable, str(script), str(T), str(max_memory)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    return int(res.stdout.split()[-1])


def test_peak_memory_does_not_grow_with_the_number_of_steps(tmp_path):
    # R of one step: 2 trajectories × 48² × 8 B = 36 KiB; 2000 → 8000 steps add 211 MiB of R factors
    short, long = _peak_mib(tmp_path, 2000, 2**20), _peak_mib(tmp_path, 8000, 2**20)
    assert long - short < 20, (short, long)
    held = _peak_mib(tmp_path, 8000, 2**31)  # all R in memory: the measurement sees them
    assert held - short > 150, (short, held)


# --- options, pipeline, figure --------------------------------------------------------------------
@pytest.mark.parametrize("bad, match", [
    ({"n_vectors": 3}, "n_vectors"), ({"transient": -1}, "transient"), ({"backward_transient": -2}, "backward_transient"),
    ({"n_times": 0}, "n_times"), ({"n_times": 42}, "n_times=42 exceeds the 41 times"), ({"n_unstable": 3}, "n_unstable"),
    ({"max_memory": -1}, "max_memory"), ({"method": "svd"}, "method"), ({"transient": 30}, "transient=30"),
])
def test_bad_options_are_refused_before_the_first_step(bad, match):
    calls = []
    base = henon()
    counting = dynalysis.MapSystem(lambda h, x: (calls.append(1), base.step(h, x))[1], 2, name="counted")
    with pytest.raises(dynalysis.OptionError, match=match):
        dynalysis.covariant_lyapunov_vectors(counting, dynalysis.zero_inputs(counting, 1, 60),
                                             **{"transient": 10, **bad})
    assert not calls


def test_cli_analyses_clv_writes_the_group_and_plot_draws_it(tmp_path, tiny_checkpoint):
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT)}
    run = [sys.executable, str(ROOT / "cli.py")]
    res = subprocess.run([*run, "analyze", str(tiny_checkpoint), "--out", "r.nc", "--analyses", "clv", "--steps", "160",
                          "--transient", "30", "--n-trajectories", "2"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    ds = dynalysis.open_results(tmp_path / "r.nc", group="clv")
    assert ds.clv.dims == ("trajectory", "time", "state", "exponent_index") and ds.sizes["state"] == 8
    assert ds.time.values[0] == 30 and ds.time.values[-1] == 130
    res = subprocess.run([*run, "plot", "r.nc", "--out", "figs"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "figs" / "clv.png").stat().st_size > 5000
    res = subprocess.run([*run, "analyze", str(tiny_checkpoint), "--out", "s.nc", "--analyses", "clv", "--steps", "50",
                          "--transient", "30"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith("error: clv needs --steps >= 61 (a forward and a backward transient of "
                                 "--transient=30 steps), got --steps=50") and not (tmp_path / "s.nc").exists()


def test_a_diverging_trajectory_is_flagged_and_the_others_keep_their_angles():
    base = henon()
    noisy = dynalysis.MapSystem(lambda h, x: base.step(h, x[:, :0]) + x, 2, 2, name="Henon + input")
    x = 0.001 * torch.randn(3, 400, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x[1, 50:] += 40.0  # kicked off the attractor: escapes to infinity
    with pytest.warns(dynalysis.DivergenceWarning, match="1 of 3"):
        ds = dynalysis.covariant_lyapunov_vectors(noisy, x, transient=50, n_times=20,
                                                  initial_state=torch.tensor([0.1, 0.1]))
    np.testing.assert_array_equal(ds.diverged.values, [0, 1, 0])
    assert int(ds.n_unstable) == 1
    angle = ds.min_subspace_angle.values
    assert np.isnan(angle[1]).all() and np.isfinite(angle[[0, 2]]).all()
    assert np.isnan(ds.clv.values[1]).all() and np.isfinite(ds.clv.values[[0, 2]]).all()


def test_tangent_and_batched_jacobian_paths_give_the_same_vectors():
    sys_ = dynalysis.testing.tanh_rnn(5, gain=2.5, seed=3)
    x = dynalysis.zero_inputs(sys_, 2, 300)
    h0 = 0.4 * torch.ones(5)
    a = dynalysis.covariant_lyapunov_vectors(sys_, x, n_vectors=3, n_times=7, initial_state=h0, method="tangent")
    b = dynalysis.covariant_lyapunov_vectors(sys_, x, n_vectors=3, n_times=7, initial_state=h0, method="jacobian")
    np.testing.assert_allclose(a.trajectory_state.values, b.trajectory_state.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(_abs_cos(a.clv.values, b.clv.values), 1.0, atol=1e-9)
    np.testing.assert_allclose(a.exponent.values, b.exponent.values, atol=1e-12)


def test_auto_chooses_on_the_runs_own_state_inputs_and_every_step_qrs(monkeypatch):
    """A close call is probed on what the run does: its initial state and inputs, and the QR
    every step that Ginelli's forward pass takes (the CLV run chose on the system's own state,
    a seeded signal and no QRs)."""
    from dynalysis.lyapunov import covariant

    seen = {}

    def spy(system, **kw):
        seen.update(kw)
        return "tangent", "spy"

    monkeypatch.setattr(covariant, "choose_method", spy)
    sys_ = dynalysis.testing.tanh_rnn(5, gain=2.5, seed=3)
    x = dynalysis.zero_inputs(sys_, 2, 300)
    dynalysis.covariant_lyapunov_vectors(sys_, x, n_vectors=3, n_times=7,
                                         initial_state=torch.full((5,), 0.4, dtype=torch.float64))
    assert seen["reortho_every"] == 1 and seen["steps"] == 300 and seen["batch"] == 2
    np.testing.assert_array_equal(seen["initial_state"].numpy(), np.full((2, 5), 0.4))
    assert seen["inputs"].shape == x.shape


# --- reliability: vectors and angles that the transients cannot determine are flagged --------------
def test_well_separated_exponents_give_determined_vectors_and_angle():
    A, V, lam = _nonnormal_map()  # gaps >= ln(1.3/0.9) = 0.37: 0.37 x 100 steps >> 5
    lin = linear_map(A)
    ds = dynalysis.covariant_lyapunov_vectors(lin, dynalysis.zero_inputs(lin, 1, 400), transient=100,
                                              n_times=3, initial_state=torch.ones(4))
    assert ds.clv_converged.values.all() and bool(ds.subspace_angle_determined)


def test_nearly_equal_exponents_are_flagged_and_warned_not_reported_as_determined():
    """diag(1.002, 0.999, 0.5): the split gap ln(1.002/0.999) = 3e-3 needs ~1700-step transients;
    with 100 the angle and the two leading vectors are flagged, the isolated third is not."""
    A = np.diag([1.002, 0.999, 0.5]) + np.triu(np.full((3, 3), 0.3), 1)
    lin = linear_map(A)
    with pytest.warns(dynalysis.NumericalReliabilityWarning, match="min_subspace_angle is not determined"):
        ds = dynalysis.covariant_lyapunov_vectors(lin, dynalysis.zero_inputs(lin, 1, 400), transient=100,
                                                  n_times=3, initial_state=torch.ones(3))
    assert int(ds.n_unstable) == 1
    assert not bool(ds.subspace_angle_determined)
    assert ds.clv_converged.values.tolist() == [False, False, True]
