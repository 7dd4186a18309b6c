"""The ``checkpoint["dynalysis"]`` record: what a checkpoint must say to load as a step map.

Defined once, here: `make_checkpoint_record` is what the trainer (`lightning_modules`) writes,
`read_checkpoint_record` is what `dynalysis.load_checkpoint` reads. The record holds primitives
only (so ``torch.load(weights_only=True)`` reads it without unpickling code)::

    {"format_version": 1,
     "model": {"cell": "wcrnn", "input_size": 8, "hidden_size": 64, "output_size": 10, ...},
     "state_dict_prefix": "net.",                  # the network's weights in checkpoint["state_dict"]
     "task": {"name": "digits", "order": "pixel", ...} or None,
     "training": {"optimizer": "adam", "lr": 0.003, "weight_decay": 0.0,
                  "target_mode": "last", "loss": "cross_entropy"}}

``training`` records the optimiser that actually ran (its class and the learning rate it
started from), whatever configured it.
"""
from __future__ import annotations

import math
from typing import Mapping

from ..errors import CheckpointError

__all__ = ["FORMAT_VERSION", "SUPPORTED_FORMATS", "make_checkpoint_record", "read_checkpoint_record",
           "network_weights", "FOREIGN_HINT"]

FORMAT_VERSION = 1
SUPPORTED_FORMATS = (1,)
_SIZES = ("input_size", "hidden_size", "output_size")
#: what to do with a checkpoint of a model this project did not write (on the command line the
#: option names become --module/--rnn/--readout)
FOREIGN_HINT = ("to analyse your own model, name its class and recurrent submodule: module=pkg.mod:Class "
                "rnn=encoder.rnn (readout=head; analyze also needs inputs=FILE), see dynalysis.load_checkpoint")


def _primitive(value) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_primitive(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _primitive(v) for k, v in value.items())
    return False


def make_checkpoint_record(*, model: Mapping, task: Mapping | None, training: Mapping,
                           state_dict_prefix: str = "net.") -> dict:
    """The record to store as ``checkpoint["dynalysis"]``.

    Parameters
    ----------
    model : mapping
        The network's spec (``RecurrentNet.spec()``: ``cell``, sizes and cell options).
    task : mapping or None
        The task's spec (``Task.spec()``), from which analyses re-create the driving inputs.
    training : mapping
        How it was trained: ``optimizer`` (lower-case class name), ``lr`` (initial learning
        rate), ``weight_decay``, ``target_mode``, ``loss``.
    state_dict_prefix : str, default "net."
        Prefix of the network's weights in ``checkpoint["state_dict"]``.

    Returns
    -------
    dict

    Examples
    --------
    >>> record = make_checkpoint_record(
    ...     model={"cell": "elman", "input_size": 1, "hidden_size": 4, "output_size": 2},
    ...     task=None, training={"optimizer": "sgd", "lr": 0.5})
    >>> record["format_version"], record["training"]["optimizer"]
    (1, 'sgd')
    """
    record = {"format_version": FORMAT_VERSION, "model": dict(model),
              "state_dict_prefix": str(state_dict_prefix),
              "task": None if task is None else dict(task), "training": dict(training)}
    if not isinstance(record["model"].get("cell"), str):
        raise ValueError("the model spec needs its 'cell' name")
    if not _primitive(record):
        raise ValueError("a checkpoint record holds primitives only (numbers, strings, lists, dicts)")
    return record


def read_checkpoint_record(checkpoint: Mapping, *, source) -> dict:
    """Check the record of a loaded checkpoint dict and return it with ``epoch``/``global_step``.

    ``source`` names the file in error messages. The state dict's presence is checked here;
    whether the weights fit the model is checked by `dynalysis.load_checkpoint`.

    Raises
    ------
    CheckpointError
        No record, another format version, a model without cell name or with sizes that are
        not positive integers, or a record that is not made of primitives.

    Examples
    --------
    >>> read_checkpoint_record({"state_dict": {}, "epoch": 2, "global_step": 9,
    ...     "dynalysis": make_checkpoint_record(model={"cell": "elman", "input_size": 1,
    ...     "hidden_size": 4}, task=None, training={})}, source="x.ckpt")["global_step"]
    9
    >>> read_checkpoint_record({"state_dict": {}}, source="x.ckpt")
    Traceback (most recent call last):
    ...
    dynalysis.errors.CheckpointError: x.ckpt is not a dynalysis checkpoint (no 'dynalysis' record); to analyse your own model, name its class and recurrent submodule: module=pkg.mod:Class rnn=encoder.rnn (readout=head; analyze also needs inputs=FILE), see dynalysis.load_checkpoint
    """
    record = checkpoint.get("dynalysis")
    if record is None:
        raise CheckpointError(f"{source} is not a dynalysis checkpoint (no 'dynalysis' record); {FOREIGN_HINT}")
    version = record.get("format_version") if isinstance(record, dict) else "?"
    if version not in SUPPORTED_FORMATS:
        raise CheckpointError(f"{source} has an unsupported dynalysis record (format {version}); "
                              f"this version reads formats {SUPPORTED_FORMATS}")
    model = record.get("model")
    if not isinstance(checkpoint.get("state_dict"), dict) or not isinstance(model, dict) \
            or not isinstance(model.get("cell"), str):
        raise CheckpointError(f"{source} lacks its state_dict or model description")
    if not _primitive(record):
        raise CheckpointError(f"{source}: the dynalysis record holds non-primitive values; "
                              "the file is damaged or was not written by dynalysis")
    for key in _SIZES:
        value = model.get(key)
        if key == "output_size" and value in (None, 0):
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CheckpointError(f"{source}: the model description has {key}={value!r}; "
                                  "a size must be a positive integer (the record is damaged)")
    for key, value in (record.get("task") or {}).items():
        if isinstance(value, float) and not math.isfinite(value):
            raise CheckpointError(f"{source}: the task description has {key}={value!r} (the record is damaged)")
    return {**record, "epoch": checkpoint.get("epoch"), "global_step": checkpoint.get("global_step")}


def network_weights(record: Mapping, state_dict: Mapping) -> dict:
    """The network's tensors from a checkpoint's ``state_dict``, without the record's prefix.

    >>> network_weights({"state_dict_prefix": "net."}, {"net.W": 1, "metrics.x": 2})
    {'W': 1}
    """
    prefix = record.get("state_dict_prefix", "net.")
    return {k[len(prefix):]: v for k, v in state_dict.items() if isinstance(k, str) and k.startswith(prefix)}
