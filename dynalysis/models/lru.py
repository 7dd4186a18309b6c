"""Linear recurrent unit (Orvieto et al. 2023), one layer (docs/science.md §6).

    h_t = Λ h_{t−1} + γ ⊙ (B x_t),      Λ = diag(λ),  λ_j = exp(−exp(ν_j) + i exp(θ_j))
    y_t = Re(C h_t) + D x_t

``h ∈ ℂᴺ`` is carried as the real state ``[Re h, Im h]`` (``state_size = 2N``). With
``λ_j = a_j + i b_j`` the real Jacobian is the constant block matrix
``[[diag a, −diag b], [diag b, diag a]]``, so ``J Q`` is elementwise and the exponents are
exactly ``ln|λ_j| = −exp(ν_j)``, each twice, for any input.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import OptionError
from ._base import RecurrentNet, register_model
from ._scan import linear_scan
from .initializers import make_generator

__all__ = ["LRU"]


@register_model("lru")
class LRU(RecurrentNet):
    """Linear recurrent unit: a complex diagonal linear recurrence with a linear readout.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
        ``hidden_size = N`` complex modes (``state_size = 2N`` real numbers).
    r_min, r_max : float, default 0.0, 1.0
        Ring initialisation: ``|λ_j|`` drawn so that ``λ_j`` is uniform on the ring
        ``r_min ≤ |λ| ≤ r_max`` (``|λ|² ~ U[r_min², r_max²]``), ``0 ≤ r_min < r_max ≤ 1``.
        Orvieto et al. use ``[0.9, 0.999]`` for long-range tasks.
    max_phase : float, default 2π
        ``arg λ_j ~ U[0, max_phase]``.
    seed : int, optional
        Seed of the initialisation (``λ``, ``B``, ``C``, ``D``, in this order).

    Notes
    -----
    What is included: the recurrence with its exponential parameterisation
    (``ν = log(−ln|λ|)``, ``θ = log arg λ``, both trained), the γ normalisation
    ``γ_j = √(1 − |λ_j|²)`` (trained as ``log γ``, initialised to that value), complex ``B``
    and ``C`` (``B ~ 𝒩(0, 1/(2d))``, ``C ~ 𝒩(0, 1/N)`` per real and imaginary part) and a
    dense direct term ``D (O, d) ~ 𝒩(0, 1/d)`` (the paper's ``D`` is elementwise because its
    input and output widths agree). Not included: the block around it (layer/batch norm, the
    GLU/MLP on ``y``, the residual connection, stacking of layers), so this cell is a linear
    time-invariant system. The step map's `readout` is ``Re(C h)``: ``D x`` is not a function
    of the state and is added in `forward` (the training path) only, as for
    `dynalysis.models.LinearRNN`. `recurrent_matrix` is the real ``2N × 2N`` form of ``Λ``
    (the Jacobian everywhere); `eigenvalues` the complex ``λ``. Training runs the parallel
    scan (`_scan.linear_scan`, ``⌈log₂ T⌉`` elementwise passes).

    References
    ----------
    A. Orvieto, S. L. Smith, A. Gu, A. Fernando, C. Gulcehre, R. Pascanu, S. De, "Resurrecting
    recurrent neural networks for long sequences", ICML 2023, arXiv:2303.06349.
    """

    analytic_tangent = True
    has_recurrent_matrix = True
    recurrent_matrix_description = "real 2N x 2N form of diag(lambda) (the Jacobian everywhere)"

    def __init__(self, input_size: int, hidden_size: int, output_size: int = 0, *,
                 r_min: float = 0.0, r_max: float = 1.0, max_phase: float = 2 * math.pi,
                 seed: int | None = None):
        super().__init__(input_size, hidden_size, output_size)
        r_min, r_max, max_phase = float(r_min), float(r_max), float(max_phase)
        if not 0.0 <= r_min < r_max <= 1.0:
            raise OptionError(f"r_min, r_max must satisfy 0 <= r_min < r_max <= 1, got {r_min}, {r_max}")
        if not 0.0 < max_phase <= 2 * math.pi:
            raise OptionError(f"max_phase must lie in (0, 2π], got {max_phase}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise OptionError(f"seed must be a non-negative integer or None, got {seed!r}")
        self.options = dict(r_min=r_min, r_max=r_max, max_phase=max_phase, seed=seed)
        N, d, O, g = self.hidden_size, self.input_size, self.output_size, make_generator(seed)
        u1, u2 = torch.rand(N, generator=g), torch.rand(N, generator=g)
        # uniform on the ring; the floor keeps ν finite should r_min = 0 and u1 = 0 be drawn
        modulus_sq = (u1 * (r_max ** 2 - r_min ** 2) + r_min ** 2).clamp_min(1e-12)
        self.nu_log = nn.Parameter(torch.log(-0.5 * torch.log(modulus_sq)))
        self.theta_log = nn.Parameter(torch.log(max_phase * u2))
        self.gamma_log = nn.Parameter(0.5 * torch.log(1 - modulus_sq))
        scale = 1 / math.sqrt(2 * max(d, 1))
        self.B_re = nn.Parameter(scale * torch.randn(N, d, generator=g))
        self.B_im = nn.Parameter(scale * torch.randn(N, d, generator=g))
        self.out = None  # the readout is Re(C h) (+ D x), not the base class' nn.Linear
        self.C_re = nn.Parameter(torch.randn(O, N, generator=g) / math.sqrt(N)) if O else None
        self.C_im = nn.Parameter(torch.randn(O, N, generator=g) / math.sqrt(N)) if O else None
        self.D = nn.Parameter(torch.randn(O, d, generator=g) / math.sqrt(max(d, 1))) if O else None

    @property
    def state_size(self) -> int:
        return 2 * self.hidden_size

    def hidden(self, state: Tensor) -> Tensor:
        """The readout sees the whole state ``[Re h, Im h]``."""
        return state

    # --- Λ ---------------------------------------------------------------------------------
    def _polar(self) -> tuple[Tensor, Tensor]:
        """``(|λ|, arg λ)`` ``(N,)`` each."""
        return torch.exp(-torch.exp(self.nu_log)), torch.exp(self.theta_log)

    def eigenvalues(self) -> Tensor:
        """``λ`` ``(N,)`` complex: ``exp(−exp(ν) + i exp(θ))``."""
        return torch.polar(*self._polar())

    def recurrent_matrix(self) -> Tensor:
        """``[[diag a, −diag b], [diag b, diag a]]`` ``(2N, 2N)``, ``λ = a + i b``: the
        Jacobian of the step map (everywhere)."""
        r, theta = self._polar()
        a, b = torch.diag(r * torch.cos(theta)), torch.diag(r * torch.sin(theta))
        return torch.cat([torch.cat([a, -b], 1), torch.cat([b, a], 1)], 0)

    def _drive(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``γ ⊙ (B x)`` as ``(real, imaginary)``, each ``(..., N)``."""
        gamma = torch.exp(self.gamma_log)
        return gamma * (x @ self.B_re.T), gamma * (x @ self.B_im.T)

    # --- the step map ----------------------------------------------------------------------
    def _rotate(self, re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
        """``λ ⊙ (re + i im)`` in real arithmetic; works on ``(B, N)`` and ``(B, N, k)``."""
        r, theta = self._polar()
        a, b = r * torch.cos(theta), r * torch.sin(theta)
        if re.dim() == 3:
            a, b = a.unsqueeze(-1), b.unsqueeze(-1)
        return a * re - b * im, b * re + a * im

    def step(self, state: Tensor, x: Tensor) -> Tensor:
        N = self.hidden_size
        re, im = self._rotate(state[:, :N], state[:, N:])
        u_re, u_im = self._drive(x)
        return torch.cat([re + u_re, im + u_im], -1)

    def tangent_step(self, state: Tensor, x: Tensor, tangents: Tensor) -> tuple[Tensor, Tensor]:
        """``J Q``: ``λ ⊙ (Q_re + i Q_im)``, elementwise per column."""
        N = self.hidden_size
        return self.step(state, x), torch.cat(self._rotate(tangents[:, :N], tangents[:, N:]), 1)

    def readout(self, state: Tensor) -> Tensor:
        """``Re(C h) = C_re Re h − C_im Im h`` ``(..., O)`` (without ``D x``, class notes)."""
        if self.C_re is None:
            raise OptionError("this LRU has output_size=0: no readout C")
        N = self.hidden_size
        return state[..., :N] @ self.C_re.T - state[..., N:] @ self.C_im.T

    # --- training path ---------------------------------------------------------------------
    def sequence(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        """All states by the parallel scan over time (complex arithmetic)."""
        N = self.hidden_size
        u = torch.complex(*self._drive(x))  # (B, T, N)
        h0 = None if state is None else torch.complex(state[:, :N], state[:, N:])
        h = linear_scan(self.eigenvalues(), u, h0)
        return torch.cat([h.real, h.imag], -1)

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(y (B, T, O), states (B, T, 2N))`` with ``y = Re(C h) + D x`` (states if O = 0)."""
        h = self.sequence(x, state)
        if self.C_re is None:
            return h, h
        return self.readout(h) + x @ self.D.T, h
