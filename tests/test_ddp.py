"""Training on several processes: the Lightning CLI with ``--trainer.strategy ddp`` on CPU (gloo).

`SplitProbe` (a callback the subprocesses load from this file by class path) writes, per rank,
a digest of the data splits, the indices this rank trains on and the parameters at the start
and end of training. Both ranks must see the same splits, disjoint halves of the training set
and identical parameters throughout.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import dynalysis

ROOT = Path(__file__).resolve().parents[1]


def _digest(tensors) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


try:
    import pytorch_lightning as pl

    class SplitProbe(pl.Callback):
        """Writes ``probe_rank<r>.json`` into ``trainer.default_root_dir``."""

        def __init__(self):
            self.record = {}

        def on_fit_start(self, trainer, pl_module):
            task = trainer.datamodule.task
            self.record.update(
                rank=trainer.global_rank, world_size=trainer.world_size,
                splits={s: _digest(task.split(s)) for s in ("train", "val", "test")},
                n_train=len(task.split("train").inputs),
                params_start=_digest(pl_module.parameters()))

        def on_train_epoch_start(self, trainer, pl_module):
            sampler = trainer.train_dataloader.sampler
            self.record.setdefault("indices", sorted(int(i) for i in iter(sampler)))

        def on_fit_end(self, trainer, pl_module):
            self.record["params_end"] = _digest(pl_module.parameters())
            out = Path(trainer.default_root_dir) / f"probe_rank{trainer.global_rank}.json"
            out.write_text(json.dumps(self.record))
except ImportError:  # pragma: no cover - Lightning is a dependency
    pass


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_keeps_splits_and_weights_consistent(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}
    run = tmp_path / "run"
    res = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "fit", "--config", str(ROOT / "configs" / "wcrnn_digits.yaml"),
         "--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu",
         "--trainer.max_steps", "3", "--trainer.limit_val_batches", "1", "--trainer.num_sanity_val_steps", "0",
         "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
         "--trainer.default_root_dir", str(run), "--trainer.callbacks+=test_ddp.SplitProbe",
         "--model.init_args.hidden_size", "4", "--data.init_args.order", "row", "--data.init_args.batch_size", "32"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    probes = [json.loads((run / f"probe_rank{r}.json").read_text()) for r in (0, 1)]
    assert [p["world_size"] for p in probes] == [2, 2]
    assert probes[0]["splits"] == probes[1]["splits"]  # the same data, generated from the same seed
    a, b = (set(p["indices"]) for p in probes)
    n = probes[0]["n_train"]
    assert a | b == set(range(n)) and len(a & b) <= 1  # each rank its half (one index padded if n is odd)
    assert len(probes[0]["indices"]) == len(probes[1]["indices"]) == -(-n // 2)
    assert probes[0]["params_start"] == probes[1]["params_start"]  # seed_everything on every rank
    assert probes[0]["params_end"] == probes[1]["params_end"] != probes[0]["params_start"]  # synchronised steps
    (ckpt,) = run.rglob("*.ckpt")  # written once, by rank 0
    assert torch.load(ckpt, weights_only=True)["global_step"] == 3
    assert dynalysis.load_checkpoint(ckpt).state_size == 4
