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
