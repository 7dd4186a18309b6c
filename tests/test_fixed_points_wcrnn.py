"""A trained WCRNN flip-flop (`configs/flipflop_wcrnn.yaml` through the CLI, about 60 s): it
stores 2³ memories, and the default search reports each as a stable fixed point, with no
missed attractor in its forward-simulation cross-check.

Reference: brute-force forward simulation of the zero-input map from visited states with a
Newton polish (`test_flipflop.brute_force_attractors`).
"""
from __future__ import annotations

import itertools
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import dynalysis
from test_flipflop import _system_and_inputs, brute_force_attractors

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wcrnn_flipflop_config_trains_to_8_attractors_that_the_default_search_finds(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "cli.py"), "fit", "--config", str(ROOT / "configs" / "flipflop_wcrnn.yaml"),
                    "--trainer.default_root_dir", str(tmp_path), "--trainer.enable_progress_bar", "false"],
                   check=True, cwd=ROOT, capture_output=True)
    system, inputs, n_bits = _system_and_inputs(dynalysis.find_last_checkpoint(tmp_path))
    attractors, rho = brute_force_attractors(system, inputs)
    assert len(attractors) == 2 ** n_bits and (rho < 1).all()
    readout = system.readout(torch.as_tensor(attractors)).detach().numpy()
    assert {tuple(r) for r in np.sign(readout).astype(int).tolist()} == set(itertools.product((-1, 1), repeat=n_bits))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dynalysis.NumericalReliabilityWarning)
        ds = dynalysis.find_fixed_points(system, inputs)
    stable = ds.state.values[ds.stability.values == 0]
    assert len(stable) == 2 ** n_bits and (ds.kind.values[ds.stability.values == 0] == 0).all()
    d = np.linalg.norm(stable[:, None] - attractors[None], axis=-1)
    assert (d.min(0) < 1e-6).all() and (d.min(1) < 1e-6).all()
    assert int(ds.missed_attractors[0]) == 0 and int(ds.simulated_attractors[0]) > 0


@pytest.mark.slow
def test_a_wcrnn_whose_memories_are_2_cycles_is_reported_as_periodic(tmp_path):
    """λ = 0.5, ε = 1 learns the task too (val_loss 2e-4 here) but holds each memory as a period-2
    orbit (states 8 units apart, readout nearly the same in both phases): no attractor is a fixed
    point, and the cross-check says so instead of reporting nothing."""
    from lightning_modules import train_run

    run = train_run(cell="wcrnn", task="flipflop", root_dir=tmp_path, hidden_size=64, max_epochs=40, batch_size=32,
                    lr=0.01, gradient_clip_val=1.0,
                    cell_options=dict(seed=0, residual="identity", residual_scale=0.5, epsilon=1.0),
                    task_options=dict(n_bits=3, pulse_probability=0.05, seq_len=100, n_train=1000, n_val=100,
                                      n_test=100))
    assert run.metrics["val_loss"] < 0.01 * run.chance_loss
    system, inputs, _ = _system_and_inputs(run.checkpoint)
    h = system.initial_state(len(inputs), dtype=torch.float64)
    x0 = torch.zeros(len(inputs), system.input_size, dtype=torch.float64)
    with torch.no_grad():
        for t in range(inputs.shape[1]):
            h = system.step(h, inputs[:, t])
        for _ in range(5000):
            h = system.step(h, x0)
        h1 = system.step(h, x0)
        h2 = system.step(h1, x0)
    assert ((h2 - h).norm(dim=1) < 1e-9).all() and ((h1 - h).norm(dim=1) > 1.0).all()  # 2-cycles, reference
    with pytest.warns(dynalysis.MissedAttractorWarning, match="period 2"):
        ds = dynalysis.find_fixed_points(system, inputs)
    assert int(ds.simulated_period[0]) == 2 and int(ds.unsettled_simulations[0]) > 0
    assert int(ds.simulated_attractors[0]) == 0
