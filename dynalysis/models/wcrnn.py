"""Weakly coupled residual RNN (Dubinin & Effenberger 2024; docs/science.md §1).

    a_t = W h_{t-1} + V x_t + b
    h_t = ρ(h_{t-1}) + ε · tanh(a_t)

with a linear residual ``ρ(h) = R h`` (identity ``λI``, rotational ``λ·blockdiag(Rot θ_k)``,
heterogeneous ``diag(λ_i)``) or a non-linear one ``ρ(h) = λ ⊙ f(h)``. Jacobian

    J_t = R + ε · diag(tanh'(a_t)) W                  (linear residual)
    J_t = diag(λ ⊙ f'(h_{t-1})) + ε · diag(tanh'(a_t)) W   (non-linear residual)

so the J·Q product needs no Jacobian: ``J Q = R Q + ε (tanh'(a) ⊙ (W Q))``. At zero
pre-activation (and ``h = 0`` for the non-linear residual) the Jacobian is ``R + ε W``
(``diag(λ f'(0)) + ε W``): that is the cell's `recurrent_matrix`, as ``W_hh`` is an Elman
net's; the coupling ``W`` alone is `coupling_matrix`.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import OptionError
from .._core.options import check_option
from ._kernels import wcrnn_scan, wcrnn_tangent_step
from ._base import RecurrentNet, register_model
from ._init import bias_vector, init_options_record, input_weight, recurrent_weight
from .initializers import LINEAR_RESIDUALS, make_generator, residual_matrix
from .initializers._residual import check_residual_options

__all__ = ["WCRNN", "RESIDUALS", "RESIDUAL_FUNCTIONS"]

RESIDUALS = LINEAR_RESIDUALS + ("nonlinear",)

# elementwise maps f of the non-linear residual ρ(h) = λ f(h), with their derivatives f'(h)
RESIDUAL_FUNCTIONS = {
    "tanh": (torch.tanh, lambda h: 1 - torch.tanh(h) ** 2),
    "sin": (torch.sin, torch.cos),
    "softsign": (nn.functional.softsign, lambda h: 1 / (1 + h.abs()) ** 2),
}


def _as_list(value):
    return list(value) if isinstance(value, tuple) else value


@register_model("wcrnn")
class WCRNN(RecurrentNet):
    """Weakly coupled residual RNN with a fixed (or trainable) residual ``ρ``.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
    epsilon : float, default 0.1
        Coupling strength ε of the non-linear update (``0 < ε``, weak coupling ``ε ≪ 1``).
    residual : {"identity", "rotational", "heterogeneous", "nonlinear"}, default "identity"
        ``"identity"``: ``ρ(h) = λ h``. ``"rotational"``: ``ρ(h) = λ blockdiag(Rot(θ_k)) h``
        (odd N: a trailing 1×1 block λ). ``"heterogeneous"``: ``ρ(h) = diag(λ_i) h``.
        ``"nonlinear"``: ``ρ(h) = λ f(h)`` elementwise.
    residual_scale : float, default 1.0
        λ (identity, rotational, nonlinear). λ < 1 sub-critical (memory time ``-1/ln λ``),
        1 critical, > 1 super-critical.
    frequencies : float, list of float or "uniform", optional
        Rotational only (default "uniform": ``θ_k ~ U[0, π]``), see `initializers.rotational`.
    scale_range, memory_time_range : [float, float], optional
        Heterogeneous only: ``λ_i ~ U[scale_range]`` (default ``[0.9, 1.0]``) or
        ``λ_i = exp(-1/τ_i)``, ``τ_i ~ U[memory_time_range]``.
    residual_fn : {"tanh", "sin", "softsign"}, optional
        Non-linear only: the elementwise map ``f`` (default "tanh").
    train_residual : bool, default False
        Train the residual too: the full matrix ``R`` for linear residuals (it starts
        structured and may leave that structure), the per-unit ``λ_i`` for "nonlinear".
    init, init_options : default "default" (``W ~ N(0, 1/N)``, i.e. "normal")
        Initializer of ``W``; any of `initializers.RECURRENT_INITS` except "wcrnn".
    input_init, input_init_options : default "default" (``V ~ N(0, 1/d)``, "normal")
    bias_init : {"zeros", "uniform"}, default "zeros"
    seed : int, optional
        Seed of the initialisation (``W``, ``V``, ``b``, the residual's draws, the readout).

    Notes
    -----
    `recurrent_matrix` is the linearisation ``R + ε W`` (the Jacobian at zero
    pre-activation; ``diag(λ f'(0)) + ε W`` at ``h = 0`` for "nonlinear"), what eig(J) and
    non-normality of the dynamics are about; `coupling_matrix` is ``W`` and
    `residual_matrix` is ``R`` (None for "nonlinear"). The residual lives in the state dict
    (``R`` or ``residual_scales``), so a checkpoint restores the very frequencies and scales
    that were drawn.

    References
    ----------
    Dubinin & Effenberger, Neural Networks 2024, arXiv:2307.14823.
    """

    analytic_tangent = True
    has_recurrent_matrix = True

    def __init__(self, input_size: int, hidden_size: int, output_size: int = 0, *,
                 epsilon: float = 0.1, residual: str = "identity", residual_scale: float = 1.0,
                 frequencies=None, scale_range=None, memory_time_range=None,
                 residual_fn: str | None = None, train_residual: bool = False,
                 init: str = "default", init_options: dict | None = None,
                 input_init: str = "default", input_init_options: dict | None = None,
                 bias_init: str = "zeros", seed: int | None = None):
        super().__init__(input_size, hidden_size, output_size)
        check_option("residual", residual, RESIDUALS)
        check_residual_options(residual, residual_scale=residual_scale, frequencies=frequencies,
                               scale_range=scale_range, memory_time_range=memory_time_range,
                               residual_fn=residual_fn)
        if residual == "nonlinear":
            check_option("residual_fn", residual_fn or "tanh", tuple(RESIDUAL_FUNCTIONS))
        if not float(epsilon) > 0:
            raise OptionError(f"epsilon must be > 0, got {epsilon}")
        self.options = dict(
            epsilon=float(epsilon), residual=residual, residual_scale=float(residual_scale),
            frequencies=_as_list(frequencies), scale_range=_as_list(scale_range),
            memory_time_range=_as_list(memory_time_range), residual_fn=residual_fn,
            train_residual=bool(train_residual),
            **init_options_record(init=init, init_options=init_options, input_init=input_init,
                                  input_init_options=input_init_options, bias_init=bias_init,
                                  seed=seed))
        self.epsilon = float(epsilon)
        N, d, g = hidden_size, input_size, make_generator(seed)
        o = self.options
        self.W = nn.Parameter(recurrent_weight(o["init"], o["init_options"], N, generator=g,
                                               default=("normal", {}), exclude=("wcrnn",)))
        self.V = nn.Parameter(input_weight(o["input_init"], o["input_init_options"], N, d,
                                           generator=g, default=("normal", {"fan": "in"})))
        self.b = nn.Parameter(bias_vector(bias_init, N, generator=g))
        if residual == "nonlinear":
            self._fn, self._dfn = RESIDUAL_FUNCTIONS[residual_fn or "tanh"]
            self.R = None
            self._set_residual("residual_scales", torch.full((N,), float(residual_scale)))
        else:
            self._set_residual("R", residual_matrix(
                N, residual, residual_scale=residual_scale, frequencies=frequencies,
                scale_range=scale_range, memory_time_range=memory_time_range, generator=g,
                dtype=torch.float32))
        self._init_readout(g)

    def _set_residual(self, name: str, value: Tensor) -> None:
        if self.options["train_residual"]:
            setattr(self, name, nn.Parameter(value))
        else:
            self.register_buffer(name, value)

    def residual_matrix(self) -> Tensor | None:
        """The linear residual ``R`` with ``ρ(h) = R h`` (None for a non-linear residual)."""
        return self.R

    def coupling_matrix(self) -> Tensor:
        """The coupling ``W`` inside the tanh (``J = R + ε diag(tanh'(a)) W``)."""
        return self.W

    def recurrent_matrix(self) -> Tensor:
        """The linearisation ``R + ε W`` ``(N, N)``: the Jacobian at zero pre-activation.

        For the non-linear residual, ``diag(λ ⊙ f'(0)) + ε W``, the Jacobian at ``h = 0``
        with zero pre-activation (``f'(0) = 1`` for tanh, sin and softsign).
        """
        if self.R is not None:
            return self.R + self.epsilon * self.W
        slope = self.residual_scales * self._dfn(torch.zeros_like(self.residual_scales))
        return torch.diag(slope) + self.epsilon * self.W

    @property
    def recurrent_matrix_description(self) -> str:
        if self.R is not None:
            return "R + eps*W (the Jacobian at zero pre-activation)"
        return "diag(lambda*f'(0)) + eps*W (the Jacobian at h = 0, zero pre-activation)"

    def _residual(self, h: Tensor) -> Tensor:
        if self.R is not None:
            return h @ self.R.T
        return self.residual_scales * self._fn(h)

    def step(self, state: Tensor, x: Tensor) -> Tensor:
        a = state @ self.W.T + x @ self.V.T + self.b
        return self._residual(state) + self.epsilon * torch.tanh(a)

    def tangent_step(self, state: Tensor, x: Tensor, tangents: Tensor) -> tuple[Tensor, Tensor]:
        """``J Q = R Q + ε (tanh'(a) ⊙ (W Q))`` (``R Q → (λ ⊙ f'(h)) ⊙ Q`` if non-linear).

        Linear residuals go through `wcrnn_tangent_step`: one ``addmm`` for the
        pre-activation and, for a fixed diagonal residual (identity, heterogeneous), ``λ ⊙ Q``
        elementwise instead of the product ``R Q``: one matrix product per step, not two.
        """
        drive = x @ self.V.T + self.b
        if self.R is not None:
            if self._diagonal_residual():
                return wcrnn_tangent_step(state, drive, self.W, tangents, epsilon=self.epsilon,
                                          scale=torch.diagonal(self.R))
            return wcrnn_tangent_step(state, drive, self.W, tangents, epsilon=self.epsilon,
                                      residual=self.R)
        th = torch.tanh(state @ self.W.T + drive)
        nxt = self._residual(state) + self.epsilon * th
        gain = (self.epsilon * (1 - th * th)).unsqueeze(-1)  # (B, N, 1)
        RQ = (self.residual_scales * self._dfn(state)).unsqueeze(-1) * tangents
        return nxt, RQ + gain * torch.matmul(self.W, tangents)

    def _diagonal_residual(self) -> bool:
        """True when ``R`` is diagonal by construction (identity/heterogeneous, not trained)."""
        return (self.options["residual"] in ("identity", "heterogeneous")
                and not self.options["train_residual"])

    def sequence(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        """All states; linear residuals run `wcrnn_scan` (TorchScript loop, hand-written BPTT)."""
        B, T, _ = x.shape
        h = self.initial_state(B, x) if state is None else state
        drive = x @ self.V.T + self.b  # all input projections in one product
        if self.R is not None:
            if self._diagonal_residual():
                return wcrnn_scan(drive, h, self.W, epsilon=self.epsilon, scale=torch.diagonal(self.R))
            return wcrnn_scan(drive, h, self.W, epsilon=self.epsilon, residual=self.R)
        Wt, eps = self.W.T, self.epsilon
        states = []
        for d_t in drive.unbind(1):  # unbind: no full-size gradient buffer per step
            h = self._residual(h) + eps * torch.tanh(h @ Wt + d_t)
            states.append(h)
        return torch.stack(states, 1)
