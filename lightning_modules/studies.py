"""Glue shared by the study scripts under ``analyses/``: quiet Lightning, a fresh results
folder, and the "how this was made" lines of a report."""
from __future__ import annotations

import logging
import shlex
import shutil
import sys
import warnings
from pathlib import Path

__all__ = ["quiet_lightning", "prepare_results", "study_command", "how_made"]


def quiet_lightning() -> None:
    """Silence Lightning's info logs and warnings (a study prints one line per run instead)."""
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="pytorch_lightning")
    warnings.filterwarnings("ignore", module="lightning_fabric")


def prepare_results(out: Path, *, overwrite: bool) -> Path:
    """Make ``out/runs`` and ``out/figures``; a non-empty ``out`` needs ``overwrite`` (then its
    runs, checkpoints and figures are removed), otherwise the script exits with a message."""
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            sys.exit(f"{out} is not empty; pass --overwrite to replace it")
        for sub in ("runs", "checkpoints", "figures"):
            shutil.rmtree(out / sub, ignore_errors=True)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    return out


def study_command(script: str, argv: list[str] | None) -> str:
    """The command line that reproduces this run, for the report."""
    args = argv if argv is not None else sys.argv[1:]
    return ".venv/bin/python " + " ".join(shlex.quote(a) for a in [script, *args])


def how_made(command: str, size: str, wall_s: float, n_runs: int) -> list[str]:
    """The report's closing section (markdown lines)."""
    return ["## How this was made", "", f"Command: `{command}`  ", f"Size: `{size}`  ",
            f"Wall time: {wall_s / 60:.1f} min ({n_runs} training runs) on the machine that ran it.", ""]
