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

from ..errors import CheckpointError, OptionError, first_line
from ..system import ModuleSystem
from .record import FOREIGN_HINT, network_weights, read_checkpoint_record

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
                              f"{FOREIGN_HINT}")
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


def load_checkpoint(path: str | os.PathLike, *, module=None, rnn: str | None = None, readout=None,
                    dtype: torch.dtype | None = None, device=None, weights_only: bool = True,
                    step=None, initial_state=None, input_size: int | None = None):
    """Load a trained network as a step map: ours, or your own model from its own class.

    Parameters
    ----------
    path : path-like
        A ``.ckpt`` written by ``python cli.py fit``; with ``module``, a Lightning checkpoint of
        your own LightningModule or a plain ``state_dict`` file (``torch.save(model.state_dict())``).
    module : class, instance or str, optional
        Your model, for a checkpoint this project did not write: its class (a LightningModule
        or any ``nn.Module``; rebuilt as ``Class(**checkpoint["hyper_parameters"])``, as
        Lightning's ``load_from_checkpoint`` does, or ``Class()`` when it needs no arguments),
        ``"package.module:Class"`` (imported, with the current folder on ``sys.path``), or an
        instance built as in training (for files without hyper-parameters and plain
        ``state_dict`` files; a copy is loaded, your instance is left as it was). The stored
        weights are loaded with their dtype (``load_state_dict(assign=True)``).
    rnn : str, optional
        With ``module``: the dotted name of the recurrent submodule (``"encoder.rnn"``;
        ``model.get_submodule``), handed to `dynalysis.from_module`. Default: the model's only
        torch RNN module (``nn.RNN``/``GRU``/``LSTM`` or a cell).
    readout : str or callable, optional
        With ``module``: the dotted name of the head applied to the top layer's ``h``
        (``"head"``), or any callable; enables memory analyses and fixed-point readouts.
    dtype, device : optional
        Move the parameters (analyses convert to float64 themselves).
    weights_only : bool, default True
        With ``module``: ``False`` unpickles code objects in the file (hyper-parameters that are
        objects); only for files you trust.
    step, initial_state, input_size : optional
        With ``module``, when ``rnn`` is not a torch RNN: its step protocol (`dynalysis.from_module`).

    Returns
    -------
    System
        ``state_size``, ``input_size``, ``step``, ``tangent_step``, ``initial_state``,
        ``readout`` and ``recurrent_matrix``. Ours: a `ModuleSystem` whose ``metadata`` holds
        the checkpoint path, the model and task specs, epoch and global step. With ``module``:
        what `dynalysis.from_module` returns (a ``TorchRNNSystem`` for torch RNNs, state layout
        ``[h_0 | … | h_{L−1} (| c_0 | … | c_{L−1})]``), its ``metadata`` adding ``checkpoint``,
        ``module_class``, ``rnn``, ``readout``, ``epoch``, ``global_step`` and
        ``hyper_parameters`` (JSON).

    Raises
    ------
    CheckpointError
        Missing, empty, corrupt or foreign files, pickles with code, records whose sizes do
        not match the stored weights, a model class that cannot be rebuilt from the file, with
        a one-line reason.
    OptionError
        With ``module``: a class that cannot be imported, a submodule name that does not exist
        (the message lists the model's recurrent submodules), a readout that does not fit.

    Notes
    -----
    No Lightning import: a Lightning checkpoint is a torch-saved dict read with
    ``torch.load(weights_only=True)``. The class is only ever the one you name, never one
    named inside the file (Lightning's ``_instantiator``/``_class_path`` entries are ignored).

    Examples
    --------
    Your LightningModule ``MyModel`` with ``self.encoder.rnn = nn.LSTM(...)`` and
    ``self.head = nn.Linear(...)``, saved by Lightning::

        net = dynalysis.load_checkpoint("epoch=9.ckpt", module=MyModel, rnn="encoder.rnn", readout="head")

    A plain ``state_dict`` of the same model::

        net = dynalysis.load_checkpoint("weights.pt", module=MyModel(hidden=64), rnn="encoder.rnn")
    """
    if module is not None:
        from .foreign import load_foreign_checkpoint

        return load_foreign_checkpoint(path, module=module, rnn=rnn, readout=readout, dtype=dtype,
                                       device=device, weights_only=weights_only, step=step,
                                       initial_state=initial_state, input_size=input_size)
    given = [k for k, v in {"rnn": rnn, "readout": readout, "step": step, "initial_state": initial_state,
                            "input_size": input_size}.items() if v is not None]
    if given or weights_only is not True:
        names = given or ["weights_only"]
        raise OptionError(f"{', '.join(names)} appl{'ies' if len(names) == 1 else 'y'} to checkpoints of "
                          "your own model; give module= (your model's class) too")
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
