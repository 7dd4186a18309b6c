"""Shared fixtures: a tiny trained checkpoint (real Lightning CLI fit, a few seconds)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _deterministic_threads():
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A WCRNN (N = 8) trained for 2 epochs on row-wise digits through the Lightning CLI."""
    from lightning_modules.cli import cli_main

    root = tmp_path_factory.mktemp("tiny_run")
    cli_main(["fit", "--config", str(ROOT / "configs" / "wcrnn_digits.yaml"),
              "--trainer.default_root_dir", str(root), "--trainer.max_epochs", "2",
              "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
              "--model.init_args.hidden_size", "8", "--data.init_args.order", "row"])
    (ckpt,) = root.rglob("*.ckpt")
    return ckpt
