"""End to end: analyses/eigen_init/study.py at the tiny size; the recorded initial spectra are
checked against each initializer's definition (docs/science.md §2)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dynalysis

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "analyses" / "eigen_init" / "study.py"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("eigen_tiny")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--size", "tiny", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "run 19/19" in proc.stdout
    return out


def _elman_initial(ds, init):
    r = ds.isel(run=np.flatnonzero((ds.cell.values == "elman") & (ds.init.values == init)
                                   & (ds.task_kind.values == "classification"))[0])
    return r.initial_eigenvalue.sel(gate="recurrent").values


def test_combined_results_layout(tiny):
    ds = dynalysis.open_results(tiny / "eigen_init.nc")
    assert ds.sizes["run"] == 19 and len(list((tiny / "runs").glob("*.nc"))) == 19
    assert set(ds.cell.values) == {"elman", "lstm", "gru"}
    assert set(ds.task_kind.values) == {"classification", "regression"}
    for var in ("eigenvalue", "initial_eigenvalue", "test_acc", "val_loss", "jacobian_spectral_radius"):
        assert var in ds and "long_name" in ds[var].attrs, var
    assert np.iscomplexobj(ds.eigenvalue.values)
    cls = ds.task_kind.values == "classification"
    assert np.all((ds.test_acc.values[cls] >= 0) & (ds.test_acc.values[cls] <= 1))
    # each cell fills exactly its own hidden-to-hidden blocks
    expected = {"elman": {"recurrent"}, "lstm": {"input", "forget", "cell", "output"},
                "gru": {"reset", "update", "new"}}
    for cell, gates in expected.items():
        r = ds.isel(run=np.flatnonzero(ds.cell.values == cell)[0])
        filled = {str(g) for g in ds.gate.values if np.isfinite(r.eigenvalue.sel(gate=g).values).all()}
        assert filled == gates, cell


def test_initial_spectra_follow_the_initializers(tiny):
    ds = dynalysis.open_results(tiny / "eigen_init.nc")
    eig = _elman_initial(ds, "eigen")
    assert np.all((np.abs(eig) >= 0.9 - 1e-6) & (np.abs(eig) <= 1.0 + 1e-6))  # r_k ~ U[0.9, 1]
    np.testing.assert_allclose(_elman_initial(ds, "irnn"), 1.0, atol=1e-6)      # W = I
    np_rnn = _elman_initial(ds, "np_rnn")                                        # SPD, λ_max = 1
    np.testing.assert_allclose(np_rnn.imag, 0.0, atol=1e-6)
    assert np.abs(np_rnn).max() == pytest.approx(1.0, abs=1e-5) and np_rnn.real.min() > 0
    np.testing.assert_allclose(np.abs(_elman_initial(ds, "orthogonal")), 1.0, atol=1e-5)
    for gate in ("input", "forget", "cell", "output"):  # eigen init on every LSTM gate block
        r = ds.isel(run=np.flatnonzero((ds.cell.values == "lstm") & (ds.init.values == "eigen"))[0])
        mod = np.abs(r.initial_eigenvalue.sel(gate=gate).values)
        assert np.all((mod >= 0.9 - 1e-6) & (mod <= 1.0 + 1e-6)), gate


def test_report_and_figures(tiny):
    text = (tiny / "REPORT.md").read_text()
    for needle in ("outperforms Xavier", "near the unit circle", "Did it reproduce?", "Wall time",
                   "--size tiny", "| tomita4 | lstm |"):
        assert needle in text, needle
    figs = sorted(p.name for p in (tiny / "figures").glob("*.png"))
    assert figs == sorted(["tomita_elman_accuracy.png", "cells_accuracy.png", "initial_spectra.png",
                           "spectra_classification_vs_regression.png", "modulus_phase_histograms.png"])
    assert all((tiny / "figures" / f).stat().st_size > 5000 for f in figs)
