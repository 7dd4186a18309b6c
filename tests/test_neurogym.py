"""neurogym environments as tasks: the environment's own trials, end to end, with each step's
epoch kept; skipped when the optional extra is not installed (except the error that names it).

Reference: trials drawn here straight from a neurogym environment seeded the same way, and
what each environment's source says its trials contain (e.g. perceptual decision making
reports a choice only in the decision epoch, and shows the fixation cue only in fixation).
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from dynalysis.errors import DynalysisError, OptionError
from dynalysis.tasks import build_task
from dynalysis.tasks._base import split_generator

ROOT = Path(__file__).resolve().parents[1]
SIZES = dict(n_train=24, n_val=6, n_test=6)
PDM, CDM = "PerceptualDecisionMaking-v0", "ContextDecisionMaking-v0"


@pytest.fixture
def ngym():
    return pytest.importorskip("neurogym")


def test_without_the_extra_the_error_is_one_line_naming_it(monkeypatch):
    from lightning_modules.data import NeurogymDataModule

    monkeypatch.setitem(sys.modules, "neurogym", None)  # `import neurogym` raises ImportError
    for make in (lambda: build_task("neurogym", env=PDM), lambda: NeurogymDataModule(env=PDM)):
        with pytest.raises(DynalysisError) as info:
            make()
        message = str(info.value)
        assert "\n" not in message and 'pip install "dynalysis[neurogym]"' in message


def test_training_cli_without_the_extra_exits_2_with_one_line(monkeypatch, tmp_path, capsys):
    from dynalysis.cli import main

    monkeypatch.setitem(sys.modules, "neurogym", None)
    config = ROOT / "configs" / "neurogym_perceptual_decision.yaml"
    status = main(["fit", "--config", str(config), "--trainer.default_root_dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and 'pip install "dynalysis[neurogym]"' in err[-1]
    assert not any("Traceback" in line for line in err) and not list(tmp_path.rglob("*.ckpt"))


def _reference(env_id, env_options, seed, split, n, T):
    """Trials from neurogym directly: seeded as the task documents, laid end to end."""
    import neurogym

    env = neurogym.make(env_id, **env_options).unwrapped
    env.seed(int(torch.randint(2 ** 31 - 1, (1,), generator=split_generator(seed, split))))
    xs, ys, epochs = [], [], []
    for _ in range(n):
        x, y, e = [], [], []
        while len(x) < T:
            for table in (env.start_t, env.end_t, env.start_ind, env.end_ind):
                table.clear()
            env.new_trial()
            for s in range(len(env.ob)):
                x.append(env.ob[s])
                y.append(env.gt[s])
                e.append(next(p for p in env.start_ind
                              if env.start_ind[p] <= s < env.end_ind[p]))
        xs.append(np.stack(x[:T]))
        ys.append(np.stack(y[:T]))
        epochs.append(e[:T])
    return np.stack(xs), np.stack(ys), epochs


@pytest.mark.filterwarnings("ignore:.*render_modes")
@pytest.mark.parametrize("env_id, env_options", [(PDM, {"dt": 50}), (CDM, {})])
def test_sequences_are_the_environments_trials_with_their_epochs(ngym, env_id, env_options):
    task = build_task("neurogym", env=env_id, env_options=env_options, seq_len=70, seed=3,
                      **SIZES)
    for split in ("train", "test"):
        x, y = task.split(split)
        rx, ry, repochs = _reference(env_id, env_options, 3, split, len(x), 70)
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        np.testing.assert_array_equal(x.numpy(), rx)
        np.testing.assert_array_equal(y.numpy(), ry)
        names = [[task.epoch_names[k] for k in row] for row in task.labels(split)["epoch"].tolist()]
        assert names == repochs


def test_perceptual_decision_epochs_mean_what_the_environment_says(ngym):
    """dt = 50 ms: fixation 100 ms = 2 steps, stimulus 2000 ms = 40, decision 100 ms = 2; the
    choice (1 or 2) is the target only in the decision epoch, where it is the trial's
    ground truth + 1; the fixation cue (channel 0) is on exactly in fixation."""
    task = build_task("neurogym", env=PDM, env_options={"dt": 50}, seq_len=100, **SIZES)
    x, y = task.split("train")
    lab = task.labels("train")
    assert task.epoch_names == ("fixation", "stimulus", "delay", "decision")
    epoch = lab["epoch"]
    decision = epoch == task.epoch_names.index("decision")
    assert torch.equal(y != 0, decision)
    assert torch.equal(y[decision], lab["ground_truth"][decision].long() + 1)
    assert torch.equal(x[..., 0] == 1, epoch == 0)
    assert not (epoch == task.epoch_names.index("delay")).any()  # 0 ms by default
    assert (epoch >= 0).all()
    trial = lab["trial"]
    assert torch.equal(trial[:, -1], torch.full((len(x),), 2))  # 44 + 44 + 12 (cut) steps
    for i in range(len(x)):
        for k in (0, 1):  # the complete trials: 2 + 40 + 0 + 2 = 44 steps
            steps = trial[i] == k
            assert torch.bincount(epoch[i][steps], minlength=4).tolist() == [2, 40, 0, 2]
            assert torch.equal(lab["trial_step"][i][steps], torch.arange(44))
    assert set(lab["coh"].unique().tolist()) <= {0, 6.4, 12.8, 25.6, 51.2}


def test_context_decision_keeps_the_trial_conditions_per_step(ngym):
    task = build_task("neurogym", env=CDM, env_options={"use_expl_context": True}, seq_len=80,
                      **SIZES)
    x, y = task.split("val")
    lab = task.labels("val")
    assert task.input_size == 7 and task.output_size == 3
    assert set(task.trial_fields) == {"ground_truth", "other_choice", "context", "coh_1", "coh_2"}
    decision = lab["epoch"] == task.epoch_names.index("decision")
    assert torch.equal(y[decision], lab["ground_truth"][decision].long())
    assert (x[decision][:, :5] == 0).all()  # no fixation cue or stimulus at the decision
    context = lab["context"].long()  # explicit context: cue channel 5 + context, all trial long
    assert torch.equal(x.gather(2, (5 + context).unsqueeze(-1))[..., 0], torch.ones_like(x[..., 0]))
    assert torch.equal(x[..., 5:].sum(-1), torch.ones_like(x[..., 0]))


def test_chance_loss_is_the_per_step_prior_of_the_targets(ngym):
    """Fixed-length trials (22 steps at dt = 100): in 100 steps the decision falls on 4 steps,
    at each of which the two choices are about equally likely, so chance ≈ 4 ln 2 / 100."""
    task = build_task("neurogym", env=PDM, seq_len=100, n_train=2000, n_val=2, n_test=2)
    y = task.split("train").targets
    assert task.chance_loss == pytest.approx(4 * math.log(2) / 100, rel=0.01)
    by_step = 0.0
    for t in range(100):  # plain per-step entropy of the empirical class frequencies
        p = np.bincount(y[:, t].numpy(), minlength=3) / len(y)
        by_step -= sum(q * math.log(q) for q in p if q > 0)
    assert task.chance_loss == pytest.approx(by_step / 100, rel=1e-12)
    assert task.metric_ignore_index == 0  # accuracy on the choices, not on fixation


def test_continuous_actions_train_with_mse_and_the_variance_as_chance(ngym):
    task = build_task("neurogym", env="ReachingDelayResponse-v0", seq_len=40, **SIZES)
    x, y = task.split("train")
    assert task.loss == "mse" and y.dtype == torch.float32 and y.shape == (24, 40, 2)
    assert task.chance_loss == pytest.approx(float(((y - y.mean(0)) ** 2).mean()), rel=1e-6)


def test_overlapping_periods_take_the_shortest_and_extra_periods_are_named(ngym):
    """ReadySetGo: the 'ready' pulse lies inside 'measure'; 'production' is not in its timing."""
    task = build_task("neurogym", env="ReadySetGo-v0", seq_len=60, **SIZES)
    assert task.epoch_names == ("fixation", "ready", "measure", "set", "production")
    epoch = task.labels("train")["epoch"]
    # dt = 80 ms: fixation (100 ms) is 1 step, then the 1-step 'ready' pulse inside 'measure'
    assert (epoch[:, 0] == 0).all() and (epoch[:, 1] == 1).all()
    assert (epoch == 4).any() and (epoch == 2).any()
    with pytest.raises(OptionError, match="'production'.*epochs"):
        build_task("neurogym", env="ReadySetGo-v0", epochs=["fixation", "ready", "measure",
                                                             "set"], **SIZES).split("train")


def test_input_conditions_are_zero_and_each_epochs_mean_input(ngym):
    task = build_task("neurogym", env=PDM, seq_len=50, **SIZES)
    conditions = task.input_conditions()
    assert list(conditions) == ["zero", "fixation", "stimulus", "decision"]  # delay: no steps
    x = task.split("train").inputs
    epoch = task.labels("train")["epoch"]
    for name in ("fixation", "stimulus", "decision"):
        mean = x[epoch == task.epoch_names.index(name)].mean(0)
        assert torch.allclose(conditions[name], mean)
    assert conditions["fixation"].tolist() == [1.0, 0.0, 0.0]
    assert conditions["decision"].tolist() == [0.0, 0.0, 0.0]


def test_seeds_spec_and_splits(ngym):
    task = build_task("neurogym", env=CDM, env_options={"dt": 50}, seq_len=30, seed=1, **SIZES)
    again = build_task(**task.spec())
    assert task.spec()["env_options"] == {"dt": 50}
    assert torch.equal(again.split("train").inputs, task.split("train").inputs)
    assert not torch.equal(task.split("train").inputs[:6], task.split("val").inputs)
    other = build_task("neurogym", env=CDM, env_options={"dt": 50}, seq_len=30, seed=2, **SIZES)
    assert not torch.equal(other.split("train").inputs, task.split("train").inputs)


@pytest.mark.parametrize("options, match", [
    (dict(env="NoSuchTask-v0"), "env"), (dict(env=PDM, env_options={"no_such": 1}), "env_options"),
    (dict(env="Bandit-v0"), "supervised"), (dict(env=PDM, seq_len=0), "seq_len"),
    (dict(env=PDM, epochs=[]), "epochs"), (dict(env=PDM, env_options=[1]), "env_options"),
    (dict(env=PDM, env_options={"timing": {"stimulus": object()}}), "env_options"),
])
def test_bad_options_raise_option_error_naming_the_option(ngym, options, match):
    with pytest.raises(OptionError, match=match):
        build_task("neurogym", **options, **SIZES)


def test_datamodule_trains_checkpoints_and_rebuilds_the_inputs_for_analysis(ngym, tmp_path):
    import dynalysis
    from lightning_modules import train_run

    run = train_run(cell="gru", task="neurogym", root_dir=tmp_path, hidden_size=8, max_epochs=1,
                    task_options=dict(env=PDM, seq_len=30, **SIZES), batch_size=8)
    assert math.isfinite(run.metrics["val_loss"])
    system = dynalysis.load_checkpoint(run.checkpoint)
    spec = dict(system.metadata["task"])
    task = build_task(spec.pop("name"), **spec)
    assert torch.equal(dynalysis.task_inputs(system, n_trajectories=2, split="test")[:, :30],
                       dynalysis.task_inputs(task, n_trajectories=2, split="test")[:, :30])
    assert task.labels("test")["epoch"].shape == (6, 30)


@pytest.mark.parametrize("config", sorted((ROOT / "configs").glob("neurogym_*.yaml")),
                         ids=lambda p: p.stem)
def test_shipped_neurogym_configs_parse_and_run_one_step(ngym, config, tmp_path):
    from lightning_modules.cli import cli_main

    assert yaml.safe_load(config.read_text())["data"]["class_path"].endswith("NeurogymDataModule")
    cli = cli_main(["fit", "--config", str(config), "--trainer.fast_dev_run", "1",
                    "--trainer.default_root_dir", str(tmp_path), "--trainer.accelerator", "cpu",
                    "--model.init_args.hidden_size", "4", "--data.init_args.n_train", "8",
                    "--data.init_args.n_val", "4", "--data.init_args.n_test", "4",
                    "--data.init_args.batch_size", "4"])
    assert cli.model.hparams.input_size == cli.datamodule.input_size
    assert math.isfinite(cli.trainer.callback_metrics["train_loss_step"].item())
