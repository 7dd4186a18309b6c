"""End to end: analyses/nonnormal_dynamics/study.py at the tiny size, outputs checked against
the closed forms of docs/science.md §3 (chain Henrici index, Fisher memory totals)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dynalysis

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "analyses" / "nonnormal_dynamics" / "study.py"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("nonnormal_tiny")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--size", "tiny", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "run 8/8" in proc.stdout
    return out


def test_combined_results_have_runs_and_fisher_curves(tiny):
    ds = dynalysis.open_results(tiny / "nonnormal_dynamics.nc")
    assert ds.sizes["run"] == 8 and len(list((tiny / "runs").glob("*.nc"))) == 8
    assert set(ds.task.values) == {"copy", "adding"}
    assert set(ds.init.values) == {"identity", "orthogonal", "chain", "chain_feedback"}
    for var in ("trained_henrici", "initial_henrici", "trained_motif_profile", "trained_eigenvalue",
                "loss_over_chance", "success", "fisher_memory", "fisher_memory_total"):
        assert var in ds and "long_name" in ds[var].attrs, var
    assert np.iscomplexobj(ds.trained_eigenvalue.values)
    assert ds.sizes["order_difference"] == 2 * 8 - 1
    np.testing.assert_array_equal(ds.success.values, ds.loss_over_chance.values < 0.5)


def test_initial_henrici_matches_closed_forms(tiny):
    ds = dynalysis.open_results(tiny / "nonnormal_dynamics.nc")
    N = 8
    for run in ds.run.values:
        r = ds.sel(run=run)
        init, s = str(r.init.values), float(r.scale)
        expected = {"chain": s * np.sqrt(N - 1), "chain_feedback": np.sqrt(N - 1) * abs(0.99 - s),
                    "identity": 0.0, "orthogonal": 0.0}[init]
        assert float(r.initial_henrici) == pytest.approx(expected, abs=1e-6), run


def test_fisher_memory_closed_forms(tiny):
    ds = dynalysis.open_results(tiny / "nonnormal_dynamics.nc")
    H100 = np.sum(1.0 / np.arange(1, 101))
    assert float(ds.fisher_memory_total.sel(fisher_case="chain 1.0")) == pytest.approx(H100, abs=1e-6)
    np.testing.assert_allclose(ds.fisher_memory.sel(fisher_case="chain 1.0").values[:100],
                               1.0 / np.arange(1, 101), atol=1e-6)
    for case in ("identity 0.99", "orthogonal 0.99"):
        assert float(ds.fisher_memory_total.sel(fisher_case=case)) == pytest.approx(1.0, abs=1e-6)


def test_report_and_figures(tiny):
    text = (tiny / "REPORT.md").read_text()
    for needle in ("46/462", "11/462", "0/594", "2.33", "Did it reproduce?", "Wall time", "--size tiny",
                   "Transient growth and pseudospectra", "Do chains grow transiently?",
                   "Does training create transient growth"):
        assert needle in text, needle
    figs = sorted(p.name for p in (tiny / "figures").glob("*.png"))
    assert figs == sorted(["success_grid.png", "fisher_memory.png", "henrici.png", "chain_motif.png",
                           "trained_eigenvalues.png", "transient_growth.png"])
    assert all((tiny / "figures" / f).stat().st_size > 5000 for f in figs)


def test_transient_growth_of_the_initial_matrices_matches_closed_forms(tiny):
    """Chain ‖W^k‖₂ = α^k (k < N), nilpotent (ρ = 0); λI and λQ are normal: amplification 1 and
    (ρ_ε − ρ)/ε = 1 exactly. (The Kreiss bound is not checked here: the tiny size sits at ρ = 1,
    where K = 1 is a 0/0 limit that the numerical search resolves to ~2e-5 only.)"""
    ds = dynalysis.open_results(tiny / "nonnormal_dynamics.nc")
    N = 8
    for run in ds.run.values:
        r = ds.sel(run=run)
        init, s = str(r.init.values), float(r.scale)
        if init == "chain":
            assert float(r.initial_peak_norm) == pytest.approx(s ** (N - 1) if s > 1 else s, rel=1e-12)
            assert int(r.initial_transient) == int(s > 1)
        if init in ("identity", "orthogonal"):
            # float32 weights: λQ is orthogonal to ~1e-7 only, and ‖Q^k‖ drifts by k times that
            assert float(r.initial_amplification) == pytest.approx(1.0, abs=4 * 8 * 6e-8)
            assert float(r.initial_pseudo_sensitivity) == pytest.approx(1.0, abs=1e-3)  # radius to rtol 1e-6
            assert int(r.initial_transient) == 0
        for when in ("initial", "trained"):
            assert float(r[f"{when}_amplification"]) >= 1.0 - 1e-9  # k = 0 gives 1
