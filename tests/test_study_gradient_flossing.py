"""End to end: analyses/gradient_flossing/study.py at the tiny size."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dynalysis

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "analyses" / "gradient_flossing" / "study.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("floss_tiny")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--size", "tiny", "--out", str(out)],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "run 2/2" in proc.stdout
    return out


def test_combined_results_layout(tiny):
    ds = dynalysis.open_results(tiny / "gradient_flossing.nc")
    assert ds.sizes["run"] == 2 and len(list((tiny / "runs").glob("*.nc"))) == 2
    assert sorted(ds.condition.values.tolist()) == ["flossed", "plain"]
    for var in ("val_loss", "loss_over_chance", "success", "exponent", "initial_exponent", "preflossed_exponent"):
        assert var in ds and "long_name" in ds[var].attrs and "units" in ds[var].attrs, var
    assert ds.exponent.dims == ("run", "exponent_index") and ds.sizes["exponent_index"] == 2
    flossed = ds.condition.values == "flossed"
    # both conditions start from the same weights; only the flossed run was pre-flossed
    np.testing.assert_allclose(ds.initial_exponent.values[flossed], ds.initial_exponent.values[~flossed])
    assert np.isfinite(ds.preflossed_exponent.values[flossed]).all()
    assert np.isnan(ds.preflossed_exponent.values[~flossed]).all()
    assert np.all(np.diff(ds.exponent.values, axis=1) <= 1e-12)  # sorted


def test_report_and_figures(tiny):
    text = (tiny / "REPORT.md").read_text()
    assert "| delay | condition |" in text and "## Verdict" in text and "Beside the paper" in text
    for name in ("loss_by_delay.png", "exponents.png"):
        assert (tiny / "figures" / name).stat().st_size > 5_000


def test_medium_is_planned_not_run():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--size", "medium", "--dry-run"], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "18 training runs" in proc.stdout and "nothing was trained or written" in proc.stdout
