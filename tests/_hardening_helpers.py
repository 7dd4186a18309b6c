"""Helpers shared by the hardening tests (test_hardening*.py): fast analysis options,
edited copies of a real checkpoint, and the one-line CLI error check."""
from __future__ import annotations

from pathlib import Path

import torch

from dynalysis.cli import main

FAST = dict(analyses="lyapunov", steps=60, transient=10, n_trajectories=2)
FAST_ARGS = ["--analyses", "lyapunov", "--steps", "60", "--transient", "10", "--n-trajectories", "2"]


def edited_checkpoint(src: Path, dst: Path, edit) -> Path:
    """A copy of a real checkpoint with ``edit(ckpt_dict)`` applied, re-saved with torch.save."""
    ckpt = torch.load(src, map_location="cpu", weights_only=True)
    edit(ckpt)
    torch.save(ckpt, dst)
    return dst


def _scale_residual(scale):
    def edit(ckpt):
        ckpt["dynalysis"]["model"]["residual_scale"] = scale
        ckpt["state_dict"]["net.R"] = scale * ckpt["state_dict"]["net.R"]
    return edit


def error_lines(text: str) -> list[str]:
    """stderr without the analyses' own ``warning:`` lines (about the network, not the error)."""
    return [ln for ln in text.strip().splitlines() if not ln.startswith("warning: ")]


def _one_line_error(capsys, argv) -> str:
    status = main(argv)
    full = capsys.readouterr().err.strip()
    lines = error_lines(full)
    err = "\n".join(lines)
    assert status == 2, full
    assert "Traceback" not in full and len(lines) == 1, full
    assert err.startswith("error: ")
    return err
