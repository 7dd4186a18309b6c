"""Checkpoints this project did not write: your own model, rebuilt from your own class.

A Lightning checkpoint is a torch-saved dict (``state_dict``, ``hyper_parameters`` when the
LightningModule called ``self.save_hyperparameters()``, ``epoch``, ``global_step``, optimiser
and loop states); a plain ``state_dict`` file is a dict of tensors. Both are read here with
``torch.load(weights_only=True)``, without importing Lightning: the class that rebuilds the
model is the one the caller names (a class, an instance, or ``"pkg.mod:Class"`` imported
because the caller asked for it), never one named inside the file. The recurrent submodule and
the readout are picked by dotted path and handed to `dynalysis.from_module`.
"""
from __future__ import annotations

import copy
import inspect
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError, OptionError, first_line

__all__ = ["load_foreign_checkpoint", "import_class", "check_class_spec"]

_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_INSTANCE_HINT = ("pass an instance built as in training instead: load_checkpoint(path, "
                  "module={name}(...), rnn=...)")


def check_class_spec(spec) -> str:
    """Check the form ``"package.module:Class"`` (no import); return it.

    >>> check_class_spec("mypkg.models:Seq2Seq")
    'mypkg.models:Seq2Seq'
    """
    if not isinstance(spec, str) or not _SPEC.match(spec):
        raise OptionError(f"invalid module={spec!r}; allowed values: 'package.module:Class', the "
                          "import path of your model's class (e.g. 'mypkg.models:Seq2Seq')")
    return spec


def import_class(spec: str) -> type:
    """The class named by ``"package.module:Class"``, imported with the current folder on
    ``sys.path`` (as ``uvicorn`` and ``celery`` find an application).

    Only ever called with a name the user gave (a keyword or a command-line flag).
    """
    check_class_spec(spec)
    module_name, _, attr = spec.partition(":")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    import importlib

    try:
        obj = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        raise OptionError(f"cannot import {module_name!r} for module={spec!r} ({first_line(e)}); run "
                          "from the folder that holds it or add that folder to PYTHONPATH") from None
    except Exception as e:  # the user's module failed while importing
        raise OptionError(f"importing {module_name!r} for module={spec!r} failed "
                          f"({type(e).__name__}: {first_line(e)})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise OptionError(f"{module_name!r} has no attribute {part!r} (module={spec!r})")
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, nn.Module)):
        raise OptionError(f"module={spec!r} is a {type(obj).__name__}, not a torch.nn.Module class "
                          "(a LightningModule is one)")
    return obj


def _read(path: Path, weights_only: bool) -> dict:
    from .checkpoint import check_checkpoint_file

    if not weights_only:
        if not path.is_file():
            raise CheckpointError(f"{path}: no such checkpoint file")
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e:
            raise CheckpointError(f"{path} is corrupt or not a torch checkpoint ({first_line(e)})") from None
        if not isinstance(ckpt, dict):
            raise CheckpointError(f"{path} holds a {type(ckpt).__name__}, not a checkpoint dict")
        return ckpt
    try:
        return check_checkpoint_file(path)
    except CheckpointError as e:
        if "not a weights-only checkpoint" in str(e):
            raise CheckpointError(f"{e} (hyper-parameters that are objects rather than plain data?); "
                                  "save plain hyper-parameters, or, from Python and only for a file you "
                                  "trust, pass weights_only=False") from None
        raise


def _split(ckpt: dict, path: Path) -> tuple[dict, dict | None, str | None, str]:
    """``(state_dict, hyper_parameters, hparams_name, kind)`` of a Lightning or plain file."""
    if isinstance(ckpt.get("state_dict"), Mapping):
        hparams = ckpt.get("hyper_parameters")
        if hparams is not None and not isinstance(hparams, Mapping):
            raise CheckpointError(f"{path}: its hyper_parameters are a {type(hparams).__name__}, "
                                  "not a dict; pass an instance of your model as module=")
        return dict(ckpt["state_dict"]), None if hparams is None else dict(hparams), \
            ckpt.get("hparams_name"), "lightning"
    if ckpt and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in ckpt.items()):
        return dict(ckpt), None, None, "state_dict"
    raise CheckpointError(f"{path} holds neither a Lightning checkpoint (a 'state_dict' entry) nor a "
                          "plain state_dict (names -> tensors)")


def _construct(cls: type, hparams: dict | None, hparams_name, path: Path) -> nn.Module:
    """``cls(**hyper_parameters)`` as Lightning's ``load_from_checkpoint`` calls it (arguments the
    constructor does not take are dropped unless it takes ``**kwargs``)."""
    name = cls.__name__
    params = inspect.signature(cls.__init__).parameters
    named = [p for k, p in params.items() if k != "self"
             and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    varkw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    if not hparams:
        required = [p.name for p in named if p.default is p.empty]
        if required:
            raise CheckpointError(
                f"{path} records no hyper_parameters, so {name} cannot be rebuilt from it (it needs "
                f"{', '.join(required)}); call self.save_hyperparameters() in {name}.__init__ when "
                f"training, or {_INSTANCE_HINT.format(name=name)}")
        kwargs = {}
    elif hparams_name and hparams_name in {p.name for p in named}:
        kwargs = {hparams_name: hparams}  # __init__(self, hparams): the dict is one argument
    else:
        kwargs = {k: v for k, v in hparams.items() if k not in ("_instantiator", "_class_path")}
        if not varkw:
            kwargs = {k: v for k, v in kwargs.items() if k in {p.name for p in named}}
    try:
        model = cls(**kwargs)
    except Exception as e:  # the user's constructor
        raise CheckpointError(f"{path}: {name}(**hyper_parameters) failed ({type(e).__name__}: "
                              f"{first_line(e)}); {_INSTANCE_HINT.format(name=name)}") from None
    if not isinstance(model, nn.Module):
        raise OptionError(f"{name}(...) returned a {type(model).__name__}, not a torch.nn.Module")
    return model


def _load_weights(model: nn.Module, state: dict, path: Path) -> None:
    """Load ``state`` keeping its dtype (a model trained in float64 stays float64)."""
    from .checkpoint import _shape_mismatch

    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    stored = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    problem = _shape_mismatch(expected, stored)
    if problem:
        raise CheckpointError(f"{path}: the stored weights do not fit {type(model).__name__} "
                              f"({problem}); build the model with the arguments it was trained with")
    try:
        model.load_state_dict(stored, strict=True, assign=True)
    except Exception as e:
        raise CheckpointError(f"{path}: the weights do not load into {type(model).__name__} "
                              f"({first_line(e)})") from None


def _recurrent_names(model: nn.Module) -> list[str]:
    from ..adapters._torch_rnn import TORCH_RECURRENT_MODULES

    return [n for n, m in model.named_modules() if isinstance(m, TORCH_RECURRENT_MODULES)]


def _submodule(model: nn.Module, dotted: str, what: str) -> nn.Module:
    if not isinstance(dotted, str):
        raise OptionError(f"{what} must be a dotted submodule name such as 'encoder.rnn', got "
                          f"{type(dotted).__name__}")
    try:
        return model.get_submodule(dotted)
    except AttributeError:
        names = (_recurrent_names(model) if what == "rnn" else []) or \
            [n for n, _ in model.named_modules() if n][:12]
        raise OptionError(f"{type(model).__name__} has no submodule {what}={dotted!r}; its "
                          f"{'recurrent ' if what == 'rnn' and _recurrent_names(model) else ''}"
                          f"submodules: {', '.join(names) or 'none'}") from None


def _pick_rnn(model: nn.Module, rnn) -> tuple[str, nn.Module]:
    if rnn is not None:
        return rnn, _submodule(model, rnn, "rnn")
    found = _recurrent_names(model)
    if len(found) == 1:
        return found[0], model.get_submodule(found[0])
    if not found:
        raise OptionError(f"{type(model).__name__} holds no torch RNN module (nn.RNN/GRU/LSTM or a "
                          "cell); name the module that steps with rnn= (and give step=, "
                          "initial_state=, input_size=, see dynalysis.from_module)")
    raise OptionError(f"{type(model).__name__} holds several recurrent modules ({', '.join(found)}); "
                      "name the one to analyse with rnn=")


def load_foreign_checkpoint(path, *, module, rnn=None, readout=None, dtype=None, device=None,
                            weights_only: bool = True, step=None, initial_state=None,
                            input_size=None):
    """`dynalysis.load_checkpoint` with ``module=``: see there."""
    from ..adapters import from_module
    from .._core.provenance import to_json

    path = Path(path)
    if isinstance(module, str):
        label = check_class_spec(module)
        module = import_class(module)
    elif isinstance(module, type) and issubclass(module, nn.Module):
        label = f"{module.__module__}:{module.__qualname__}"
    elif isinstance(module, nn.Module):
        label = f"{type(module).__module__}:{type(module).__qualname__} (instance)"
    else:
        raise OptionError(f"module must be your model's class, an instance of it, or "
                          f"'package.module:Class', got {type(module).__name__}")
    ckpt = _read(path, weights_only)
    state, hparams, hparams_name, kind = _split(ckpt, path)
    if isinstance(module, nn.Module):
        model = copy.deepcopy(module)  # the caller's instance is left as it was
    else:
        model = _construct(module, hparams, hparams_name, path)
    _load_weights(model, state, path)
    rnn_name, sub = _pick_rnn(model, rnn)
    head = readout
    if isinstance(readout, str):
        head = _submodule(model, readout, "readout")
    system = from_module(sub, readout=head, step=step, initial_state=initial_state,
                         input_size=input_size, name=f"{type(model).__name__}.{rnn_name}".rstrip("."))
    meta = {"checkpoint": str(path.resolve()), "checkpoint_kind": kind, "module_class": label,
            "rnn": rnn_name, "readout": readout if isinstance(readout, str) or readout is None
            else type(readout).__name__, "epoch": ckpt.get("epoch"), "global_step": ckpt.get("global_step")}
    if hparams:
        meta["hyper_parameters"] = to_json(hparams)
    meta = {k: v if v is None or isinstance(v, (str, int, float, bool)) else str(v) for k, v in meta.items()}
    system.metadata = {**system.metadata, **meta}
    if dtype is not None or device is not None:
        system = system.to(dtype=dtype, device=device)
    return system
