"""The flip-flop task (Sussillo & Barak 2013): exact targets and chance loss, the task's input
conditions, and trained networks whose 2^n memories are stable fixed points at zero input.

References: targets from a step-by-step latch written here; the chance loss by enumerating
every input sequence; attractors by brute-force forward simulation of the zero-input map.
"""
from __future__ import annotations

import itertools
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import dynalysis
from dynalysis.errors import OptionError
from dynalysis.tasks import CopyTask, FlipFlopTask, TomitaTask, build_task
from dynalysis.tasks.flipflop import flipflop_targets

ROOT = Path(__file__).resolve().parents[1]
SIZES = dict(n_train=40, n_val=10, n_test=10)


def _latch(inputs: torch.Tensor) -> torch.Tensor:
    """Reference: a latch per sequence and channel, updated step by step in plain Python."""
    n, T, d = inputs.shape
    out = torch.zeros(n, T, d)
    for i, k in itertools.product(range(n), range(d)):
        held = 0.0
        for t in range(T):
            if inputs[i, t, k] != 0:
                held = float(inputs[i, t, k])
            out[i, t, k] = held
    return out


# --- the task ---------------------------------------------------------------------------------
@pytest.mark.parametrize("initial_pulse", [True, False])
@pytest.mark.parametrize("n_bits, p, seed", [(1, 0.3, 0), (3, 0.05, 1), (4, 0.5, 2)])
def test_targets_are_the_sign_of_each_channels_last_pulse(initial_pulse, n_bits, p, seed):
    task = FlipFlopTask(n_bits=n_bits, pulse_probability=p, seq_len=30,
                        initial_pulse=initial_pulse, seed=seed, **SIZES)
    for split in ("train", "val", "test"):
        x, y = task.split(split)
        assert x.shape == y.shape == (len(x), 30, n_bits) and y.dtype == torch.float32
        assert set(x.unique().tolist()) <= {-1.0, 0.0, 1.0}
        assert torch.equal(y, _latch(x))
    x, y = task.split("train")
    if initial_pulse:
        assert (x[:, 0] != 0).all() and set(y.unique().tolist()) == {-1.0, 1.0}
    else:
        assert (y == 0).any()  # some channel has not pulsed yet at step 0 (p < 1)


def test_pulses_are_bernoulli_with_the_given_probability_and_fair_signs():
    p, task = 0.05, FlipFlopTask(n_bits=3, pulse_probability=0.05, seq_len=200, n_train=500,
                                 n_val=1, n_test=1, initial_pulse=False)
    x = task.split("train").inputs
    pulses = (x != 0).sum().item()
    n = x.numel()
    assert abs(pulses - n * p) < 5 * math.sqrt(n * p * (1 - p))  # 5-sigma binomial band
    plus = (x == 1).sum().item()
    assert abs(plus - pulses / 2) < 5 * math.sqrt(pulses / 4)


@pytest.mark.parametrize("initial_pulse", [True, False])
def test_chance_loss_is_exact_by_enumerating_every_input_sequence(initial_pulse):
    """One channel, T = 5: every sequence over {−1, 0, +1}^T with its probability; the best
    input-independent predictor at step t is E[y_t] (= 0 by symmetry), its MSE E[y_t²]."""
    T, p = 5, 0.3
    task = FlipFlopTask(n_bits=1, pulse_probability=p, seq_len=T, initial_pulse=initial_pulse,
                        n_train=1, n_val=1, n_test=1)
    seqs, probs = [], []
    for seq in itertools.product((-1.0, 0.0, 1.0), repeat=T):
        if initial_pulse and seq[0] == 0:
            continue
        prob = 1.0
        for t, v in enumerate(seq):
            if initial_pulse and t == 0:
                prob *= 0.5
            else:
                prob *= (1 - p) if v == 0 else p / 2
        seqs.append(seq)
        probs.append(prob)
    probs = torch.tensor(probs, dtype=torch.float64)
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-15)
    y = _latch(torch.tensor(seqs).unsqueeze(-1))[..., 0].double()
    mean = (probs[:, None] * y).sum(0)
    assert torch.allclose(mean, torch.zeros(T, dtype=torch.float64), atol=1e-15)
    mse_of_best = (probs[:, None] * (y - mean) ** 2).sum(0).mean().item()
    assert task.chance_loss == pytest.approx(mse_of_best, rel=1e-12)


def test_chance_loss_matches_the_mse_of_predicting_zero_on_samples():
    task = FlipFlopTask(n_bits=2, pulse_probability=0.02, seq_len=80, initial_pulse=False,
                        n_train=4000, n_val=1, n_test=1)
    y = task.split("train").targets
    per_sequence = (y ** 2).mean((1, 2))
    se = per_sequence.std().item() / math.sqrt(len(y))
    assert abs(per_sequence.mean().item() - task.chance_loss) < 5 * se
    assert 0 < task.chance_loss < 1


def test_flipflop_targets_is_vectorised_and_agrees_with_the_latch():
    g = torch.Generator().manual_seed(4)
    x = torch.randint(-1, 2, (7, 33, 3), generator=g).float() * (torch.rand(7, 33, 3, generator=g) < 0.2)
    assert torch.equal(flipflop_targets(x), _latch(x))


@pytest.mark.parametrize("bad, match", [
    (dict(n_bits=0), "n_bits"), (dict(pulse_probability=0.0), "pulse_probability"),
    (dict(pulse_probability=1.5), "pulse_probability"), (dict(seq_len=0), "seq_len"),
    (dict(initial_pulse="yes"), "initial_pulse"), (dict(n_train=0), "n_train"),
])
def test_invalid_options_raise_option_error_naming_the_option(bad, match):
    with pytest.raises(OptionError, match=match):
        build_task("flipflop", **bad)


def test_spec_round_trips_and_the_datamodule_builds_the_same_task():
    from lightning_modules import FlipFlopDataModule

    task = FlipFlopTask(n_bits=2, pulse_probability=0.2, seq_len=12, initial_pulse=False, seed=5,
                        **SIZES)
    spec = task.spec()
    assert spec == dict(name="flipflop", n_bits=2, pulse_probability=0.2, seq_len=12,
                        initial_pulse=False, seed=5, **SIZES)
    assert torch.equal(build_task(**spec).split("val").inputs, task.split("val").inputs)
    dm = FlipFlopDataModule(n_bits=2, pulse_probability=0.2, seq_len=12, initial_pulse=False,
                            seed=5, batch_size=8, **SIZES)
    assert dm.task.spec() == spec and dm.chance_loss == task.chance_loss
    x, y = next(iter(dm.val_dataloader()))
    assert x.shape == y.shape == (8, 12, 2) and dm.target_mode == "sequence" and dm.loss == "mse"


# --- input conditions -------------------------------------------------------------------------
def test_flipflop_holds_zero_input_between_pulses():
    task = FlipFlopTask(n_bits=3, **SIZES)
    (name, vector), = task.input_conditions().items()
    assert name == "zero" and torch.equal(vector, torch.zeros(3))


@pytest.mark.parametrize("task, names", [
    (TomitaTask(grammar=4, max_len=8, test_min_len=9, test_max_len=10, **SIZES),
     ["pad", "symbol_0", "symbol_1"]),
    (CopyTask(seq_len=12, n_symbols=3, n_copy=2, **SIZES),
     ["blank", "symbol_1", "symbol_2", "symbol_3", "cue"]),
])
def test_one_hot_tasks_name_each_code_they_hold_and_zero_never_occurs(task, names):
    conditions = task.input_conditions()
    assert list(conditions) == names
    x = task.split("train").inputs.reshape(-1, task.input_size)
    codes = x.argmax(1)
    for k, (name, vector) in enumerate(conditions.items()):
        assert vector.shape == (task.input_size,) and vector.sum() == 1
        assert (x == vector).all(1).any(), f"{name} never occurs in the data"
    assert torch.equal(torch.stack(list(conditions.values())).argmax(1).sort().values,
                       codes.unique())  # every code in the data is a condition
    assert not (x == 0).all(1).any()


def test_default_condition_is_zero_of_the_input_size():
    task = build_task("adding", seq_len=6, **SIZES)
    assert {k: v.tolist() for k, v in task.input_conditions().items()} == {"zero": [0.0, 0.0]}
    assert task.labels("train") == {}


# --- trained networks: 2^n stable fixed points at zero input ----------------------------------
def _visited_states(system, inputs: torch.Tensor) -> torch.Tensor:
    h = system.initial_state(len(inputs), dtype=torch.float64)
    states = []
    with torch.no_grad():
        for t in range(inputs.shape[1]):
            h = system.step(h, inputs[:, t])
            states.append(h)
    return torch.stack(states, 1).reshape(-1, system.state_size)


def brute_force_attractors(system, inputs: torch.Tensor, *, n_starts: int = 256,
                           max_steps: int = 200_000) -> tuple[np.ndarray, np.ndarray]:
    """Attractors of the zero-input map reached from visited states, and their spectral radii.

    Forward simulation from ``n_starts`` states the driven network visits until every start
    moves less than 1e-9 a step (trained GRUs contract by only ~1e-4 a step near their
    memories), then Newton steps on ``F(h) − h`` (Jacobian by ``torch.func.jacrev``, not the
    library's) to polish the end points; end points within 1e-6 are one attractor.
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    states = _visited_states(system, inputs)
    g = torch.Generator().manual_seed(0)
    h = states[torch.randint(len(states), (n_starts,), generator=g)]
    x0 = torch.zeros(system.input_size, dtype=torch.float64)
    x = x0.expand(n_starts, -1)
    with torch.no_grad():
        for _ in range(0, max_steps, 500):
            for _ in range(500):
                h = system.step(h, x)
            if (system.step(h, x) - h).norm(dim=1).max() < 1e-9:
                break
        else:
            raise AssertionError(f"forward simulation did not settle in {max_steps} steps")
    end = h.clone()
    f = lambda s: system.step(s[None], x0[None])[0]  # noqa: E731
    jac = torch.func.vmap(torch.func.jacrev(f))
    eye = torch.eye(system.state_size, dtype=torch.float64)
    for _ in range(8):
        h = (h - torch.linalg.solve(jac(h) - eye, torch.func.vmap(f)(h) - h)).detach()
    assert (torch.func.vmap(f)(h) - h).norm(dim=1).max() < 1e-12, "Newton did not converge"
    assert (h - end).norm(dim=1).max() < 1e-3, "polishing moved an end point away"
    labels = fcluster(linkage(h.numpy(), "single"), 1e-6, "distance")
    points = np.stack([h.numpy()[labels == k][0] for k in np.unique(labels)])
    rho = torch.linalg.eigvals(jac(torch.as_tensor(points)).detach()).abs().max(1).values
    return points, rho.numpy()


def _assert_memories_are_stable_fixed_points(system, inputs, n_bits, **search_options):
    points, rho = brute_force_attractors(system, inputs)
    assert len(points) == 2 ** n_bits
    assert (rho < 1).all()
    readout = system.readout(torch.as_tensor(points)).detach().numpy()
    patterns = {tuple(row) for row in np.sign(readout).astype(int).tolist()}
    assert patterns == set(itertools.product((-1, 1), repeat=n_bits))  # one per memory
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dynalysis.NumericalReliabilityWarning)
        ds = dynalysis.find_fixed_points(system, inputs, **search_options)
    stable = ds.state.values[(ds.stability.values == 0) & (ds.kind.values == 0)]
    assert len(stable), "the search reported no stable fixed point"
    for point in points:
        assert np.linalg.norm(stable - point, axis=1).min() < 1e-6, "an attractor was missed"


def _system_and_inputs(ckpt):
    system = dynalysis.load_checkpoint(ckpt, dtype=torch.float64)
    spec = dict(system.metadata["task"])
    task = build_task(spec.pop("name"), **spec)
    return system, task.split("test").inputs[:32].double(), task.options["n_bits"]


@pytest.mark.parametrize("cell", ["elman", "gru", "lstm"])
def test_a_small_trained_network_has_a_stable_fixed_point_per_memory(cell, tmp_path):
    """2 bits, 16 units, 10 epochs (a few seconds each); default search options."""
    from lightning_modules import train_run

    run = train_run(cell=cell, task="flipflop", root_dir=tmp_path, hidden_size=16,
                    cell_options={"seed": 0}, max_epochs=10, batch_size=32, lr=0.01,
                    gradient_clip_val=1.0,
                    task_options=dict(n_bits=2, pulse_probability=0.1, seq_len=60, n_train=512,
                                      n_val=100, n_test=100))
    assert run.metrics["val_loss"] < 0.05 * run.chance_loss
    _assert_memories_are_stable_fixed_points(*_system_and_inputs(run.checkpoint))


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["elman", "gru", "lstm"])
def test_the_shipped_3_bit_configs_train_to_8_stable_fixed_points(cell, tmp_path):
    """The example configs through the real CLI (about 20 s of training each)."""
    subprocess.run([sys.executable, str(ROOT / "cli.py"), "fit", "--config",
                    str(ROOT / "configs" / f"flipflop_{cell}.yaml"),
                    "--trainer.default_root_dir", str(tmp_path),
                    "--trainer.enable_progress_bar", "false"], check=True, cwd=ROOT,
                   capture_output=True)
    ckpt = dynalysis.find_last_checkpoint(tmp_path)
    system, inputs, n_bits = _system_and_inputs(ckpt)
    assert n_bits == 3
    _assert_memories_are_stable_fixed_points(system, inputs, n_bits)
