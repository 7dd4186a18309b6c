"""Checkpoint → step map: the only bridge between training and analysis.

Reads a Lightning checkpoint written by `lightning_modules.SequenceModel` with
``torch.load(weights_only=True)`` (no Lightning import, no pickled code) and rebuilds the
network from the primitive-only ``checkpoint["dynalysis"]`` record.
"""
from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import torch

from ._errors import CheckpointError, DynalysisError
from ._system import ModuleSystem

__all__ = ["load_checkpoint", "read_checkpoint_record", "find_checkpoints"]

SUPPORTED_FORMATS = (1,)


def read_checkpoint_record(path: str | os.PathLike) -> tuple[dict, dict]:
    """Return ``(record, state_dict)`` of a dynalysis checkpoint, or raise `CheckpointError`."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory; give a .ckpt file (or use find_checkpoints)")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (an interrupted save?); use another checkpoint")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, RuntimeError, ValueError,
            OSError, KeyError, IndexError, TypeError, AttributeError, UnicodeDecodeError,
            MemoryError, OverflowError) as e:
        msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path} is corrupt or not a torch checkpoint ({msg})") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path} holds a {type(ckpt).__name__}, not a Lightning checkpoint")
    record = ckpt.get("dynalysis")
    if record is None:
        if "state_dict" not in ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
            raise CheckpointError(f"{path} is a plain state_dict without the model description; "
                                  "save checkpoints by training with `python cli.py fit`")
        raise CheckpointError(f"{path} is not a dynalysis checkpoint (no 'dynalysis' record); "
                              "train with `python cli.py fit` or wrap your model with dynalysis.MapSystem")
    if not isinstance(record, dict) or record.get("format_version") not in SUPPORTED_FORMATS:
        raise CheckpointError(f"{path} has an unsupported dynalysis record (format "
                              f"{record.get('format_version') if isinstance(record, dict) else '?'}); "
                              f"this version reads formats {SUPPORTED_FORMATS}")
    state = ckpt.get("state_dict")
    if not isinstance(state, dict) or "model" not in record:
        raise CheckpointError(f"{path} lacks its state_dict or model description")
    return record, state


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
    from .models import build_model

    record, state = read_checkpoint_record(path)
    spec = dict(record["model"])
    prefix = record.get("state_dict_prefix", "net.")
    try:
        net = build_model(spec.pop("cell"), **spec)
    except (DynalysisError, TypeError, KeyError) as e:
        raise CheckpointError(f"{path}: cannot rebuild model {record['model'].get('cell')!r} "
                              f"({e}); was it written by another dynalysis version?") from None
    weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    try:
        net.load_state_dict(weights)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(f"{path}: weights do not fit the model description ({first})") from None
    if dtype is not None or device is not None:
        net = net.to(dtype=dtype, device=device)
    meta = {"checkpoint": str(Path(path).resolve()), "model": record["model"],
            "task": record.get("task"), "training": record.get("training")}
    return ModuleSystem(net, meta)


def find_checkpoints(paths) -> list[Path]:
    """Expand files, folders (recursively) and glob patterns into a sorted list of ``.ckpt`` files."""
    import glob

    out: list[Path] = []
    for p in [paths] if isinstance(paths, (str, os.PathLike)) else paths:
        p = str(p)
        if any(c in p for c in "*?["):
            out += [Path(m) for m in glob.glob(p, recursive=True)]
        elif Path(p).is_dir():
            found = sorted(Path(p).rglob("*.ckpt"))
            if not found:
                raise CheckpointError(f"{p} contains no .ckpt files")
            out += found
        else:
            out.append(Path(p))
    return sorted(dict.fromkeys(out))
