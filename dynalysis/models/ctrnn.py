"""Continuous-time rate network (CTRNN), Euler-discretised (docs/science.md §6).

    τ dh/dt = −h + W φ(h) + U x + b
    h_t = h_{t−1} + α (−h_{t−1} + W φ(h_{t−1}) + U x_t + b),      α = dt / τ

Jacobian ``J = (1 − α) I + α W diag(φ'(h))``, so ``J Q = (1 − α) Q + α W (φ'(h) ⊙ Q)``. With
``W ~ N(0, g²/N)`` and φ = tanh the network is chaotic for ``g > 1`` at large ``N``
(Sompolinsky, Crisanti & Sommers 1988); its exponents per unit time converge as ``dt → 0``
(the cell declares ``time_step = dt``).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import OptionError
from .._core.options import check_option
from ._base import RecurrentNet, register_model
from ._init import bias_vector, init_options_record, input_weight, recurrent_weight
from .initializers import make_generator

__all__ = ["CTRNN", "CTRNN_NONLINEARITIES"]

# φ, φ' as a function of h, and the slope of φ at the origin of its linear regime
CTRNN_NONLINEARITIES = {
    "tanh": (torch.tanh, lambda h: 1 - torch.tanh(h) ** 2, 1.0),
    "relu": (torch.relu, lambda h: (h > 0).to(h.dtype), 1.0),  # slope of the active region
    "sigmoid": (torch.sigmoid, lambda h: torch.sigmoid(h) * (1 - torch.sigmoid(h)), 0.25),
    "softplus": (nn.functional.softplus, torch.sigmoid, 0.5),
}


def _positive(name: str, value) -> float:
    """``value`` as a float > 0 (numeric strings too: command-line overrides of a config's
    ``cell_options`` arrive as strings)."""
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise OptionError(f"{name} must be a finite number > 0, got {value!r}")
    return number


@register_model("ctrnn")
class CTRNN(RecurrentNet):
    """Continuous-time RNN ``τ dh/dt = −h + W φ(h) + U x + b``, one Euler step ``dt`` per input.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
    tau : float, default 1.0
        Time constant τ (in ``time_unit``).
    dt : float, default 0.1
        Integration step (in ``time_unit``); ``α = dt/τ`` must lie in ``(0, 1]``. Inputs are
        held constant over each step.
    nonlinearity : {"tanh", "relu", "sigmoid", "softplus"}, default "tanh"
        The rate function φ.
    gain : float, default 1.0
        ``g`` of the default initialisation ``W ~ N(0, g²/N)``: chaotic for ``g > 1``
        (tanh, large N). Applies to ``init="default"`` only.
    time_unit : str, default "time"
        Unit of τ and dt; analyses report exponents in ``1/<time_unit>``.
    init, init_options : default "default" (``"normal"`` with ``gain``)
        Initializer of ``W``; any of `initializers.RECURRENT_INITS` except "wcrnn".
    input_init, input_init_options : default "default" (``U ~ N(0, 1/d)``, "normal")
    bias_init : {"zeros", "uniform"}, default "zeros"
    seed : int, optional
        Seed of the initialisation (``W``, ``U``, ``b``, the readout, in this order).

    Notes
    -----
    The state is the activation ``h`` (the readout sees ``h``, not ``φ(h)``). ``time_step`` is
    ``dt`` and ``time_unit`` the option, so results of a step map that forwards them report
    rates per unit time. `vector_field` is ``f(h, x) = (−h + W φ(h) + U x + b)/τ``:
    ``dynalysis.FlowSystem(net.vector_field, N, d, dt=dt, method="euler")`` is the same
    step map. `recurrent_matrix` is the step map's linear part ``(1 − α) I + α s W`` with
    ``s`` the slope of φ at the origin (1 for tanh; the active-region slope 1 for relu;
    1/4 sigmoid; 1/2 softplus): the Jacobian at ``h = 0`` (relu: with every unit active).

    References
    ----------
    H. Sompolinsky, A. Crisanti, H. J. Sommers, "Chaos in random neural networks", Phys. Rev.
    Lett. 61 (1988) 259. R. Engelken, F. Wolf, L. F. Abbott, Phys. Rev. Research 5 (2023)
    043044.
    """

    analytic_tangent = True
    has_recurrent_matrix = True
    recurrent_matrix_description = "(1 - dt/tau) I + (dt/tau) phi'(0) W (the Jacobian at h = 0)"

    def __init__(self, input_size: int, hidden_size: int, output_size: int = 0, *,
                 tau: float = 1.0, dt: float = 0.1, nonlinearity: str = "tanh",
                 gain: float = 1.0, time_unit: str = "time", init: str = "default",
                 init_options: dict | None = None, input_init: str = "default",
                 input_init_options: dict | None = None, bias_init: str = "zeros",
                 seed: int | None = None):
        super().__init__(input_size, hidden_size, output_size)
        tau, dt, gain = _positive("tau", tau), _positive("dt", dt), _positive("gain", gain)
        if dt > tau:
            raise OptionError(f"dt/tau must be <= 1 for the Euler step, got dt={dt}, tau={tau}")
        check_option("nonlinearity", nonlinearity, tuple(CTRNN_NONLINEARITIES))
        if gain != 1.0 and init != "default":
            raise OptionError(f"gain sets the variance of init='default'; with init={init!r} use "
                              "init_options instead")
        if not isinstance(time_unit, str) or not time_unit.strip() or time_unit == "step":
            raise OptionError(f"time_unit must name a unit of time other than 'step', got {time_unit!r}")
        self.options = dict(tau=tau, dt=dt, nonlinearity=nonlinearity, gain=gain,
                            time_unit=time_unit, **init_options_record(
                                init=init, init_options=init_options, input_init=input_init,
                                input_init_options=input_init_options, bias_init=bias_init,
                                seed=seed))
        self.alpha = dt / tau
        self.time_step, self.time_unit = dt, time_unit
        self._phi, self._dphi, self._slope = CTRNN_NONLINEARITIES[nonlinearity]
        N, d, g, o = self.hidden_size, self.input_size, make_generator(seed), self.options
        self.W = nn.Parameter(recurrent_weight(o["init"], o["init_options"], N, generator=g,
                                               default=("normal", {"gain": gain}), exclude=("wcrnn",)))
        self.U = nn.Parameter(input_weight(o["input_init"], o["input_init_options"], N, d,
                                           generator=g, default=("normal", {"fan": "in"})))
        self.b = nn.Parameter(bias_vector(bias_init, N, generator=g))
        self._init_readout(g)

    def vector_field(self, state: Tensor, x: Tensor) -> Tensor:
        """``dh/dt = (−h + W φ(h) + U x + b) / τ`` ``(B, N)``."""
        return (self._phi(state) @ self.W.T + x @ self.U.T + self.b - state) / self.options["tau"]

    def recurrent_matrix(self) -> Tensor:
        """``(1 − α) I + α s W`` ``(N, N)``: the Jacobian at ``h = 0`` (class notes)."""
        eye = torch.eye(self.hidden_size, dtype=self.W.dtype, device=self.W.device)
        return (1 - self.alpha) * eye + (self.alpha * self._slope) * self.W

    def step(self, state: Tensor, x: Tensor) -> Tensor:
        a = self.alpha
        return (1 - a) * state + a * (self._phi(state) @ self.W.T + x @ self.U.T + self.b)

    def tangent_step(self, state: Tensor, x: Tensor, tangents: Tensor) -> tuple[Tensor, Tensor]:
        """``J Q = (1 − α) Q + α W (φ'(h) ⊙ Q)`` without forming ``J``."""
        a = self.alpha
        JQ = (1 - a) * tangents + a * torch.matmul(self.W, self._dphi(state).unsqueeze(-1) * tangents)
        return self.step(state, x), JQ

    def sequence(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        """All states: one ``addmm`` per step on the input drive computed for all steps at once."""
        a = self.alpha
        h = self.initial_state(x.shape[0], x) if state is None else state
        drive = a * (x @ self.U.T + self.b)  # (B, T, N)
        Wt, states = a * self.W.T, []
        for d_t in drive.unbind(1):  # unbind: one gradient buffer, not T
            h = torch.addmm(torch.add(d_t, h, alpha=1 - a), self._phi(h), Wt)
            states.append(h)
        return torch.stack(states, 1)
