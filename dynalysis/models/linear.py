"""Linear RNN with the width-scaled parameterisation of Emami et al. (docs/science.md §4).

    h_t = A h_{t-1} + B x_t,      y_t = C h_t (+ D x_t)
    ⇒   y_t = Σ_j K_j x_{t−j},    K_j = C A^j B    (the memory kernel)

Initialisation: ``A = U/√n, U_ij ~ N(0, s_A²)``; ``B_ij ~ N(0, s_B²)``;
``C = cᵀ/√n, c_ij ~ N(0, s_C²)``; ``D = 0``.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import OptionError
from ._base import RecurrentNet, register_model
from ._init import init_options_record, input_weight, recurrent_weight
from .initializers import make_generator

__all__ = ["LinearRNN"]


@register_model("linear")
class LinearRNN(RecurrentNet):
    """Linear RNN ``h_t = A h_{t-1} + B x_t``, ``y_t = C h_t + D x_t``.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
        ``n = hidden_size``. With ``output_size = 0`` there is no ``C`` (outputs = states).
    s_A, s_B, s_C : float, default 1.0
        Init standard deviations: ``A = U/√n, U ~ N(0, s_A²)`` (spectral radius ≈ s_A);
        ``B ~ N(0, s_B²)``; ``C = cᵀ/√n, c ~ N(0, s_C²)``. ``s_A`` applies to
        ``init="default"`` and ``s_B`` to ``input_init="default"`` only.
    direct : bool, default False
        Add the direct term ``D x_t`` (``D (O, d)``, initialised to 0, trained).
    init, init_options : default "default" (``"normal"`` with ``gain = s_A``)
        Initializer of ``A``; any of `initializers.RECURRENT_INITS` (e.g. "eigen",
        "orthogonal", "chain").
    input_init, input_init_options : default "default" (``"normal"``, ``gain = s_B``,
        ``fan = "none"``)
    seed : int, optional
        Seed of the initialisation (``A``, ``B``, ``C`` in this order).

    Notes
    -----
    ``A``, ``B``, ``C`` (and ``D``) are parameters of those names, so the memory kernel is
    ``K_j = C A^j B``. The step map's `readout` is ``C h``: ``D x`` cannot be expressed from the
    state alone and is added in `forward` (the training path) only.

    References
    ----------
    Emami, Sahraee-Ardakan, Pandit, Rangan & Fletcher, "Implicit bias of linear RNNs",
    ICML 2021.
    """

    analytic_tangent = True
    has_recurrent_matrix = True
    recurrent_matrix_description = "A (the Jacobian, the same at every state)"

    def __init__(self, input_size: int, hidden_size: int, output_size: int = 0, *,
                 s_A: float = 1.0, s_B: float = 1.0, s_C: float = 1.0, direct: bool = False,
                 init: str = "default", init_options: dict | None = None,
                 input_init: str = "default", input_init_options: dict | None = None,
                 seed: int | None = None):
        super().__init__(input_size, hidden_size, output_size)
        for name, value, option, choice in (("s_A", s_A, "init", init),
                                            ("s_B", s_B, "input_init", input_init)):
            if float(value) != 1.0 and choice != "default":
                raise OptionError(f"{name} sets the variance of {option}='default'; with "
                                  f"{option}={choice!r} use {option}_options instead")
        if direct and not output_size:
            raise OptionError("direct=True needs output_size >= 1 (D maps inputs to outputs)")
        self.options = dict(s_A=float(s_A), s_B=float(s_B), s_C=float(s_C), direct=bool(direct),
                            **init_options_record(init=init, init_options=init_options,
                                                  input_init=input_init, seed=seed,
                                                  input_init_options=input_init_options))
        n, d, O, g = self.hidden_size, self.input_size, self.output_size, make_generator(seed)
        o = self.options
        self.A = nn.Parameter(recurrent_weight(o["init"], o["init_options"], n, generator=g,
                                               default=("normal", {"gain": float(s_A)})))
        self.B = nn.Parameter(input_weight(o["input_init"], o["input_init_options"], n, d,
                                           generator=g,
                                           default=("normal", {"gain": float(s_B), "fan": "none"})))
        self.out = None  # the readout is C (no bias), not the base class' nn.Linear
        self.C = nn.Parameter(float(s_C) * torch.randn(O, n, generator=g) / math.sqrt(n)) if O else None
        self.D = nn.Parameter(torch.zeros(O, d)) if direct else None

    def recurrent_matrix(self) -> Tensor:
        """``A`` ``(n, n)``."""
        return self.A

    def readout(self, state: Tensor) -> Tensor:
        """``C h`` ``(..., O)`` (without the direct term, see the class notes)."""
        if self.C is None:
            raise OptionError("this LinearRNN has output_size=0: no readout C")
        return self.hidden(state) @ self.C.T

    def step(self, state: Tensor, x: Tensor) -> Tensor:
        return state @ self.A.T + x @ self.B.T

    def tangent_step(self, state: Tensor, x: Tensor, tangents: Tensor) -> tuple[Tensor, Tensor]:
        """``J Q = A Q`` (the Jacobian is ``A`` everywhere)."""
        return self.step(state, x), torch.matmul(self.A, tangents)

    def sequence(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        h = self.initial_state(x.shape[0], x) if state is None else state
        drive = x @ self.B.T  # all input projections in one product
        At, states = self.A.T, []
        for d_t in drive.unbind(1):  # unbind, not drive[:, t]: one gradient buffer, not T
            h = h @ At + d_t
            states.append(h)
        return torch.stack(states, 1)

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(y (B, T, O), h (B, T, n))`` with ``y_t = C h_t + D x_t`` (outputs = h if O = 0)."""
        h = self.hidden_states(x, state)
        if self.C is None:
            return h, h
        y = h @ self.C.T
        return (y + x @ self.D.T if self.D is not None else y), h
