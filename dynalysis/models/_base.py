"""Base class and registry for the recurrent networks that dynalysis can train and analyse.

Every network is a plain `torch.nn.Module` (no Lightning) so that a checkpoint can be turned
back into a step map without importing the training stack. Shapes: inputs ``(B, T, d)``,
states ``(B, T, S)``, outputs ``(B, T, O)``.
"""
from __future__ import annotations

import abc
import difflib
import inspect
import math

import torch
from torch import Tensor, nn

from ..errors import OptionError

__all__ = ["RecurrentNet", "register_model", "build_model", "cell_options", "check_cell_options",
           "MODELS"]

MODELS: dict[str, type["RecurrentNet"]] = {}


def register_model(name: str):
    """Class decorator: make a `RecurrentNet` buildable as ``build_model(name, ...)``."""

    def deco(cls):
        cls.cell_name = name
        MODELS[name] = cls
        return cls

    return deco


class RecurrentNet(nn.Module, abc.ABC):
    """A recurrent network with a linear readout.

    Subclasses implement `step` (one step, used by analyses) and may override `sequence`
    (all states) and `hidden_states` (the hidden part only, what `forward` trains on; fused
    kernels where torch has them). All must agree: the contract test checks them against
    repeated ``step`` calls to 1e-5 for every cell. Cells with an analytic Jacobian product
    define ``tangent_step(state, x, Q) -> (next_state, J Q)`` and declare
    ``analytic_tangent = True``; `dynalysis.ModuleSystem` differentiates ``step`` for the
    others. Cells with a recurrent matrix declare ``has_recurrent_matrix = True`` and say
    what it is in ``recurrent_matrix_description``.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
        ``d``, ``N`` and ``O``. ``output_size = 0`` means no readout.
    """

    cell_name: str = ""
    #: `tangent_step` is a hand-written J·Q product
    analytic_tangent: bool = False
    #: `recurrent_matrix` returns an ``(N, N)`` matrix (None otherwise)
    has_recurrent_matrix: bool = False
    #: None for discrete-time cells; the integration step of a continuous-time cell (ctrnn),
    #: whose analyses then report rates per unit time in ``time_unit``
    time_step: float | None = None
    time_unit: str = "step"
    #: what `recurrent_matrix` is, in words (results and plot labels)
    recurrent_matrix_description: str = ""

    def __init__(self, input_size: int, hidden_size: int, output_size: int = 0):
        super().__init__()
        if input_size < 0 or hidden_size < 1 or output_size < 0:
            raise OptionError(
                f"need input_size >= 0, hidden_size >= 1, output_size >= 0; got "
                f"{input_size}, {hidden_size}, {output_size}")
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.output_size = int(output_size)
        self.out = nn.Linear(self.hidden_size, self.output_size) if output_size else None

    def _init_readout(self, generator: torch.Generator | None) -> None:
        """Redraw ``W_out, b_out ~ U(-1/√N, 1/√N)`` (torch's ``nn.Linear`` default) from
        ``generator``, so that a cell's ``seed`` fixes every weight."""
        if self.out is None:
            return
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            self.out.weight.uniform_(-bound, bound, generator=generator)
            self.out.bias.uniform_(-bound, bound, generator=generator)

    # --- the step map -------------------------------------------------------------------
    @property
    def state_size(self) -> int:
        """Size of the state the step map carries (``2N`` for the LSTM's ``[h, c]``)."""
        return self.hidden_size

    @abc.abstractmethod
    def step(self, state: Tensor, x: Tensor) -> Tensor:
        """``(B, S), (B, d) -> (B, S)``."""

    def jacobian(self, state: Tensor, x: Tensor) -> Tensor:
        """``J (B, S, S)`` of a cell with an analytic `tangent_step` (``analytic_tangent``): that
        product on the identity, unless the cell forms ``J`` more cheaply itself."""
        eye = torch.eye(self.state_size, dtype=state.dtype, device=state.device)
        return self.tangent_step(state, x, eye.expand(state.shape[0], -1, -1))[1]

    def hidden(self, state: Tensor) -> Tensor:
        """The part of the state the readout sees (``h`` of the LSTM's ``[h, c]``)."""
        return state[..., : self.hidden_size]

    def readout(self, state: Tensor) -> Tensor:
        """``(..., S) -> (..., O)``: ``y = W_out h + b_out``."""
        return self.out(self.hidden(state))

    def recurrent_matrix(self) -> Tensor | None:
        """The recurrent matrix ``(N, N)`` (row = receiving unit), see
        ``recurrent_matrix_description``; None for cells without one."""
        return None

    def gate_matrices(self) -> dict[str, Tensor]:
        """Hidden-to-hidden blocks of a gated cell ``{gate: (N, N)}`` (empty otherwise)."""
        return {}

    # --- training path ------------------------------------------------------------------
    def sequence(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        """All states ``(B, T, S)`` for inputs ``(B, T, d)`` from ``state`` (zeros if None)."""
        B, T, _ = x.shape
        h = self.initial_state(B, x) if state is None else state
        states = []
        for t in range(T):
            h = self.step(h, x[:, t])
            states.append(h)
        return torch.stack(states, 1)

    def initial_state(self, batch: int, like: Tensor) -> Tensor:
        return torch.zeros(batch, self.state_size, dtype=like.dtype, device=like.device)

    def hidden_states(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        """Hidden states ``(B, T, N)`` (what the readout sees) for inputs ``(B, T, d)``.

        Equal to ``hidden(sequence(x, state))``; cells whose fused kernel yields only ``h``
        (the LSTM) override it so that training never computes what it does not use.
        """
        return self.hidden(self.sequence(x, state))

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Return ``(outputs (B, T, O), hidden states (B, T, N))`` (the training path).

        Without a readout (``output_size = 0``) the outputs are the hidden states. The full
        step-map states ``(B, T, S)`` (``[h, c]`` for the LSTM) come from `sequence`.
        """
        hidden = self.hidden_states(x, state)
        outputs = self.readout(hidden) if self.out is not None else hidden
        return outputs, hidden

    def spec(self) -> dict:
        """Primitive-only description from which `build_model` rebuilds this network."""
        return {"cell": self.cell_name, "input_size": self.input_size,
                "hidden_size": self.hidden_size, "output_size": self.output_size,
                **self.options}

    options: dict = {}


def _check_cell(cell: str) -> type[RecurrentNet]:
    if cell not in MODELS:
        raise OptionError(f"invalid cell={cell!r}; allowed values: {', '.join(sorted(MODELS))}")
    return MODELS[cell]


def cell_options(cell: str) -> tuple[str, ...]:
    """The keyword options a cell accepts (besides the sizes), sorted.

    >>> cell_options("gru")
    ('bias_init', 'init', 'init_options', 'input_init', 'input_init_options', 'seed')
    """
    cls = _check_cell(cell)
    names: set[str] = set()
    for klass in cls.__mro__:  # a constructor passing **options on adds its base's options
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        names.update(p.name for p in params if p.kind is p.KEYWORD_ONLY)
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return tuple(sorted(names))


def check_cell_options(cell: str, options) -> None:
    """Raise `OptionError` naming any key of ``options`` that ``cell`` does not accept.

    Values are checked by the cell itself when `build_model` builds it.

    >>> check_cell_options("lstm", {"epsilon": 0.1})
    Traceback (most recent call last):
    ...
    dynalysis.errors.OptionError: unknown option 'epsilon' for cell 'lstm'; allowed: bias_init, init, init_options, input_init, input_init_options, seed
    """
    allowed = cell_options(cell)
    unknown = [k for k in options if k not in allowed]
    if not unknown:
        return
    lower = {a.lower(): a for a in allowed}
    near = difflib.get_close_matches(unknown[0].lower(), list(lower), n=1)
    hint = f" (did you mean {lower[near[0]]!r}?)" if near else ""
    names = ", ".join(repr(k) for k in unknown)
    raise OptionError(f"unknown option{'s' if len(unknown) > 1 else ''} {names} for cell "
                      f"{cell!r}{hint}; allowed: {', '.join(allowed)}")


def build_model(cell: str, *, input_size: int, hidden_size: int, output_size: int = 0,
                **options) -> RecurrentNet:
    """Build a registered network by name.

    Parameters
    ----------
    cell : str
        One of ``MODELS`` (``"wcrnn"``, ``"elman"``, ``"lstm"``, ``"gru"``, ``"linear"``).
    input_size, hidden_size, output_size : int
    **options
        Cell-specific keyword options (residual, initializer, ...), see each class and
        `cell_options`.

    Raises
    ------
    OptionError
        For an unknown cell, an option the cell does not accept (naming the allowed ones),
        or an invalid value.
    """
    cls = _check_cell(cell)
    check_cell_options(cell, options)
    return cls(input_size=input_size, hidden_size=hidden_size, output_size=output_size, **options)
