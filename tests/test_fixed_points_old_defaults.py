"""Trained flip-flop networks where the old search defaults miss a memory and the defaults do not.

Issue #16: on a trained GRU and a trained LSTM, every attractor that brute-force forward
simulation finds must be found by `dynalysis.find_fixed_points` with its defaults, while the
earlier defaults (`dynalysis.fixed_points.search.OLD_DEFAULTS`: 64 starts, one noise level, no
settled or extreme starts) miss at least one on the same network, inputs and seed.

The networks are the slow end-to-end tests' (tests/test_fixed_points_trained.py), shipped as
checkpoints so that this runs in seconds: 64 units, flip-flop with pulse probability 0.05,
100-step sequences, 512 training sequences, 40 epochs of Adam (lr 0.01, batch 32, gradient
clip 1), weight seed 0; a GRU on 3 bits and an LSTM on 4 bits. They were trained by
`lightning_modules.train_run` in tests/data/make_flipflop_networks.py, which documents how;
each file is that run's ``last.ckpt`` without the optimizer state (57 KiB and 75 KiB), loaded
here with `dynalysis.load_checkpoint` as a user would.
"""
from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import torch

import dynalysis
from dynalysis._core.inputs import task_inputs
from dynalysis.fixed_points.search import OLD_DEFAULTS
from test_fixed_points_trained import _found, _search
from test_flipflop import _system_and_inputs, brute_force_attractors

DATA = Path(__file__).resolve().parent / "data"


def _assert_every_attractor_is_found(ds, attractors) -> None:
    """Every attractor is a stable fixed point of ``ds``, and every entry labelled stable
    (slow points included) is one of them: no attractor missed, none invented."""
    assert _found(ds, attractors) == len(attractors), "an attractor was missed"
    stable = ds.state.values[ds.stability.values == 0]
    d = np.linalg.norm(stable[:, None] - attractors[None], axis=-1)
    assert (d.min(1) < 1e-6).all(), "an entry labelled stable is not an attractor"
    assert int(ds.n_stable[0]) == len(attractors) and int(ds.missed_attractors[0]) == 0


def _assert_one_stable_fixed_point_per_memory(system, points, n_bits) -> None:
    """Each point is a fixed point of the zero-input map (residual < 1e-12, as brute force
    polishes them), its Jacobian (``torch.func.jacrev``, not the library's) has spectral
    radius < 1, and the readout's signs give each of the 2^n memories once."""
    h = torch.as_tensor(points)
    x0 = torch.zeros(system.input_size, dtype=torch.float64)
    f = lambda s: system.step(s[None], x0[None])[0]  # noqa: E731
    with torch.no_grad():
        assert (torch.func.vmap(f)(h) - h).norm(dim=1).max() < 1e-12
    rho = torch.linalg.eigvals(torch.func.vmap(torch.func.jacrev(f))(h).detach()).abs().max(1).values
    assert (rho < 1).all()
    signs = np.sign(system.readout(h).detach().numpy()).astype(int)
    assert sorted(map(tuple, signs.tolist())) == sorted(itertools.product((-1, 1), repeat=n_bits))


def test_gru_the_defaults_find_every_memory_and_the_old_defaults_miss_one():
    """3-bit GRU on the CLI's inputs (8 trajectories of 1000 concatenated test sequences,
    transient 100). Its memories lie 0.7–1.1 state units from the closest visited state and
    contract by ~1e-4 a step, so brute force from the visited states takes a minute: the
    generator ran it (tests/data/flipflop_gru_3bit_attractors.json, for this checkpoint's
    SHA-256) and this test checks the 8 stored points against the loaded map. When made, the old
    defaults found 7 of the 8 for seeds 0 and 1 (8 for seed 2); the defaults all 8 for 0–2."""
    ckpt = DATA / "flipflop_gru_3bit.ckpt"
    reference = json.loads((DATA / "flipflop_gru_3bit_attractors.json").read_text())
    assert reference["sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest(), \
        "the checkpoint changed; rerun tests/data/make_flipflop_networks.py --attractors-only"
    system = dynalysis.load_checkpoint(ckpt, dtype=torch.float64)
    n_bits = system.metadata["task"]["n_bits"]
    attractors = np.array(reference["attractors"])
    assert n_bits == reference["n_bits"] == 3 and attractors.shape == (2 ** n_bits, system.state_size)
    _assert_one_stable_fixed_point_per_memory(system, attractors, n_bits)

    cli = task_inputs(system, n_trajectories=8, steps=1000, seed=0).double()
    _assert_every_attractor_is_found(_search(system, cli, transient=100, seed=0), attractors)
    old = _search(system, cli, transient=100, seed=0, **OLD_DEFAULTS)
    assert _found(old, attractors) < 2 ** n_bits


def test_lstm_the_defaults_find_every_memory_and_the_old_defaults_miss_one():
    """4-bit LSTM on its first 32 test sequences; brute force runs here (a few seconds, its
    memories contract by 0.73 a step or faster). When made, the old defaults found 15 of the 16
    for seeds 0 and 1 (16 for seed 2); the defaults all 16 for seeds 0–2."""
    system, inputs, n_bits = _system_and_inputs(DATA / "flipflop_lstm_4bit.ckpt")
    attractors, _ = brute_force_attractors(system, inputs)
    assert n_bits == 4 and len(attractors) == 2 ** n_bits
    _assert_one_stable_fixed_point_per_memory(system, attractors, n_bits)

    _assert_every_attractor_is_found(_search(system, inputs, seed=0), attractors)
    old = _search(system, inputs, seed=0, **OLD_DEFAULTS)
    assert _found(old, attractors) < 2 ** n_bits
