"""Fixed points per input condition, the fixed / slow / unconverged split, de-duplication relative
to the state's scale, unstable directions and the forward-simulation cross-check — on maps whose
answers are known in closed form; then the real CLI on a one-hot task."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize
import torch
import xarray as xr

import dynalysis
from dynalysis.errors import OptionError

F64 = torch.float64
ROOT = Path(__file__).resolve().parents[1]
STABLE, MARGINAL, UNSTABLE = 0, 1, 2
FIXED, SLOW, UNCONVERGED, DIVERGED = 0, 1, 2, 3
H_STAR = scipy.optimize.brentq(lambda h: math.tanh(2 * h) - h, 0.5, 1.5)  # 0.9575...


def _affine(A, B):
    A, B = torch.tensor(A, dtype=F64), torch.tensor(B, dtype=F64)
    return dynalysis.MapSystem(lambda h, x: h @ A.T + x @ B.T, A.shape[0], B.shape[1]), A.numpy(), B.numpy()


def _one_hot_inputs(codes, d):
    return torch.eye(d, dtype=F64)[torch.as_tensor(codes)].reshape(1, len(codes), d)


def test_each_one_hot_symbol_is_a_condition_with_its_closed_form_fixed_point():
    """h' = A h + B x: at the held input x*, h* = (I − A)⁻¹ B x*, one per condition."""
    system, A, B = _affine([[0.5, 0.2], [-0.1, 0.3]], [[1.0, 0.0, 2.0], [0.0, -1.0, 1.0]])
    x = _one_hot_inputs([2, 0, 2, 2, 0, 0, 2], 3)  # channel 1 never occurs
    ds = dynalysis.find_fixed_points(system, x, conditions=["zero", "symbols", {"both": [1.0, 0.0, 1.0]}],
                                     n_starts=8, check_steps=50)
    assert ds.condition.values.tolist() == ["zero", "onehot_0", "onehot_2", "both"]
    np.testing.assert_array_equal(ds.constant_input.values, [[0, 0, 0], [1, 0, 0], [0, 0, 1], [1, 0, 1]])
    assert ds.n_fixed_points.values.tolist() == [1, 1, 1, 1] and ds.n_stable.values.tolist() == [1, 1, 1, 1]
    for c, x_star in enumerate(ds.constant_input.values):
        (i,) = np.flatnonzero(ds.fixed_point_condition.values == c)
        np.testing.assert_allclose(ds.state.values[i], np.linalg.solve(np.eye(2) - A, B @ x_star), atol=1e-12)
    assert ds.sizes["start"] == 4 * 8 and np.bincount(ds.start_condition.values).tolist() == [8] * 4
    assert (ds.start_status.values == FIXED).all() and ds.missed_attractors.values.tolist() == [0] * 4
    assert ds.start_status.attrs["flag_meanings"] == "fixed slow unconverged diverged"
    for name in ("n_stable", "missed_attractors", "extent", "unstable_direction", "start_status"):
        assert ds[name].attrs["long_name"] and "units" in ds[name].attrs


def test_the_result_round_trips_through_netcdf_with_condition_names(tmp_path):
    system, _, _ = _affine([[0.5]], [[1.0, 2.0]])
    ds = dynalysis.find_fixed_points(system, _one_hot_inputs([0, 1, 1], 2), conditions="symbols", n_starts=4)
    dynalysis.save_results({"fixed_points": ds}, tmp_path / "r.nc")
    back = dynalysis.open_results(tmp_path / "r.nc", group="fixed_points")
    assert [str(c) for c in back.condition.values] == ["onehot_0", "onehot_1"]
    np.testing.assert_allclose(back.state.values[:, 0], [2.0, 4.0], atol=1e-12)


def test_symbols_of_inputs_that_are_not_one_hot_are_refused_before_any_step():
    calls = []
    system = dynalysis.MapSystem(lambda h, x: calls.append(1) or 0.5 * h, 1, 2)
    with pytest.raises(OptionError, match="conditions='symbols' needs one-hot inputs"):
        dynalysis.find_fixed_points(system, torch.full((1, 5, 2), 0.5, dtype=F64), conditions="symbols")
    with pytest.raises(OptionError, match="not both"):
        dynalysis.find_fixed_points(system, conditions="zero", constant_input="zero")
    assert [c for c in calls] == []


def test_an_unconverged_start_is_never_a_point_let_alone_a_stable_one():
    """tanh(2h) from far starts with 2 iterations: the stable points ±h* are not reached, and
    the starts that did not get there are 'unconverged', never listed (let alone 'stable')."""
    system = dynalysis.MapSystem(lambda h, x: torch.tanh(2 * h), 1)
    starts = torch.linspace(-40, 40, 17, dtype=F64)[:, None]
    ds = dynalysis.find_fixed_points(system, starts=starts, max_iter=2)
    status = ds.start_status.values
    assert (status == UNCONVERGED).sum() > 0
    assert (ds.start_assignment.values[status == UNCONVERGED] == -1).all()
    assert (ds.q.values[ds.kind.values == 0] < 1e-12).all()  # every listed fixed point has converged
    stable = ds.state.values[(ds.stability.values == STABLE), 0]
    assert np.all(np.isclose(np.abs(stable), H_STAR, atol=1e-10))  # only true attractors are stable
    assert int(ds.n_unconverged[0]) == (status == UNCONVERGED).sum()
    full = dynalysis.find_fixed_points(system, starts=starts)
    assert (full.start_status.values != UNCONVERGED).all() and int(full.n_stable[0]) == 2


def test_a_line_of_slow_points_is_one_entry_with_its_extent():
    """h' = (h₀ + c, 0.5 h₁): no fixed point; q = ½c² is minimal on the whole line h₁ = 0."""
    c = 1e-4
    system = dynalysis.MapSystem(lambda h, x: torch.stack([h[:, 0] + c, 0.5 * h[:, 1]], 1), 2)
    g = torch.Generator().manual_seed(0)
    starts = torch.stack([torch.linspace(-1, 1, 200, dtype=F64), torch.randn(200, generator=g, dtype=F64)], 1)
    ds = dynalysis.find_fixed_points(system, starts=starts)
    assert int(ds.n_fixed_points[0]) == 0 and int(ds.n_slow[0]) == 1  # not 200 near-duplicates
    assert float(ds.extent[0]) > 1.8 and int(ds.start_count[0]) == (ds.start_status.values == SLOW).sum() > 150
    assert float(ds.q[0]) == pytest.approx(0.5 * c ** 2, rel=1e-6)


def test_deduplication_is_relative_to_the_state_scale():
    """s·tanh(2h/s) has fixed points 0, ±s·h*; at s = 1e-8 an absolute 1e-6 radius merged them."""
    s = 1e-8
    system = dynalysis.MapSystem(lambda h, x: s * torch.tanh(2 * h / s), 1)
    ds = dynalysis.find_fixed_points(system, starts=torch.linspace(-2 * s, 2 * s, 21, dtype=F64)[:, None])
    np.testing.assert_allclose(np.sort(ds.state.values[:, 0]), [-s * H_STAR, 0, s * H_STAR], atol=1e-6 * s)


def test_a_saddle_carries_its_unstable_eigenvector():
    """In the basis R: u₀ ← 1.5 u₀ − 0.5 u₀³, u₁ ← 0.5 u₁. The origin is a saddle, J = R diag(1.5, 0.5) Rᵀ,
    unstable along R e₀; u₀ = ±1 are stable (slope 0)."""
    theta = 0.3
    R = torch.tensor([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]], dtype=F64)

    def step(h, x):
        u = h @ R  # coordinates in the eigenbasis
        v = torch.stack([1.5 * u[:, 0] - 0.5 * u[:, 0] ** 3, 0.5 * u[:, 1]], 1)
        return v @ R.T

    ds = dynalysis.find_fixed_points(dynalysis.MapSystem(step, 2), starts=torch.randn(
        32, 2, generator=torch.Generator().manual_seed(1), dtype=F64))
    origin = np.flatnonzero(np.linalg.norm(ds.state.values, axis=1) < 1e-10)[0]
    assert int(ds.stability[origin]) == UNSTABLE and int(ds.n_unstable[origin]) == 1
    np.testing.assert_allclose(ds.unstable_direction.values[origin], R[:, 0].numpy(), atol=1e-12)
    stable = ds.stability.values == STABLE
    assert stable.sum() == 2 and np.isnan(ds.unstable_direction.values[stable]).all()


def test_forward_simulation_reports_an_attractor_the_search_missed():
    """Starts only near +h*: the search cannot find −h*, the trajectories visit both sides."""
    system = dynalysis.MapSystem(lambda h, x: torch.tanh(2 * h + 3 * x), 1, 1)
    x = torch.zeros(2, 30, 1, dtype=F64)
    x[0, 0], x[1, 0] = 1.0, -1.0  # one pulse each way, then zero input
    with pytest.warns(dynalysis.MissedAttractorWarning, match="1 at 'zero'"):
        ds = dynalysis.find_fixed_points(system, x, starts=torch.tensor([[0.9], [1.1]], dtype=F64))
    assert int(ds.missed_attractors[0]) == 1 and int(ds.simulated_attractors[0]) == 2
    ds = dynalysis.find_fixed_points(system, x, n_starts=16)
    assert int(ds.missed_attractors[0]) == 0 and int(ds.n_stable[0]) == 2
    off = dynalysis.find_fixed_points(system, x, n_starts=16, check_steps=0)
    assert int(off.missed_attractors[0]) == -1


@pytest.mark.parametrize("kwargs, match", [
    ({"conditions": "median"}, "conditions"), ({"conditions": []}, "conditions"),
    ({"conditions": {"a": [1.0, 2.0]}}, "conditions"), ({"start_noise": []}, "start_noise"),
    ({"start_noise": (0.1, -1.0)}, "start_noise"), ({"extreme_fraction": -0.1}, "extreme_fraction"),
    ({"initial_fraction": 0.6, "extreme_fraction": 0.6}, "extreme_fraction"),
    ({"manifold_tol": 1e-6}, "manifold_tol"), ({"check_starts": -1}, "check_starts"),
    ({"check_steps": 2.5}, "check_steps"),
])
def test_new_options_are_checked_before_any_step(kwargs, match):
    calls = []
    system = dynalysis.MapSystem(lambda h, x: calls.append(1) or 0.5 * h + x, 1, 1)
    with pytest.raises(OptionError, match=match):
        dynalysis.find_fixed_points(system, torch.zeros(1, 4, 1, dtype=F64), **kwargs)
    assert calls == [] or calls == [1]  # at most MapSystem.to's one-row dtype probe


# --- the CLI on a one-hot task: the task's own conditions by default ----------------------------
@pytest.fixture(scope="module")
def tomita_checkpoint(tmp_path_factory):
    from lightning_modules import train_run

    run = train_run(cell="gru", task="tomita", root_dir=tmp_path_factory.mktemp("tomita"), hidden_size=8,
                    max_epochs=1, batch_size=32, cell_options={"seed": 0},
                    task_options=dict(grammar=1, max_len=8, test_min_len=9, test_max_len=10, n_train=64,
                                      n_val=16, n_test=16))
    return run.checkpoint


def _cli(*argv):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, argv)], cwd=ROOT, capture_output=True,
                          text=True)


def test_cli_searches_at_the_tasks_pad_and_symbols_by_default(tomita_checkpoint, tmp_path):
    out = tmp_path / "r.nc"
    res = _cli("analyze", tomita_checkpoint, "--out", out, "--analyses", "fixed_points", "--steps", "120",
               "--transient", "10", "--n-trajectories", "2", "--fixed-point-starts", "16")
    assert res.returncode == 0, res.stderr
    ds = xr.open_dataset(out, group="fixed_points")
    assert [str(c) for c in dynalysis.open_results(out, group="fixed_points").condition.values] == \
        ["pad", "symbol_0", "symbol_1"]
    np.testing.assert_array_equal(ds.constant_input.values, np.eye(3))
    assert ds.sizes["start"] == 3 * 16
    res = _cli("analyze", tomita_checkpoint, "--out", tmp_path / "s.nc", "--analyses", "fixed_points",
               "--steps", "120", "--transient", "10", "--n-trajectories", "2", "--fixed-point-conditions",
               "zero,symbols")
    assert res.returncode == 0, res.stderr
    names = dynalysis.open_results(tmp_path / "s.nc", group="fixed_points").condition.values
    assert [str(c) for c in names] == ["zero", "onehot_0", "onehot_1", "onehot_2"]


def test_cli_refuses_a_bad_condition_in_one_line_before_any_work(tomita_checkpoint, tmp_path):
    res = _cli("analyze", tomita_checkpoint, "--out", tmp_path / "r.nc", "--fixed-point-conditions", "zero,pad")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "invalid --fixed-point-conditions='pad'" in res.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "r.nc").exists()


def test_the_figure_has_one_panel_per_condition_or_the_chosen_one(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from dynalysis.plotting import fixed_points as fp_fig, plot_fixed_points

    system, _, _ = _affine([[0.5, 0.2], [-0.1, 0.3]], [[1.0, 0.0, 2.0], [0.0, -1.0, 1.0]])
    ds = dynalysis.find_fixed_points(system, _one_hot_inputs([0, 1, 2, 1, 0, 2, 2], 3), conditions="symbols",
                                     n_starts=4)
    fig = fp_fig.figures(ds)["fixed_points_pca"]()
    titles = [ax.get_title() for ax in fig.axes if ax.axison]
    assert titles == [f"input onehot_{k}: 1 stable, 0 unstable, 0 slow" for k in range(3)]
    assert all(ax.get_aspect() == 1.0 for ax in fig.axes if ax.axison)
    with pytest.raises(OptionError, match="invalid condition='pad'; allowed values: onehot_0, onehot_1"):
        plot_fixed_points(ds, tmp_path / "figs", condition="pad")
    assert not (tmp_path / "figs").exists()
    (pca, _) = plot_fixed_points(ds, tmp_path / "figs", condition="onehot_1")
    assert pca.name == "fixed_points_pca.png" and pca.stat().st_size > 0


def test_cli_plot_draws_one_condition_and_refuses_others_before_drawing(tomita_checkpoint, tmp_path):
    out = tmp_path / "r.nc"
    res = _cli("analyze", tomita_checkpoint, "--out", out, "--analyses", "lyapunov,fixed_points", "--steps", "120",
               "--transient", "10", "--n-trajectories", "2", "--fixed-point-starts", "8")
    assert res.returncode == 0, res.stderr
    res = _cli("plot", out, "--out", tmp_path / "bad", "--condition", "symbol_7")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "invalid --condition='symbol_7'; allowed values: pad, symbol_0, symbol_1" in res.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())  # nothing drawn
    res = _cli("plot", out, "--out", tmp_path / "figs", "--condition", "symbol_1")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "figs" / "fixed_points_pca.png").stat().st_size > 0
    assert (tmp_path / "figs" / "lyapunov_spectrum.png").stat().st_size > 0  # the other analyses as usual
    lya_only = tmp_path / "l.nc"
    res = _cli("analyze", tomita_checkpoint, "--out", lya_only, "--analyses", "lyapunov", "--steps", "120",
               "--transient", "10", "--n-trajectories", "2")
    assert res.returncode == 0, res.stderr
    res = _cli("plot", lya_only, "--out", tmp_path / "none", "--condition", "pad")
    assert res.returncode == 2 and "holds no fixed-point result" in res.stderr.strip().splitlines()[-1]


def test_a_period_2_attractor_is_reported_as_an_orbit_the_search_cannot_list():
    """h' = −tanh(2h): a stable 2-cycle ±0.9575 (|d(F∘F)/dh| < 1 there) and one unstable fixed
    point 0 (F'(0) = −2); no attractor is a fixed point, and the cross-check says so."""
    system = dynalysis.MapSystem(lambda h, x: -torch.tanh(2 * h + x), 1, 1)
    x = torch.zeros(2, 30, 1, dtype=F64)
    x[0, 0], x[1, 0] = 1.0, -1.0
    with pytest.warns(dynalysis.MissedAttractorWarning, match="period 2 at 'zero'"):
        ds = dynalysis.find_fixed_points(system, x, n_starts=16, check_starts=8)
    assert int(ds.n_stable[0]) == 0 and int(ds.simulated_attractors[0]) == 0
    assert int(ds.simulated_period[0]) == 2 and int(ds.unsettled_simulations[0]) == 8
    np.testing.assert_allclose(ds.state.values[ds.kind.values == 0], [[0.0]], atol=1e-12)
    quiet = dynalysis.MapSystem(lambda h, x: torch.tanh(2 * h + x), 1, 1)  # two stable fixed points
    ds = dynalysis.find_fixed_points(quiet, x, n_starts=16, check_starts=8)
    assert int(ds.simulated_period[0]) == 0 and int(ds.unsettled_simulations[0]) == 0
