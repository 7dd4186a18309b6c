"""Dynamics during training: `GradientFlossing` and `SpectrumMonitor` (SCIENCE.md §6).

Flossing is judged by an independent measurement (`dynalysis.lyapunov_spectrum` on the saved
checkpoint, long trajectories of the validation inputs), not by the callback's own log. The
monitor is run through the real CLI (YAML config, interruption, ``--ckpt_path last``).
"""
from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import dynalysis
from lightning_modules import GradientFlossing, SpectrumMonitor, train_run

ROOT = Path(__file__).resolve().parents[1]
CONTRACTING = dict(cell="elman", task="delayed_recall", hidden_size=16, batch_size=32, lr=3e-3,
                   cell_options={"init": "normal", "init_options": {"gain": 0.6}, "seed": 0},
                   task_options={"seq_len": 50, "n_train": 256, "n_val": 64, "n_test": 64, "lags": [5]})


def _lambda1(checkpoint) -> float:
    system = dynalysis.load_checkpoint(checkpoint)
    x = dynalysis.task_inputs(system, split="val", n_trajectories=8, steps=400)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dynalysis.NumericalReliabilityWarning)
        return float(dynalysis.lyapunov_spectrum(system, x, n_exponents=1, transient=50).exponent[0])


@pytest.fixture(scope="module")
def initial_lambda1(tmp_path_factory):
    run = train_run(root_dir=tmp_path_factory.mktemp("init"), max_epochs=1, max_steps=1, **CONTRACTING)
    return _lambda1(run.checkpoint)


def test_flossing_moves_lambda1_of_a_contracting_tanh_network_toward_the_target(tmp_path, initial_lambda1):
    assert initial_lambda1 < -0.45  # g = 0.6, input-driven: contracting
    flossing = GradientFlossing(n_exponents=1, target=0.0, weight=1.0, window=30, trajectories=8)
    flossed = _lambda1(train_run(root_dir=tmp_path / "f", max_epochs=100, max_steps=200,
                                 callbacks=[flossing], **CONTRACTING).checkpoint)
    plain = _lambda1(train_run(root_dir=tmp_path / "p", max_epochs=100, max_steps=200, **CONTRACTING).checkpoint)
    assert abs(flossed) < 0.5 * abs(initial_lambda1), (initial_lambda1, flossed)
    assert abs(flossed) < 0.5 * abs(plain), (plain, flossed)  # not what the task alone does
    phases = {phase for phase, _, _ in flossing.history}
    assert phases == {"train"} and len(flossing.history) == 200
    metrics = (tmp_path / "f" / "metrics.csv").read_text().splitlines()[0]
    assert "floss_lambda_1" in metrics and "floss_loss" in metrics


def test_pre_and_inter_flossing_move_toward_a_nonzero_target(tmp_path, initial_lambda1):
    flossing = GradientFlossing(n_exponents=2, target=-0.1, window=30, trajectories=8, every_n_steps=0,
                                pre_epochs=6, inter_every=2, inter_steps=1)
    train_run(root_dir=tmp_path, max_epochs=1, max_steps=4, callbacks=[flossing], **CONTRACTING)
    pre = [lam for phase, _, lam in flossing.history if phase == "prefloss"]
    inter = [step for phase, step, _ in flossing.history if phase == "interfloss"]
    assert len(pre) == 6 * 8  # 6 passes over 256 / 32 batches
    assert abs(pre[-1][0] + 0.1) < 0.5 * abs(pre[0][0] + 0.1), (pre[0], pre[-1])
    assert inter == [2, 4]


def test_bad_flossing_options_are_one_line_errors(tmp_path):
    for bad, match in [({"n_exponents": 0}, "n_exponents"), ({"weight": 0.0}, "weight"),
                       ({"window": 10, "transient": 10}, "transient"), ({"inter_every": -1}, "inter_every")]:
        with pytest.raises(dynalysis.OptionError, match=match):
            GradientFlossing(**bad)
    with pytest.raises(dynalysis.OptionError, match="n_exponents=17 exceeds the state size 16"):
        train_run(root_dir=tmp_path, max_steps=1, callbacks=[GradientFlossing(n_exponents=17)], **CONTRACTING)
    with pytest.raises(dynalysis.OptionError, match="analyses"):
        SpectrumMonitor(analyses=("lyapunov", "entropy"))


def test_the_monitor_file_has_one_group_per_analysis_along_epoch(tmp_path):
    path = tmp_path / "dyn" / "spectrum.nc"
    monitor = SpectrumMonitor(every_n_epochs=1, path=str(path), n_trajectories=2, steps=150, transient=20,
                              n_exponents=3, max_lag=10)
    train_run(root_dir=tmp_path / "run", max_epochs=3, callbacks=[monitor], **CONTRACTING)
    assert dynalysis.result_groups(path) == ["lyapunov", "nonnormality", "memory"]
    lyap = dynalysis.open_results(path, "lyapunov")
    assert lyap.epoch.values.tolist() == [0, 1, 2]
    assert lyap.exponent.dims == ("epoch", "exponent_index") and lyap.sizes["exponent_index"] == 3
    assert lyap.global_step.dims == ("epoch",) and lyap.global_step.values.tolist() == [8, 16, 24]
    assert lyap.epoch.attrs["units"] == "epoch"
    assert dynalysis.open_results(path, "nonnormality").henrici_normalized.dims == ("epoch",)
    assert dynalysis.open_results(path, "memory").memory_time.dims == ("epoch",)
    assert path.with_suffix(".png").stat().st_size > 10_000
    assert not list(path.parent.glob(".*.tmp"))  # appends left no temporary file behind


_INTERRUPT = '''
import pytorch_lightning as pl


class InterruptAfterMonitor(pl.Callback):
    """Dies after the monitor wrote epoch 1 but before that epoch's checkpoint."""

    def on_validation_end(self, trainer, pl_module):
        if trainer.current_epoch == 1:
            raise SystemExit(3)
'''


def _fit(tmp_path, *extra):
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "fit", "--config", str(ROOT / "configs" / "flossing_delayed_recall.yaml"),
         "--trainer.default_root_dir", str(tmp_path / "run"), "--trainer.enable_progress_bar", "false",
         "--trainer.enable_model_summary", "false", "--data.init_args.n_train", "128",
         "--data.init_args.n_val", "32", "--data.init_args.seq_len", "40", "--model.init_args.hidden_size", "8",
         *extra], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)


def test_the_monitor_resumes_an_interrupted_run_without_duplicating_epochs(tmp_path):
    (tmp_path / "interrupt.py").write_text(_INTERRUPT)
    first = _fit(tmp_path, "--trainer.max_epochs", "4", "--trainer.callbacks+=interrupt.InterruptAfterMonitor")
    assert first.returncode != 0
    path = tmp_path / "run" / "spectrum.nc"
    assert dynalysis.open_results(path, "lyapunov").epoch.values.tolist() == [0, 1]  # epoch 1 has no checkpoint
    second = _fit(tmp_path, "--trainer.max_epochs", "4", "--ckpt_path", "last")
    assert second.returncode == 0, second.stderr[-3000:]
    for group in ("lyapunov", "nonnormality", "memory"):
        ds = dynalysis.open_results(path, group)
        assert ds.epoch.values.tolist() == [0, 1, 2, 3], group
    lyap = dynalysis.open_results(path, "lyapunov")
    assert torch.isfinite(torch.as_tensor(lyap.exponent.values)).all()
    assert lyap.global_step.values.tolist() == sorted(lyap.global_step.values.tolist())
    assert path.with_suffix(".png").exists()


@pytest.mark.slow
def test_both_callbacks_under_ddp_on_two_cpu_processes(tmp_path):
    """Flossing-only steps (pre- and inter-flossing) average their gradients over the ranks, the
    loss term rides in DDP's own backward: the replicas end identical. The monitor writes one
    file, from rank 0."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = tmp_path / "run"
    override = tmp_path / "callbacks.yaml"
    override.write_text("trainer:\n  callbacks:\n"
                        "    - class_path: lightning_modules.GradientFlossing\n"
                        "      init_args: {n_exponents: 2, window: 20, trajectories: 8, pre_epochs: 1, inter_every: 1}\n"
                        "    - class_path: lightning_modules.SpectrumMonitor\n"
                        "      init_args: {n_trajectories: 2, steps: 120, transient: 20, n_exponents: 3, max_lag: 10}\n"
                        "    - class_path: test_ddp.SplitProbe\n")
    res = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "fit", "--config", str(ROOT / "configs" / "flossing_delayed_recall.yaml"),
         "--config", str(override), "--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu",
         "--trainer.max_epochs", "2", "--trainer.limit_val_batches", "1", "--trainer.num_sanity_val_steps", "0",
         "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
         "--trainer.default_root_dir", str(run),
         "--model.init_args.hidden_size", "8", "--data.init_args.n_train", "256", "--data.init_args.n_val", "32",
         "--data.init_args.seq_len", "40"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    import json

    probes = [json.loads((run / f"probe_rank{r}.json").read_text()) for r in (0, 1)]
    assert [p["world_size"] for p in probes] == [2, 2]
    assert probes[0]["params_start"] == probes[1]["params_start"]
    assert probes[0]["params_end"] == probes[1]["params_end"] != probes[0]["params_start"]
    lyap = dynalysis.open_results(run / "spectrum.nc", "lyapunov")
    assert lyap.epoch.values.tolist() == [0, 1] and lyap.global_step.values.tolist() == [2, 4]
    assert (run / "spectrum.png").exists()
