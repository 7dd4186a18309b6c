"""Checkpoint → step map: the only bridge between training and analysis.

Reads a Lightning checkpoint written by `lightning_modules.SequenceModel` with
``torch.load(weights_only=True)`` (no Lightning import, no pickled code) and rebuilds the
network from the primitive-only ``checkpoint["dynalysis"]`` record (`dynalysis.io.record`).
Before anything is allocated, the network the record describes is built on PyTorch's ``meta``
device (shapes, no memory) and its weight shapes are compared with the stored ones, so a
damaged or edited record cannot make the loader allocate a network the file does not hold.
"""
from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import torch

from ..errors import CheckpointError, first_line
from ..system import ModuleSystem
from .record import network_weights, read_checkpoint_record

__all__ = ["load_checkpoint", "read_checkpoint", "check_checkpoint_file", "find_checkpoints",
           "find_last_checkpoint"]


def check_checkpoint_file(path: str | os.PathLike) -> dict:
    """Load a torch checkpoint file safely and return its dict, or raise `CheckpointError`.

    Missing, empty and folder paths, damaged zip containers (CRC-32 checked before anything is
    unpickled), pickles that contain code objects (never unpickled) and files that are not
    torch checkpoints all give a one-line error naming the file.
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
    except pickle.UnpicklingError as e:  # torch's weights-only unpickler met a global (code)
        if "Unsupported global" in str(e) or "Unsupported class" in str(e):
            raise CheckpointError(f"{path} is not a weights-only checkpoint (it contains code "
                                  "objects; this tool never unpickles code)") from None
        raise CheckpointError(f"{path} is corrupt or not a torch checkpoint ({first_line(e)}); "
                              "use another checkpoint or re-train") from None
    except Exception as e:  # torch.load fails on damaged files with many exception types
        raise CheckpointError(f"{path} is corrupt or not a torch checkpoint ({first_line(e)}); "
                              "use another checkpoint or re-train") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path} holds a {type(ckpt).__name__}, not a Lightning checkpoint")
    return ckpt


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, dict]:
    """Return ``(record, state_dict)`` of a dynalysis checkpoint, or raise `CheckpointError`."""
    ckpt = check_checkpoint_file(path)
    if "dynalysis" not in ckpt and "state_dict" not in ckpt and ckpt \
            and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        raise CheckpointError(f"{path} is a plain state_dict without the model description; "
                              "save checkpoints by training with `python cli.py fit`")
    record = read_checkpoint_record(ckpt, source=path)
    return record, ckpt["state_dict"]


def _check_zip(path: Path) -> None:
    """Verify the CRC-32 of every member of a zip-format torch checkpoint."""
    if not zipfile.is_zipfile(path):
        return  # torch's legacy format: torch.load checks what it can
    with zipfile.ZipFile(path) as zf:
        bad = zf.testzip()
    if bad is not None:
        raise CheckpointError(f"{path} is corrupt (checksum mismatch in {bad!r}); "
                              "use another checkpoint or re-train")


def _shape_mismatch(expected: dict, stored: dict) -> str:
    """'' when the stored weights have the expected names and shapes, else what differs."""
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    if missing or unexpected:
        return (f"missing {', '.join(missing[:3]) or 'nothing'}, "
                f"unexpected {', '.join(unexpected[:3]) or 'nothing'}")
    for name, shape in expected.items():
        if tuple(stored[name].shape) != shape:
            return f"{name} is stored as {tuple(stored[name].shape)}, the description needs {shape}"
    return ""


def _build(cell: str, spec: dict, weights: dict, path) -> torch.nn.Module:
    """The network of the record, checked on the meta device first, then built and loaded."""
    from ..models import build_model

    def build(device=None):
        try:
            if device is None:
                return build_model(cell, **spec)
            with torch.device(device):
                return build_model(cell, **spec)
        except Exception as e:  # options of another version, or a damaged record
            raise CheckpointError(f"{path}: cannot rebuild model {cell!r} ({first_line(e)}); "
                                  "was it written by another dynalysis version?") from None

    shapes = {k: tuple(v.shape) for k, v in build("meta").state_dict().items()}
    problem = _shape_mismatch(shapes, weights)
    sizes = ", ".join(f"{k}={spec.get(k)}" for k in ("input_size", "hidden_size", "output_size"))
    if problem:
        raise CheckpointError(f"{path}: the stored weights do not fit the model description "
                              f"({sizes}: {problem}); the record is damaged or edited")
    net = build()
    try:
        net.load_state_dict(weights)
    except Exception as e:
        raise CheckpointError(f"{path}: weights do not fit the model description "
                              f"({first_line(e)})") from None
    return net


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
        Missing, empty, corrupt or foreign files, pickles with code, records whose sizes do
        not match the stored weights, with a one-line reason.
    """
    from ..models import MODELS

    record, state = read_checkpoint(path)
    spec = dict(record["model"])
    cell = spec.pop("cell")
    if cell not in MODELS:
        raise CheckpointError(f"{path}: model class {cell!r} does not exist in this dynalysis "
                              f"(available: {', '.join(sorted(MODELS))}); load it with the version "
                              "that trained it, or register the cell with dynalysis.models.register_model")
    weights = {k: v for k, v in network_weights(record, state).items() if isinstance(v, torch.Tensor)}
    net = _build(cell, spec, weights, path)
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
