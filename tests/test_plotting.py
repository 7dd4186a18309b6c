"""Figures say what they show: scales, aspect, labels and notes, checked on the Figure objects.

Every plotter ``PLOTTERS[name](ds, out_dir, *, overwrite=False)`` describes its figures as
``figures(ds) -> {file stem: draw}``; the tests draw them and read the axes (limits, aspect,
scales, tick labels, texts), never pixels. Results are hand-built Datasets
(`_plotting_helpers`), to control the values and to add or drop optional variables; writing
files is tested in test_plotting_files.py.
"""
from __future__ import annotations

import json

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot  # noqa: E402

from dynalysis.plotting import fixed_points as fp_fig  # noqa: E402
from dynalysis.plotting import jacobian as jac_fig  # noqa: E402
from dynalysis.plotting import lyapunov as lyap_fig  # noqa: E402
from dynalysis.plotting import memory as mem_fig  # noqa: E402
from dynalysis.plotting import nonnormality as nn_fig  # noqa: E402

from _plotting_helpers import (WCRNN_SYSTEM, fixed_points_ds, jacobian_ds, lyapunov_ds,  # noqa: E402
                               memory_ds, nonnormality_ds, rotation_eigs)

@pytest.fixture(autouse=True)
def _close_figures():
    yield
    matplotlib.pyplot.close("all")


def draw(module, ds, stem):
    fig = module.figures(ds)[stem]()
    fig.canvas.draw()  # tick labels and layout exist only after a draw
    return fig


def texts(fig) -> str:
    """Every string drawn on the figure (titles, labels, legends, notes, tick labels)."""
    return "\n".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))


def tick_labels(ax, axis="y") -> list[str]:
    a = ax.yaxis if axis == "y" else ax.xaxis
    return [t.get_text() for t in a.get_ticklabels() + a.get_ticklabels(minor=True) if t.get_text()]


def legend_labels(fig) -> list[str]:
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


# --- memory capacity: values far below 1 are visible --------------------------------------------
def test_small_memory_capacity_is_drawn_on_an_axis_scaled_to_it():
    cap = np.array([2.7e-3, 1.0e-3, 4e-4, 1e-4, 0.0])
    fig = draw(mem_fig, memory_ds(cap), "memory")
    ax = next(a for a in fig.axes if "memory capacity" in a.get_title())
    lo, hi = ax.get_ylim()
    assert lo == 0 and cap.max() <= hi < 2 * cap.max()  # the bars fill the panel
    assert "scaled to the data" in ax.get_title() and "of 1" in ax.get_title()
    assert not any("×" in s or "e-" in s for s in tick_labels(ax))


def test_memory_capacity_near_one_keeps_the_unit_scale():
    fig = draw(mem_fig, memory_ds([1.0, 0.9, 0.5, 0.1]), "memory")
    ax = next(a for a in fig.axes if "memory capacity" in a.get_title())
    assert ax.get_ylim() == (0, 1.05) and "scaled" not in ax.get_title()


@pytest.mark.parametrize("extra, label", [
    ({"memory_time_censored": ((), np.int8(1))}, "memory time ≥ window (4 steps)"),
    ({"memory_time_censored": ((), np.int8(0))}, "memory time 12.3 steps"),
    ({}, "memory time 12.3 steps"),  # older files: no flag
])
def test_memory_time_is_marked_and_censored_times_read_at_least_the_window(extra, label):
    fig = draw(mem_fig, memory_ds([0.5] * 5, **extra), "memory")
    assert label in legend_labels(fig)


def test_a_nan_memory_time_reads_at_least_the_window():
    fig = draw(mem_fig, memory_ds([0.5] * 5, memory_time=np.nan), "memory")
    assert "memory time ≥ window (4 steps)" in legend_labels(fig) and "nan" not in texts(fig)


def test_capacity_chance_level_is_drawn_and_kept_in_view():
    fig = draw(mem_fig, memory_ds([2e-3, 1e-3, 0.0], capacity_chance_level=((), 4e-3)), "memory")
    ax = next(a for a in fig.axes if "memory capacity" in a.get_title())
    (line,) = [ln for ln in ax.lines if ln.get_label().startswith("chance level")]
    assert list(line.get_ydata()) == [4e-3, 4e-3] and ax.get_ylim()[1] > 4e-3


def test_memory_divergence_is_noted_per_part():
    ds = memory_ds([0.5] * 3, diverged=("trajectory", np.array([1, 0], np.int8)),
                   capacity_diverged=("capacity_trajectory", np.array([1], np.int8)))
    text = texts(draw(mem_fig, ds, "memory"))
    assert "kernel: 1 of 2 trajectories diverged (NaN/inf); left out" in text
    assert "capacity: all 1 trajectories diverged (NaN/inf)" in text


# --- complex planes and PCA at equal aspect -----------------------------------------------------
def test_jacobian_zoom_has_equal_axes_so_the_unit_circle_is_round():
    fig = draw(jac_fig, jacobian_ds(rotation_eigs()), "jacobian_eigenvalues")
    whole, zoom = fig.axes[:2]
    for ax in (whole, zoom):
        assert ax.get_aspect() == 1.0
    (x0, x1), (y0, y1) = zoom.get_xlim(), zoom.get_ylim()
    assert x1 - x0 == pytest.approx(y1 - y0)  # a square window: same scale on both axes
    assert x0 < 0.99 * np.cos(np.pi / 4) < x1 and y0 < 0.99 * np.sin(np.pi / 4) < y1
    assert y0 > 0  # the upper cluster only: the spectrum is mirror-symmetric
    assert "Im λ ≥ 0" in zoom.get_title()


def test_jacobian_zoom_starts_at_the_real_axis_when_the_bulk_reaches_it():
    rng = np.random.default_rng(1)
    eig = rng.uniform(-0.5, 0.9, (2, 10, 4)) + 0j  # real spectra
    eig[..., 2:] = 0.3 + 0.2j
    fig = draw(jac_fig, jacobian_ds(eig), "jacobian_eigenvalues")
    zoom = fig.axes[1]
    y0, y1 = zoom.get_ylim()
    assert y0 < 0 < y1 and abs(y0) < 0.1 * (y1 - y0)


def test_fixed_point_figures_use_equal_aspect():
    ds = fixed_points_ds()
    assert draw(fp_fig, ds, "fixed_points_pca").axes[0].get_aspect() == 1.0
    assert draw(fp_fig, ds, "fixed_points_eigenvalues").axes[0].get_aspect() == 1.0


# --- singular values: plain tick labels --------------------------------------------------------
def test_narrow_singular_value_range_has_plain_linear_ticks():
    eig = rotation_eigs(radius=1.0)
    sv = np.linspace(1.08, 0.93, 4)[None, None, :].repeat(2, 0).repeat(30, 1)
    fig = draw(jac_fig, jacobian_ds(eig, sv), "jacobian_singular_values")
    ax = fig.axes[0]
    labels = tick_labels(ax)
    assert ax.get_yscale() == "linear" and labels
    assert not any("×" in s or "10^" in s or "$" in s for s in labels), labels
    values = [float(s.replace("−", "-")) for s in labels]  # plain numbers ("1.08×10⁰" is not)
    assert min(values) <= 0.95 and max(values) >= 1.06


def test_wide_singular_value_range_is_logarithmic():
    sv = np.logspace(0, -5, 4)[None, None, :].repeat(2, 0).repeat(30, 1)
    fig = draw(jac_fig, jacobian_ds(rotation_eigs(), sv), "jacobian_singular_values")
    assert fig.axes[0].get_yscale() == "log"


def test_log_axis_under_two_decades_labels_intermediate_ticks_plainly():
    fig = draw(mem_fig, memory_ds([0.5] * 4).assign(kernel_norm=("lag", [0.05, 0.02, 0.01, 0.004])), "memory")
    ax = next(a for a in fig.axes if "kernel" in a.get_title())
    labels = tick_labels(ax)
    assert ax.get_yscale() == "log" and {"0.01", "0.02", "0.05"} <= set(labels), labels


# --- which matrix the recurrent eigenvalues belong to -------------------------------------------
def test_wcrnn_results_that_do_not_say_which_matrix_warn_it_may_be_the_coupling():
    ds = jacobian_ds(rotation_eigs(), recurrent=[1.2, 0.5j, -0.5j, 0.1],
                     attrs={"system": WCRNN_SYSTEM, "has_recurrent_matrix": 1})
    text = texts(draw(jac_fig, ds, "jacobian_eigenvalues"))
    assert "coupling W" in text and "R + ε" in text
    text = texts(draw(nn_fig, nonnormality_ds(system=WCRNN_SYSTEM,
                                              matrix_source="recurrent_matrix() of the system"),
                      "nonnormality"))
    assert "coupling W" in text and "R + ε" in text


@pytest.mark.parametrize("attrs", [
    {"recurrent_matrix_description": "R + eps*W (the Jacobian at zero pre-activation)"},
    {"recurrent_matrix_description": "R + eps*W (the Jacobian at zero pre-activation)",
     "matrix_source": "recurrent_matrix() of the system"},
    {"matrix_source": "R + eps*W (the Jacobian at zero pre-activation)"},
])
def test_the_matrix_is_labelled_from_the_results_own_description(attrs):
    described = "R + eps*W (the Jacobian at zero pre-activation)"
    ds = jacobian_ds(rotation_eigs(), recurrent=[1.0, 0.5], attrs={"system": WCRNN_SYSTEM, **attrs})
    text = texts(draw(jac_fig, ds, "jacobian_eigenvalues"))
    assert described in text.replace("\n", " ") and "coupling" not in text
    text = texts(draw(nn_fig, nonnormality_ds(system=WCRNN_SYSTEM, **attrs), "nonnormality"))
    assert described in text.replace("\n", " ") and "coupling" not in text


def test_a_linearisation_analysed_in_place_of_a_matrix_is_named():
    ds = nonnormality_ds(system=json.dumps({"model": {"cell": "gru"}}),
                         matrix_source="Jacobian at the initial state, zero input")
    assert "W: Jacobian at the initial state, zero input" in texts(draw(nn_fig, ds, "nonnormality"))


def test_other_models_get_a_plain_matrix_label():
    ds = jacobian_ds(rotation_eigs(), recurrent=[0.5, 0.1],
                     attrs={"system": json.dumps({"model": {"cell": "elman"}})})
    text = texts(draw(jac_fig, ds, "jacobian_eigenvalues"))
    assert "recurrent weight matrix" in text and "coupling" not in text


# --- diverged networks: a note, never an empty "nan" plot --------------------------------------
def test_fully_diverged_lyapunov_result_says_so():
    ds = lyapunov_ds(diverged=3)
    for stem in ("lyapunov_spectrum", "lyapunov_convergence"):
        text = texts(draw(lyap_fig, ds, stem))
        assert "all 3 trajectories diverged (NaN/inf)" in text
        assert "nan" not in text.lower().replace("nan/inf", "")


def test_partly_diverged_lyapunov_result_notes_what_was_left_out():
    text = texts(draw(lyap_fig, lyapunov_ds(diverged=1), "lyapunov_spectrum"))
    assert "1 of 3 trajectories diverged (NaN/inf); left out" in text


def test_fully_diverged_jacobian_result_draws_a_note_instead_of_failing():
    eig = np.full((3, 5, 2), np.nan + 0j)
    ds = jacobian_ds(eig, np.full((3, 5, 2), np.nan), diverged=[1, 1, 1])
    for stem in ("jacobian_eigenvalues", "jacobian_singular_values"):
        fig = draw(jac_fig, ds, stem)
        assert "all 3 trajectories diverged (NaN/inf)" in texts(fig)


def test_partly_diverged_jacobian_result_leaves_the_nan_trajectory_out():
    eig = rotation_eigs(B=3)
    eig[2, 4:] = np.nan
    ds = jacobian_ds(eig, diverged=[0, 0, 1])
    fig = draw(jac_fig, ds, "jacobian_singular_values")
    assert "1 of 3 trajectories diverged (NaN/inf); left out" in texts(fig)
    rho = fig.axes[1].lines[1].get_ydata()  # the mean spectral radius over finite trajectories
    assert np.isfinite(rho).all()


# --- Lyapunov confidence intervals and convergence flags ----------------------------------------
def test_exponent_confidence_intervals_are_drawn_when_present():
    ds = lyapunov_ds()
    lam = ds.exponent.values
    ds = ds.assign(exponent_ci_low=("exponent_index", lam - 0.02),
                   exponent_ci_high=("exponent_index", lam + 0.03))
    fig = draw(lyap_fig, ds, "lyapunov_spectrum")
    assert "confidence interval" in legend_labels(fig)
    bars = [c for c in fig.axes[0].collections if isinstance(c, matplotlib.collections.LineCollection)]
    (segments,) = [b.get_segments() for b in bars]
    spans = sorted((s[0][1], s[1][1]) for s in segments)
    assert spans[-1] == pytest.approx((lam[0] - 0.02, lam[0] + 0.03))
    assert f"CI [{lam[0] - 0.02:.4g}, {lam[0] + 0.03:.4g}]" in texts(fig)


def test_unconverged_exponents_are_marked():
    ds = lyapunov_ds(converged=("exponent_index", np.array([0, 1, 1, 0], np.int8)))
    fig = draw(lyap_fig, ds, "lyapunov_spectrum")
    ax = fig.axes[0]
    open_markers = [ln for ln in ax.lines if ln.get_label() == "not converged"]
    assert len(open_markers) == 1 and list(open_markers[0].get_xdata()) == [0, 3]
    text = texts(fig)
    assert "(not converged)" in text and "2 of 4 exponents not converged" in text


def test_a_scalar_converged_flag_applies_to_every_exponent():
    fig = draw(lyap_fig, lyapunov_ds(converged=((), np.int8(1))), "lyapunov_spectrum")
    assert "converged" in legend_labels(fig) and "not converged" not in texts(fig)


def test_results_without_ci_or_converged_draw_neither():
    fig = draw(lyap_fig, lyapunov_ds(), "lyapunov_spectrum")
    labels = legend_labels(fig)
    assert "confidence interval" not in labels and "not converged" not in labels
    assert not any(isinstance(c, matplotlib.collections.LineCollection) for c in fig.axes[0].collections)


def test_exponent_units_follow_the_variable():
    fig = draw(lyap_fig, lyapunov_ds(units="1/s"), "lyapunov_spectrum")
    assert fig.axes[0].get_ylabel() == "λ_i  [nats / s]" and "nats/s" in texts(fig)
    fig = draw(lyap_fig, lyapunov_ds(units="1/s"), "lyapunov_convergence")
    assert fig.axes[0].get_xscale() == "log" and fig.axes[0].get_xlabel() == "time averaged since the transient [s]"


# --- the fixed-point PCA figure -----------------------------------------------------------------
def _rotating_trajectories(steps=200):
    """Two trajectories turning by 45° per step while growing: lines would draw a starburst."""
    t = np.arange(steps)
    r = 1 + t / 50
    z = np.stack([r * np.exp(1j * np.pi / 4 * t), -r * np.exp(1j * np.pi / 4 * t)])
    return np.stack([z.real, z.imag], -1), t + 1


def test_fast_rotating_trajectories_are_dots_not_a_starburst():
    traj, t = _rotating_trajectories()
    ax = draw(fp_fig, fixed_points_ds(trajectory_pc=traj, time=t), "fixed_points_pca").axes[0]
    assert not [ln for ln in ax.lines if len(ln.get_xdata()) > 10]
    (states,) = [c for c in ax.collections if c.get_label().startswith("visited states")]
    assert len(states.get_offsets()) == traj.shape[0] * traj.shape[1]


def test_slowly_moving_trajectories_are_also_drawn_as_thin_lines():
    t = np.arange(1, 301)
    traj = np.stack([np.stack([np.cos(t / 50), np.sin(t / 50)], -1)] * 2)
    ax = draw(fp_fig, fixed_points_ds(trajectory_pc=traj, time=t), "fixed_points_pca").axes[0]
    lines = [ln for ln in ax.lines if len(ln.get_xdata()) == 300]
    assert len(lines) == 2 and all(ln.get_linewidth() < 1 for ln in lines)


def test_points_are_drawn_by_stability_and_kind():
    fig = draw(fp_fig, fixed_points_ds(), "fixed_points_pca")
    by_label = {c.get_label(): c for c in fig.axes[0].collections}
    stable = by_label["stable fixed points (1)"]
    unstable = by_label["unstable fixed points (1)"]
    slow = by_label["unstable slow points (1)"]
    assert matplotlib.colors.to_hex(stable.get_facecolor()[0]) != "#ffffff"  # filled
    assert matplotlib.colors.to_hex(unstable.get_facecolor()[0]) == "#ffffff"  # open
    assert slow.get_sizes()[0] < unstable.get_sizes()[0]  # slow points small


def test_pcs_are_labelled_with_explained_variance():
    ax = draw(fp_fig, fixed_points_ds(), "fixed_points_pca").axes[0]
    assert ax.get_xlabel() == "PC1 (75% of top-2 var.)" and ax.get_ylabel() == "PC2 (25% of top-2 var.)"
    ds = fixed_points_ds().assign(pca_total_variance=((), 8.0))
    ax = draw(fp_fig, ds, "fixed_points_pca").axes[0]
    assert ax.get_xlabel() == "PC1 (38% of var.)"


def test_unstable_directions_are_short_segments_through_the_saddles():
    directions = np.full((3, 3), np.nan)
    directions[1] = [0.0, 1.0, 0.0]  # the unstable fixed point at (1, 0)
    traj, t = _rotating_trajectories()
    ds = fixed_points_ds(trajectory_pc=traj, time=t, directions=directions)
    ax = draw(fp_fig, ds, "fixed_points_pca").axes[0]
    (seg,) = [ln for ln in ax.lines if ln.get_label() == "unstable direction"]
    x, y = seg.get_xdata(), seg.get_ydata()
    assert np.allclose(x, 1.0) and np.mean(y) == pytest.approx(0.0)
    assert 0 < np.ptp(y) < 0.3 * np.ptp(traj[..., 1])  # short next to the state cloud
    ax = draw(fp_fig, fixed_points_ds(trajectory_pc=traj, time=t), "fixed_points_pca").axes[0]
    assert not [ln for ln in ax.lines if ln.get_label() == "unstable direction"]


def test_fixed_point_search_divergence_is_noted():
    ds = fixed_points_ds().assign(diverged=("start", np.array([1, 0, 0, 0], np.int8)),
                                  trajectory_diverged=("trajectory", np.array([0, 1], np.int8)))
    text = texts(draw(fp_fig, ds, "fixed_points_pca"))
    assert "1 of 4 starts of the search diverged (NaN/inf); left out" in text
    assert "1 of 2 driving trajectories diverged (NaN/inf); left out" in text


# --- legends never sit on the data --------------------------------------------------------------
@pytest.mark.parametrize("module, ds", [
    (lyap_fig, lyapunov_ds()), (jac_fig, jacobian_ds(rotation_eigs(), recurrent=[0.5, 0.2])),
    (fp_fig, fixed_points_ds()), (mem_fig, memory_ds([0.5] * 4)), (nn_fig, nonnormality_ds()),
])
def test_legends_are_outside_the_axes(module, ds):
    for stem in module.figures(ds):
        fig = draw(module, ds, stem)
        assert all(ax.get_legend() is None for ax in fig.axes), stem
        assert fig.legends, stem
