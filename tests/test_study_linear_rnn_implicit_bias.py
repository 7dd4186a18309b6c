"""End to end: analyses/linear_rnn_implicit_bias/study.py at the tiny size; the recorded kernels,
β_j and predicted half-times are checked against their definitions (docs/science.md §4)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import dynalysis
from dynalysis.tasks import build_task

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "analyses" / "linear_rnn_implicit_bias" / "study.py"
STUDY = "linear_rnn_implicit_bias"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("linear_tiny")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--size", "tiny", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "run 2/2" in proc.stdout
    return out


def test_outputs_exist_and_are_labelled(tiny):
    ds = dynalysis.open_results(tiny / f"{STUDY}.nc")
    assert ds.sizes["run"] == 2 and len(list((tiny / "runs").glob("*.nc"))) == 2
    assert set(ds.dims) >= {"run", "step", "lag"}
    for var in ("kernel", "kernel_predicted", "teacher_kernel", "beta", "tap_fraction", "half_time",
                "half_time_predicted", "spectral_radius", "val_loss_over_chance"):
        assert var in ds and {"long_name", "units"} <= set(ds[var].attrs), var
    assert sorted(ds.s_A.values.tolist()) == [0.3, 0.9]
    assert ds.step.values[0] == 0 and np.all(np.diff(ds.step.values) > 0)
    report = (tiny / "REPORT.md").read_text()
    assert "Did it reproduce?" in report and "β_j" in report and "--size tiny" in report
    assert report.split("Did it reproduce?")[1].split("**")[1].rstrip(".") in {"Yes", "Partly", "No"}
    figures = {p.name for p in (tiny / "figures").glob("*.png")}
    assert figures == {"kernel_over_training.png", "tap_learning_curves.png", "half_time_vs_beta.png",
                       "final_fraction_and_radius.png"}


def test_teacher_beta_and_prediction_follow_their_definitions(tiny):
    ds = dynalysis.open_results(tiny / f"{STUDY}.nc")
    T, eta, lags = int(ds.attrs["seq_len"]), float(ds.attrs["lr"]), ds.lag.values
    teacher = build_task("linear_teacher", kernel="custom",
                         kernel_values=[0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]).teacher_kernel()
    for r in range(ds.sizes["run"]):
        d = ds.isel(run=r)
        s_A = float(d.s_A)
        np.testing.assert_allclose(d.teacher_kernel.values[: len(teacher)], teacher.numpy())
        beta = s_A ** (2 * lags) * 2.0 + lags * s_A ** (2 * np.maximum(lags - 1, 0))  # s_B = s_C = 1
        np.testing.assert_allclose(d.beta.values, beta, rtol=1e-12)
        assert d.beta.values[0] == pytest.approx(2.0) and d.beta.values[1] == pytest.approx(2 * s_A**2 + 1)
        taps = d.teacher_kernel.values != 0
        factor = 1 - 2 * eta * beta * (T - lags) / T
        np.testing.assert_allclose(d.half_time_predicted.values[taps], np.log(2) / -np.log(factor[taps]))
        assert np.isnan(d.half_time_predicted.values[~taps]).all()
        # the prediction starts from the measured init kernel and relaxes toward the teacher
        np.testing.assert_allclose(d.kernel_predicted.values[0], d.kernel.values[0])
        gap = np.abs(d.kernel_predicted.values - d.teacher_kernel.values)
        assert np.all(np.diff(gap, axis=0) <= 1e-12)


def test_recorded_kernel_is_C_A_power_B_of_the_final_checkpoint(tiny):
    ds = dynalysis.open_results(tiny / f"{STUDY}.nc")
    for path in sorted((tiny / "runs").glob("*.nc")):
        run = dynalysis.open_results(path)
        net = dynalysis.load_checkpoint(run.attrs["checkpoint"], dtype=torch.float64).net
        A, B, C = net.A.detach(), net.B.detach(), net.C.detach()
        K, P = [], B
        for _ in range(ds.sizes["lag"]):
            K.append(float((C @ P).squeeze()))
            P = A @ P
        np.testing.assert_allclose(run.kernel.values[-1], K, rtol=1e-9, atol=1e-12)
        assert run.spectral_radius.values[-1] == pytest.approx(
            float(torch.linalg.eigvals(A).abs().max()), rel=1e-6)
