"""Checkpoint → step map: the only bridge between training and analysis.

Reads a Lightning checkpoint written by `lightning_modules.SequenceModel` with
``torch.load(weights_only=True)`` (no Lightning import, no pickled code) and rebuilds the
network from the primitive-only ``checkpoint["dynalysis"]`` record.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import torch

from ..errors import CheckpointError, first_line
from ..system import ModuleSystem

__all__ = ["load_checkpoint", "read_checkpoint_record", "find_checkpoints", "find_last_checkpoint"]

SUPPORTED_FORMATS = (1,)


def read_checkpoint_record(path: str | os.PathLike) -> tuple[dict, dict]:
    """Return ``(record, state_dict)`` of a dynalysis checkpoint, or raise `CheckpointError`.

    The zip container's CRC-32 checksums are verified before anything is unpickled, so a
    damaged file is an error rather than a network with silently altered weights.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory; give a .ckpt file (or use find_checkpoints)")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (an interrupted save?); use another checkpoint")
    try:
        _check_zip(path)
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except Exception as e:  # torch.load fails on damaged files with many exception types
        raise CheckpointError(f"{path} is corrupt or not a torch checkpoint ({first_line(e)}); "
                              "use another checkpoint or re-train") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path} holds a {type(ckpt).__name__}, not a Lightning checkpoint")
    record = ckpt.get("dynalysis")
    if record is None:
        if "state_dict" not in ckpt and ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
            raise CheckpointError(f"{path} is a plain state_dict without the model description; "
                                  "save checkpoints by training with `python cli.py fit`")
        raise CheckpointError(f"{path} is not a dynalysis checkpoint (no 'dynalysis' record); "
                              "train with `python cli.py fit` or wrap your model with dynalysis.MapSystem")
    if not isinstance(record, dict) or record.get("format_version") not in SUPPORTED_FORMATS:
        raise CheckpointError(f"{path} has an unsupported dynalysis record (format "
                              f"{record.get('format_version') if isinstance(record, dict) else '?'}); "
                              f"this version reads formats {SUPPORTED_FORMATS}")
    state = ckpt.get("state_dict")
    model = record.get("model")
    if not isinstance(state, dict) or not isinstance(model, dict) or not isinstance(model.get("cell"), str):
        raise CheckpointError(f"{path} lacks its state_dict or model description")
    record = {**record, "epoch": ckpt.get("epoch"), "global_step": ckpt.get("global_step")}
    return record, state


def _check_zip(path: Path) -> None:
    """Verify the CRC-32 of every member of a zip-format torch checkpoint."""
    if not zipfile.is_zipfile(path):
        return  # torch's legacy format: torch.load checks what it can
    with zipfile.ZipFile(path) as zf:
        bad = zf.testzip()
    if bad is not None:
        raise CheckpointError(f"{path} is corrupt (checksum mismatch in {bad!r}); "
                              "use another checkpoint or re-train")


def load_checkpoint(path: str | os.PathLike, *, dtype: torch.dtype | None = None,
                    device=None) -> ModuleSystem:
    """Load a trained network as a step map.

    Parameters
    ----------
    path : path-like
        A ``.ckpt`` written by ``python cli.py fit``.
    dtype, device : optional
        Move the parameters (analyses convert to float64 themselves).

    Returns
    -------
    ModuleSystem
        ``state_size``, ``input_size``, ``step``, ``tangent_step``, ``initial_state``,
        ``readout`` and ``recurrent_matrix``; ``metadata`` holds the checkpoint path, the model
        and task specs, epoch and global step.

    Raises
    ------
    CheckpointError
        Missing, empty, corrupt or foreign files, with a one-line reason.
    """
    from ..models import MODELS, build_model

    record, state = read_checkpoint_record(path)
    spec = dict(record["model"])
    cell = spec.pop("cell")
    if cell not in MODELS:
        raise CheckpointError(f"{path}: model class {cell!r} does not exist in this dynalysis "
                              f"(available: {', '.join(sorted(MODELS))}); load it with the version "
                              "that trained it, or register the cell with dynalysis.models.register_model")
    try:
        net = build_model(cell, **spec)
    except Exception as e:  # options of another version, or a damaged record
        raise CheckpointError(f"{path}: cannot rebuild model {cell!r} ({first_line(e)}); "
                              "was it written by another dynalysis version?") from None
    prefix = record.get("state_dict_prefix", "net.")
    weights = {k[len(prefix):]: v for k, v in state.items() if isinstance(k, str) and k.startswith(prefix)}
    try:
        net.load_state_dict(weights)
    except Exception as e:
        raise CheckpointError(f"{path}: weights do not fit the model description "
                              f"({first_line(e)})") from None
    if dtype is not None or device is not None:
        net = net.to(dtype=dtype, device=device)
    meta = {"checkpoint": str(Path(path).resolve()), "model": record["model"],
            "task": record.get("task"), "training": record.get("training"),
            "epoch": record["epoch"], "global_step": record["global_step"]}
    return ModuleSystem(net, meta)


def find_checkpoints(paths) -> list[Path]:
    """Expand files, folders (recursively) and glob patterns into a sorted list of ``.ckpt`` files.

    Explicit files are kept as given (a missing one is reported when it is loaded); folders
    contribute every ``*.ckpt`` below them; ``**`` in a pattern spans folders. Files reached
    twice (e.g. a ``last.ckpt`` symlink next to its target) appear once.

    Raises
    ------
    CheckpointError
        A folder without checkpoints or a pattern that matches no file.
    """
    from .paths import expand_paths

    return expand_paths(paths, suffix=".ckpt", error=CheckpointError,
                        hint="; train with `python cli.py fit` first, or check the path")


def find_last_checkpoint(root) -> Path | None:
    """The checkpoint to resume training from: the newest ``last*.ckpt`` below ``root``, else the
    newest ``*.ckpt`` (Lightning's default callback keeps only the latest epoch's), else None.

    Lightning itself looks for ``last.ckpt`` only in the current run's version folder, which is
    new on every call; this searches every version folder of ``root``
    (``trainer.default_root_dir``).
    """
    root = Path(root)
    if not root.is_dir():
        return None
    for pattern in ("last*.ckpt", "*.ckpt"):
        found = [p for p in root.rglob(pattern) if p.is_file()]
        if found:
            return max(found, key=lambda p: (p.stat().st_mtime_ns, str(p)))
    return None
