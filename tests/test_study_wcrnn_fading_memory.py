"""End to end: analyses/wcrnn_fading_memory/study.py at the tiny size; the recorded residual
spectra are checked against each residual's definition (docs/science.md §1)."""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dynalysis

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "analyses" / "wcrnn_fading_memory" / "study.py"
STUDY = "wcrnn_fading_memory"
N_RUNS = 13  # tiny: 2 λ × 2 tasks, 3 rotational, 2 heterogeneous, 2 non-linear, 2 Elman


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wcrnn_tiny")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--size", "tiny", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"run {N_RUNS}/{N_RUNS}" in proc.stdout
    return out


def test_outputs_exist_and_are_labelled(tiny):
    ds = dynalysis.open_results(tiny / f"{STUDY}.nc")
    assert ds.sizes["run"] == N_RUNS and len(list((tiny / "runs").glob("*.nc"))) == N_RUNS
    assert set(ds.dims) >= {"run", "exponent_index", "epoch"}
    for var in ("exponent", "residual_log_modulus", "lyapunov_max", "val_loss_over_chance", "val_acc",
                "val_acc_curve", "success"):
        assert var in ds and {"long_name", "units"} <= set(ds[var].attrs), var
    assert ds.exponent.attrs["units"] == "1/step"
    assert set(ds.group.values) == {"lambda_sweep", "rotational", "heterogeneous", "nonlinear", "elman"}
    assert set(ds.task.values) == {"digits", "adding"}
    # spectra sorted descending; λ_max is their first entry
    assert np.all(np.diff(ds.exponent.values, axis=1) <= 1e-12)
    np.testing.assert_array_equal(ds.lyapunov_max.values, ds.exponent.values[:, 0])
    digits = ds.task.values == "digits"
    assert np.all((ds.val_acc.values[digits] >= 0) & (ds.val_acc.values[digits] <= 1))
    assert np.isnan(ds.val_acc.values[~digits]).all()
    report = (tiny / "REPORT.md").read_text()
    assert "edge of chaos" in report and "Did it reproduce?" in report and "--size tiny" in report
    assert report.split("Did it reproduce?")[1].split("**")[1].rstrip(".") in {"Yes", "Partly", "No"}
    figures = {p.name for p in (tiny / "figures").glob("*.png")}
    assert figures == {"performance_vs_lambda.png", "lyapunov_vs_ln_lambda.png",
                       "residual_variants.png", "elman_inits.png"}


def test_residual_spectra_follow_their_definitions(tiny):
    ds = dynalysis.open_results(tiny / f"{STUDY}.nc")
    for r in range(ds.sizes["run"]):
        d = ds.isel(run=r)
        group, lam, moduli = str(d.group.values), float(d.lam), d.residual_log_modulus.values
        if group in ("lambda_sweep", "rotational", "nonlinear"):  # every |eig R| (or λ_i) equals λ
            np.testing.assert_allclose(moduli, math.log(lam), atol=1e-6)
        elif group == "heterogeneous":  # λ_i ~ U[0.9, 1]
            assert np.all((moduli >= math.log(0.9) - 1e-6) & (moduli <= 1e-6))
            assert np.ptp(moduli) > 0
        else:  # Elman: no residual
            assert np.isnan(moduli).all()
