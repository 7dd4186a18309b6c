"""Trained flip-flop GRU and LSTM (3 bits, 64 units, 40 epochs): the stable entries of the default
search are exactly the 2³ attractors that brute-force forward simulation finds.

On main before this change (the search of `OLD_DEFAULTS`, with its solver that stopped rows
creeping along slow valleys as "slow points"), the GRU trained here gave 8 attractors plus 3
unconverged starts labelled *stable* slow points (11 "stable" entries, 0.03 from an attractor)
and 5 more slow entries along one slow manifold. Its memories lie 0.7–1.1 state units from the
closest state its trajectories visit and contract by 1e-4 a step: with the CLI's inputs (8
trajectories of 1000 concatenated steps, transient 100) `OLD_DEFAULTS` find 7 of the 8 for
seeds 0 and 1, and so did the defaults before the settled starts (and their 1000-step
cross-check missed it too). The 3-bit LSTM trained the same way is handled by the old
defaults; a 4-bit one (2⁴ memories, same training) is not: `OLD_DEFAULTS` find 15 of 16 for
seeds 0 and 1 on its test inputs and 13 of 16 for seed 0 on the CLI's.

These tests train from scratch (about half a minute per network, a minute of brute force for
the GRU): the end-to-end check. tests/test_fixed_points_old_defaults.py checks the same claims
in the default suite on these two networks, shipped as checkpoints by
tests/data/make_flipflop_networks.py (the same `train_run` settings as `_trained`).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import dynalysis
from test_flipflop import _system_and_inputs, brute_force_attractors

_CACHE: dict = {}


def _trained(cell, tmp_path_factory, n_bits=3):
    """The network, test inputs, bit count and brute-force attractors, trained once per cell."""
    if (cell, n_bits) not in _CACHE:
        from lightning_modules import train_run

        run = train_run(cell=cell, task="flipflop", root_dir=tmp_path_factory.mktemp(cell), hidden_size=64,
                        cell_options={"seed": 0}, max_epochs=40, batch_size=32, lr=0.01, gradient_clip_val=1.0,
                        task_options=dict(n_bits=n_bits, pulse_probability=0.05, seq_len=100, n_train=512,
                                          n_val=100, n_test=100))
        system, inputs, n_bits = _system_and_inputs(run.checkpoint)
        attractors, rho = brute_force_attractors(system, inputs)
        assert len(attractors) == 2 ** n_bits and (rho < 1).all()
        _CACHE[cell, n_bits] = system, inputs, n_bits, attractors
    return _CACHE[cell, n_bits]


def _search(system, inputs, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dynalysis.NumericalReliabilityWarning)
        warnings.simplefilter("ignore", dynalysis.MissedAttractorWarning)
        return dynalysis.find_fixed_points(system, inputs, **options)


def _found(ds, attractors) -> int:
    stable = ds.state.values[(ds.stability.values == 0) & (ds.kind.values == 0)]
    if not len(stable):
        return 0
    return int((np.linalg.norm(attractors[:, None] - stable[None], axis=-1).min(1) < 1e-6).sum())


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_default_search_reports_exactly_the_brute_force_attractors(cell, tmp_path_factory):
    system, inputs, n_bits, attractors = _trained(cell, tmp_path_factory)
    ds = _search(system, inputs)
    stable = ds.state.values[ds.stability.values == 0]  # every entry labelled stable, slow ones too
    assert len(stable) == 2 ** n_bits, "an entry labelled stable is not an attractor"
    d = np.linalg.norm(stable[:, None] - attractors[None], axis=-1)
    assert (d.min(0) < 1e-6).all() and (d.min(1) < 1e-6).all()
    assert (ds.kind.values[ds.stability.values == 0] == 0).all()
    assert int(ds.missed_attractors[0]) == 0 and int(ds.n_stable[0]) == 2 ** n_bits
    assert (ds.start_assignment.values[ds.start_status.values == 2] == -1).all()


@pytest.mark.slow
def test_gru_memories_far_from_the_visited_states_are_found_where_the_old_defaults_missed_one(tmp_path_factory):
    """The CLI's inputs: the old defaults miss an attractor (and the cross-check says so); the
    defaults, whose settled starts reach it, find all 2³ for every seed."""
    from dynalysis._core.inputs import task_inputs
    from dynalysis.fixed_points.search import OLD_DEFAULTS

    system, _, n_bits, attractors = _trained("gru", tmp_path_factory)
    cli = task_inputs(system, n_trajectories=8, steps=1000, seed=0).double()
    for seed in (0, 1):
        old = _search(system, cli, transient=100, seed=seed, **OLD_DEFAULTS)
        assert _found(old, attractors) == 2 ** n_bits - 1
        assert int(old.simulated_attractors[0]) == 2 ** n_bits and int(old.missed_attractors[0]) == 1
    for seed in (0, 1, 2):
        new = _search(system, cli, transient=100, seed=seed)
        assert _found(new, attractors) == int(new.n_stable[0]) == 2 ** n_bits
        assert int(new.missed_attractors[0]) == 0


@pytest.mark.slow
def test_4_bit_lstm_memories_are_all_found_where_the_old_defaults_missed_some(tmp_path_factory):
    """2⁴ memories: the old defaults' 64 starts miss some; the defaults find all 16 for every seed."""
    from dynalysis._core.inputs import task_inputs
    from dynalysis.fixed_points.search import OLD_DEFAULTS

    system, inputs, n_bits, attractors = _trained("lstm", tmp_path_factory, n_bits=4)
    cli = task_inputs(system, n_trajectories=8, steps=1000, seed=0).double()
    assert _found(_search(system, inputs, seed=0, **OLD_DEFAULTS), attractors) < 2 ** n_bits
    assert _found(_search(system, cli, transient=100, seed=0, **OLD_DEFAULTS), attractors) < 2 ** n_bits
    for x, transient in ((inputs, 0), (cli, 100)):
        for seed in (0, 1, 2):
            ds = _search(system, x, transient=transient, seed=seed)
            assert _found(ds, attractors) == int(ds.n_stable[0]) == 2 ** n_bits
            assert int(ds.missed_attractors[0]) == 0
