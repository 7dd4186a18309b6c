"""`train_run`: the Python entry point studies use to train one network."""
import math

import torch

import dynalysis
from lightning_modules import train_run


def test_train_run_returns_a_loadable_checkpoint_and_metrics(tmp_path):
    res = train_run(cell="elman", task="adding", root_dir=tmp_path, hidden_size=6,
                    task_options={"seq_len": 12, "n_train": 64, "n_val": 32, "n_test": 32},
                    max_epochs=2, batch_size=16, lr=1e-2, seed=3, test=True)
    assert res.checkpoint.exists() and res.checkpoint.name == "last.ckpt"
    assert math.isclose(res.chance_loss, 1 / 6)
    assert {"val_loss", "test_loss", "val_loss_over_chance"} <= set(res.metrics)
    assert math.isclose(res.metrics["val_loss_over_chance"], res.metrics["val_loss"] / res.chance_loss, rel_tol=1e-5)
    assert res.success == (res.metrics["val_loss"] < 0.5 / 6)
    system = dynalysis.load_checkpoint(res.checkpoint)
    x = torch.randn(2, 12, 2)
    h = system.initial_state(2, dtype=torch.float32)
    for t in range(12):
        h = system.step(h, x[:, t])
    torch.testing.assert_close(system.readout(h), res.model.eval()(x), rtol=1e-5, atol=1e-5)


def test_train_run_is_deterministic_under_a_seed(tmp_path):
    kw = dict(cell="wcrnn", task="digits", hidden_size=5, task_options={"order": "row"},
              max_epochs=1, max_steps=3, batch_size=16, seed=7)
    a = train_run(root_dir=tmp_path / "a", **kw)
    b = train_run(root_dir=tmp_path / "b", **kw)
    assert a.metrics == b.metrics
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), k


def test_train_run_scores_the_copy_task_on_recall_steps_only(tmp_path):
    """Per-step accuracy over all T steps is ≥ (T−10)/T by predicting blanks; the copy task's
    metric must leave the blank class out, also when trained through `train_run`."""
    res = train_run(cell="elman", task="copy", root_dir=tmp_path, hidden_size=4,
                    task_options={"seq_len": 25, "n_train": 32, "n_val": 32, "n_test": 32},
                    max_epochs=1, max_steps=1, batch_size=16, seed=0)
    metric = res.model.metrics["val_"]
    assert metric.ignore_index == 0
    logits = torch.zeros(25, 9)
    logits[:, 0] = 1.0                                   # always "blank"
    target = torch.zeros(25, dtype=torch.long)
    target[-10:] = torch.arange(1, 11).clamp(max=8)
    metric.reset()
    metric.update(logits, target)
    assert float(metric.compute()) == 0.0                # blanks do not count
