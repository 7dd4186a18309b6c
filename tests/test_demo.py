"""The demo: its summary says how far to trust each headline number, and its console is quiet."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import xarray as xr
import yaml

import dynalysis
from lightning_modules.demo import summary_lines, summary_numbers

ROOT = Path(__file__).resolve().parents[1]


def _results(tmp_path, *, reliability: bool) -> Path:
    """A results file as the analyses write it, with or without their reliability variables."""
    lyap = xr.Dataset({"exponent": ("exponent_index", [4.1e-4, -3.9e-4]),
                       "kaplan_yorke_dimension": ((), 2.0)})
    mem = xr.Dataset({"memory_time": ((), 49.6), "memory_capacity": ((), 0.035)},
                     coords={"lag": np.arange(51)})
    nn = xr.Dataset({"henrici": ((), 6.53), "henrici_normalized": ((), 0.71), "henrici_reliable": ((), 1)})
    if reliability:
        lyap["exponent_ci_low"] = ("exponent_index", [2.0e-4, -5.0e-4])
        lyap["exponent_ci_high"] = ("exponent_index", [6.0e-4, -2.0e-4])
        lyap["converged"] = ("exponent_index", np.array([0, 1], dtype=np.int8))
        lyap["all_converged"] = ((), np.int8(0))
        lyap["kaplan_yorke_ci_low"] = ((), 1.0)
        lyap["kaplan_yorke_ci_high"] = ((), 2.0)
        mem["memory_time_censored"] = ((), np.int8(1))
    return dynalysis.save_results({"lyapunov": lyap, "nonnormality": nn, "memory": mem}, tmp_path / "r.nc")


def test_summary_prints_each_headline_number_with_its_reliability(tmp_path):
    numbers = summary_numbers(_results(tmp_path, reliability=True), {"test_acc": 0.86})
    lines = {ln.split()[0]: ln.split(None, 1)[1] for ln in summary_lines(numbers)}
    assert lines["largest_lyapunov_exponent_per_step"] == "0.00041 (CI 0.0002 to 0.0006) (not converged)"
    assert lines["kaplan_yorke_dimension"] == "2 (from the exponents' CIs: 1 to 2) (exponents not all converged)"
    assert lines["memory_time_steps"] == "≥ 50 steps (the kernel has not decayed within max_lag)"
    assert lines["henrici_index"] == "6.53" and lines["test_accuracy"] == "0.86"
    assert numbers["largest_lyapunov_exponent_ci"] == [2e-4, 6e-4] and numbers["memory_time_censored"] is True


def test_summary_of_results_without_reliability_variables_prints_the_numbers(tmp_path):
    lines = {ln.split()[0]: ln.split(None, 1)[1]
             for ln in summary_lines(summary_numbers(_results(tmp_path, reliability=False), {}))}
    assert lines["largest_lyapunov_exponent_per_step"] == "0.00041"
    assert lines["memory_time_steps"] == "49.6 steps" and lines["kaplan_yorke_dimension"] == "2"


def test_a_memory_time_beyond_the_lags_computed_is_a_bound(tmp_path):
    mem = xr.Dataset({"memory_time": ((), np.nan)}, coords={"lag": np.arange(51)})
    path = dynalysis.save_results({"memory": mem}, tmp_path / "m.nc")
    (line,) = summary_lines(summary_numbers(path, {}))[1:]
    assert line.split(None, 1)[1] == "≥ 50 steps (the kernel has not decayed within max_lag)"


def test_demo_console_shows_no_warnings_or_adverts(tmp_path):
    """The demo path end to end on a tiny config: its console is the demo's own lines,
    Lightning's progress bar and nothing it triggers itself."""
    cfg = yaml.safe_load((ROOT / "configs" / "wcrnn_digits.yaml").read_text())
    cfg["model"]["init_args"]["hidden_size"] = 6
    cfg["data"]["init_args"]["order"] = "row"
    cfg["trainer"].update(limit_train_batches=2, limit_val_batches=1, log_every_n_steps=1, enable_progress_bar=False)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(cfg))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    res = subprocess.run([sys.executable, str(ROOT / "cli.py"), "demo", "--config", str(config), "--out",
                          str(tmp_path / "demo"), "--max-epochs", "1", "--steps", "300"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    console = res.stdout + res.stderr
    assert res.returncode == 0, console
    for noise in ("warning", "Warning", "Tip:", "GPU available", "TPU available", "Seed set"):
        assert noise not in console, console
    assert "[4/4] summary" in res.stdout and "largest_lyapunov_exponent_per_step" in res.stdout
    (summary,) = (tmp_path / "demo").rglob("summary.json")
    numbers = json.loads(summary.read_text())
    assert np.isfinite(numbers["largest_lyapunov_exponent_per_step"]) and numbers["figures"]
