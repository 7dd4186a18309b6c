"""`ProtocolSystem`: any ``nn.Module`` that advances a state one step, ``forward(x_t, state)``.

The state may be one tensor or a tuple, list or dict of them (nested too), each
``(batch, …)``; it is flattened to one vector per trajectory in the order of the example
state (dict keys in their order), and rebuilt before every call.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from ..errors import OptionError, StepMapError, first_line
from ..system import System
from ..system._module import frozen_view
from ._readout import Readout

__all__ = ["ProtocolSystem", "StateLayout"]


class StateLayout:
    """How a structured state (tensor, tuple/list/dict of tensors) maps to ``(batch, size)``.

    >>> layout = StateLayout({"h": torch.zeros(1, 3), "m": (torch.zeros(1, 2), torch.zeros(1, 2, 2))})
    >>> layout.size, layout.describe()
    (9, 'h (3,) | m[0] (2,) | m[1] (2, 2)')
    >>> flat = layout.flatten(layout.unflatten(torch.arange(9.0)[None]))
    >>> flat.tolist()
    [[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]]
    """

    def __init__(self, example):
        self.example = example
        self.leaves: list[tuple[str, tuple[int, ...]]] = []
        self._collect(example, "")
        if not self.leaves:
            raise OptionError("the example state holds no tensors")
        self.size = sum(math.prod(shape) for _, shape in self.leaves)

    def _collect(self, node, path: str) -> None:
        if isinstance(node, Tensor):
            if node.ndim < 2:
                raise OptionError(f"state leaf {path or 'state'} must be (batch, ...), got shape "
                                  f"{tuple(node.shape)}")
            self.leaves.append((path or "state", tuple(node.shape[1:])))
        elif isinstance(node, Mapping):
            for key, value in node.items():
                self._collect(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, (tuple, list)):
            for i, value in enumerate(node):
                self._collect(value, f"{path}[{i}]")
        else:
            raise OptionError(f"a state is a tensor or a tuple, list or dict of tensors; "
                              f"{path or 'the state'} is {type(node).__name__}")

    def describe(self) -> str:
        return " | ".join(f"{path} {shape}" for path, shape in self.leaves)

    def flatten(self, state) -> Tensor:
        leaves: list[Tensor] = []
        self._gather(state, self.example, leaves, "")
        return torch.cat([t.reshape(t.shape[0], -1) for t in leaves], -1)

    def _gather(self, node, like, out: list, path: str) -> None:
        if isinstance(like, Tensor):
            if not isinstance(node, Tensor) or tuple(node.shape[1:]) != tuple(like.shape[1:]):
                got = tuple(node.shape) if isinstance(node, Tensor) else type(node).__name__
                raise StepMapError(f"the step returned {got} for state leaf {path or 'state'}, "
                                   f"which is (batch, {', '.join(map(str, like.shape[1:]))}) "
                                   "in the example state")
            out.append(node)
        elif isinstance(like, Mapping):
            if not isinstance(node, Mapping) or list(node) != list(like):
                raise StepMapError(f"the step returned {type(node).__name__} with keys "
                                   f"{list(node) if isinstance(node, Mapping) else '-'} for "
                                   f"{path or 'the state'}, which has keys {list(like)}")
            for key in like:
                self._gather(node[key], like[key], out, f"{path}.{key}" if path else str(key))
        else:
            if not isinstance(node, (tuple, list)) or len(node) != len(like):
                raise StepMapError(f"the step returned {type(node).__name__} for "
                                   f"{path or 'the state'}, a {type(like).__name__} of {len(like)}")
            for i, (a, b) in enumerate(zip(node, like)):
                self._gather(a, b, out, f"{path}[{i}]")

    def unflatten(self, flat: Tensor):
        sizes = [math.prod(shape) for _, shape in self.leaves]
        parts = iter(torch.split(flat, sizes, -1))
        return self._build(self.example, parts, flat.shape[0])

    def _build(self, like, parts, batch: int):
        if isinstance(like, Tensor):
            return next(parts).reshape(batch, *like.shape[1:])
        if isinstance(like, Mapping):
            return {key: self._build(value, parts, batch) for key, value in like.items()}
        built = [self._build(value, parts, batch) for value in like]
        return tuple(built) if isinstance(like, tuple) else built


def _convert(node, dtype=None, device=None):
    """Detached copies of a state's tensors, floating ones in ``dtype`` (kept if None)."""
    if isinstance(node, Tensor):
        floating = dtype is not None and node.is_floating_point()
        return node.detach().to(dtype=dtype if floating else node.dtype, device=device or node.device)
    if isinstance(node, Mapping):
        return {k: _convert(v, dtype, device) for k, v in node.items()}
    if isinstance(node, (tuple, list)):
        converted = [_convert(v, dtype, device) for v in node]
        return tuple(converted) if isinstance(node, tuple) else converted
    return node  # not a state: StateLayout names it


class ProtocolSystem(System):
    """Step map of a module that advances its own state; build it with `dynalysis.from_module`.

    ``step(h, x) = flatten(fn(x, unflatten(h)))`` with ``fn`` the module's ``forward`` (or the
    method named, or ``step(module, x, state)``), computed on a frozen view of the module
    (eval mode: dropout off; gradient-free aliases of its weights), so the module itself is
    never modified. Jacobians are automatic differentiation of that step.

    Attributes
    ----------
    module : nn.Module
    layout : StateLayout
        How the module's state maps to the flat state (``layout.describe()``).
    """

    def __init__(self, module: nn.Module, *, initial_state, input_size: int, step="forward",
                 readout=None, name: str | None = None, _view_: nn.Module | None = None,
                 _readout_: Readout | None = None):
        if isinstance(step, str):
            if not callable(getattr(type(module), step, None)):
                raise OptionError(f"{type(module).__name__} has no method {step!r} (step= names the "
                                  "method that advances the state: method(x_t, state) -> state)")
        elif not callable(step):
            raise OptionError(f"step must be a method name or a callable (module, x_t, state) -> "
                              f"state, got {type(step).__name__}")
        if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 0:
            raise OptionError(f"input_size must be an int >= 0, got {input_size!r}")
        self.module = module
        self._view = frozen_view(module) if _view_ is None else _view_
        self._step_spec = step
        self.layout = StateLayout(_convert(initial_state))
        if any(t.shape[0] != 1 for t in _tensors(self.layout.example)):
            raise OptionError("initial_state must hold batch-1 tensors (one state, copied to every "
                              "trajectory)")
        self._initial = self.layout.flatten(self.layout.example)
        self.state_size, self.input_size = self.layout.size, int(input_size)
        self.metadata = {"system": "from_module", "module": type(module).__name__,
                         "step": step if isinstance(step, str) else getattr(step, "__name__", "step"),
                         "state_layout": self.layout.describe(), "input_size": self.input_size,
                         "name": name or type(module).__name__}
        self._readout = _readout_ if _readout_ is not None else (None if readout is None else Readout(readout))
        self._check_step(converted=_view_ is not None)
        self.output_size = 0 if self._readout is None else self._check_readout()

    @property
    def label(self) -> str:
        return f"from_module({self.metadata['name']})"

    def _fn(self):
        if isinstance(self._step_spec, str):
            return getattr(self._view, self._step_spec)
        return lambda x, s: self._step_spec(self._view, x, s)

    def step(self, state: Tensor, x: Tensor) -> Tensor:
        return self.layout.flatten(self._fn()(x, self.layout.unflatten(state)))

    def readout(self, state: Tensor) -> Tensor:
        """The readout on the state in the module's own structure (tensor, tuple or dict)."""
        if self._readout is None:
            return super().readout(state)
        return self._readout(self.layout.unflatten(state))

    def _check_step(self, converted: bool) -> None:
        """One step from the initial state: the structure comes back, in the state's dtype."""
        h = self.initial_state(1)
        register = ("tensors that are not the module's parameters or buffers are not converted; "
                    "register them (nn.Parameter, register_buffer)")
        with torch.no_grad():
            try:
                out = self.step(h, h.new_zeros(1, self.input_size))
            except StepMapError:
                raise
            except Exception as error:
                hint = (f"in {h.dtype} on {h.device}, {register}" if converted else
                        "the step protocol is step(x_t (batch, input_size), state) -> state")
                raise OptionError(f"{self.label}: one step from initial_state with a zero input "
                                  f"fails ({first_line(error)}); {hint}") from error
        if out.dtype != h.dtype or out.device != h.device:
            raise OptionError(f"{self.label}: the step returns {out.dtype} on {out.device} for a "
                              f"{h.dtype} state on {h.device}: {register}")

    def _check_readout(self) -> int:
        h = self.initial_state(1)
        with torch.no_grad():
            y = self.readout(h)
        if not isinstance(y, Tensor) or y.ndim != 2 or y.shape[0] != 1 or y.dtype != h.dtype:
            got = (tuple(y.shape), y.dtype) if isinstance(y, Tensor) else type(y).__name__
            raise OptionError(f"{self.label}: the readout must return (batch, output_size) in the "
                              f"state's dtype {h.dtype}, got {got}")
        return int(y.shape[1])

    def initial_state(self, batch: int, *, dtype=None, device=None) -> Tensor:
        h = self._initial.expand(batch, -1)
        return h.to(dtype=dtype or h.dtype, device=device or h.device).clone()

    def to(self, *, dtype=None, device=None) -> "ProtocolSystem":
        ref = self._initial
        dtype = dtype or ref.dtype
        device = ref.device if device is None else torch.device(device)
        if dtype == ref.dtype and (device == ref.device or (device.index is None and device.type == ref.device.type)):
            return self
        view = copy.deepcopy(self.module).to(dtype=dtype, device=device).requires_grad_(False).eval()
        readout = None if self._readout is None else self._readout.to(dtype=dtype, device=device)
        converted = ProtocolSystem(self.module, initial_state=_convert(self.layout.example, dtype, device),
                                   input_size=self.input_size, step=self._step_spec,
                                   name=self.metadata["name"], _view_=view, _readout_=readout)
        converted.metadata = dict(self.metadata)  # provenance added after construction travels too
        return converted

    def _reference_tensor(self) -> Tensor:
        return self._initial


def _tensors(node):
    if isinstance(node, Tensor):
        yield node
    elif isinstance(node, Mapping):
        for v in node.values():
            yield from _tensors(v)
    else:
        for v in node:
            yield from _tensors(v)
