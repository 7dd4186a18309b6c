"""The fixed-point solver's work: one Jacobian per state it stands on, chord steps that end where
full Levenberg–Marquardt steps end, and an iteration budget that counts every step; the
unstable directions by inverse iteration agree with a full eigendecomposition."""
from __future__ import annotations

import numpy as np
import torch

import dynalysis
from dynalysis.fixed_points.classify import _eigenvectors
from dynalysis.fixed_points.solver import STOP, levenberg_marquardt
from dynalysis.system._base import jacobian_reverse

F64 = torch.float64
W = torch.tensor([[2.0, 0.3], [-0.2, 2.5]], dtype=F64)  # tanh(W h): 9 fixed points (3 per axis)


class Recorded(dynalysis.System):
    """``step`` of a map with its Jacobian by autograd; records the states the Jacobian and the
    step are evaluated at. ``analytic`` declares the Jacobian analytic (no chord steps)."""

    def __init__(self, fn, state_size, *, analytic=False):
        self.fn, self.state_size, self.input_size = fn, state_size, 0
        self.analytic_tangent = analytic
        self.jacobian_states, self.step_rows = [], 0

    def step(self, state, x):
        self.step_rows += len(state)
        return self.fn(state)

    def jacobian(self, state, x):
        self.jacobian_states.append(state.clone())
        return jacobian_reverse(lambda h, _: self.fn(h), state, x)[1]


def _atan(h):  # G = −atan(h): Gauss–Newton overshoots from |h| > 1.39, so steps are rejected
    return h - torch.atan(h)


def test_a_rejected_step_reuses_the_jacobian_of_the_state_it_left_unmoved():
    sys_ = Recorded(_atan, 1)
    starts = torch.linspace(-6, 6, 13, dtype=F64)[:, None]
    h, q, stop = levenberg_marquardt(sys_, starts.clone(), torch.zeros(13, 0, dtype=F64), max_iter=200, tol=1e-12)
    assert (stop == STOP.index("converged")).all()
    np.testing.assert_allclose(h.numpy(), 0.0, atol=1e-12)
    states = torch.cat(sys_.jacobian_states)
    assert len(torch.unique(states, dim=0)) == len(states)  # no state's Jacobian evaluated twice


def test_chord_steps_end_on_the_points_that_full_steps_reach():
    grid = torch.linspace(-1.5, 1.5, 7, dtype=F64)
    starts = torch.cartesian_prod(grid, grid)
    fn = lambda h: torch.tanh(h @ W.T)  # noqa: E731
    x = torch.zeros(len(starts), 0, dtype=F64)
    full, chord = Recorded(fn, 2, analytic=True), Recorded(fn, 2)
    h_full, q_full, stop_full = levenberg_marquardt(full, starts.clone(), x, max_iter=200, tol=1e-12)
    h_chord, q_chord, stop_chord = levenberg_marquardt(chord, starts.clone(), x, max_iter=200, tol=1e-12)
    assert (stop_full == 0).all() and (stop_chord == 0).all()
    np.testing.assert_allclose(h_chord.numpy(), h_full.numpy(), atol=1e-10)
    G = fn(h_chord) - h_chord
    assert G.abs().max() < 1e-13
    assert len(np.unique(h_chord.numpy().round(8), axis=0)) == 9  # every fixed point was reached
    assert sum(map(len, chord.jacobian_states)) < sum(map(len, full.jacobian_states))


def test_the_budget_counts_chord_steps_too():
    sys_ = Recorded(lambda h: torch.tanh(h @ W.T), 2)
    starts = torch.tensor([[0.3, -0.2], [1.4, 1.1], [-0.9, 0.5]], dtype=F64)
    for max_iter in (1, 2, 3, 5):
        sys_.step_rows = 0
        levenberg_marquardt(sys_, starts.clone(), torch.zeros(3, 0, dtype=F64), max_iter=max_iter, tol=1e-12)
        assert sys_.step_rows <= len(starts) * (1 + max_iter)  # q at the starts, then one per step


def test_find_fixed_points_agrees_with_and_without_chord_steps():
    fn = lambda h: torch.tanh(h @ W.T)  # noqa: E731
    starts = torch.randn(40, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    a = dynalysis.find_fixed_points(Recorded(fn, 2, analytic=True), starts=starts)
    b = dynalysis.find_fixed_points(Recorded(fn, 2), starts=starts)
    assert (a.start_assignment.values >= 0).all() and (b.start_assignment.values >= 0).all()
    # the same point for every start (points are ordered by q, which differs at round-off)
    np.testing.assert_allclose(b.state.values[b.start_assignment.values], a.state.values[a.start_assignment.values],
                               atol=1e-10)
    np.testing.assert_array_equal(b.stability.values[b.start_assignment.values],
                                  a.stability.values[a.start_assignment.values])
    assert a.sizes["fixed_point"] == b.sizes["fixed_point"]


def test_inverse_iteration_gives_the_eigenvectors_of_a_full_eigendecomposition():
    g = torch.Generator().manual_seed(3)
    J = torch.randn(12, 9, 9, generator=g, dtype=F64)
    J[:4, :2, :2] += 5 * torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=F64)  # leading complex pairs
    lam, vec = torch.linalg.eig(J)
    k = lam.abs().argmax(1)
    rows = torch.arange(12)
    lead = lam[rows, k].numpy()
    assert (np.abs(lead.imag[:4]) > 1).all()
    v = _eigenvectors(J, lead)
    ref = vec[rows, :, k].numpy()
    ref = ref * (np.abs(ref[np.arange(12), np.abs(ref).argmax(1)]) / ref[np.arange(12), np.abs(ref).argmax(1)])[:, None]
    np.testing.assert_allclose(v, ref, atol=1e-9)
    np.testing.assert_allclose(np.einsum("pij,pj->pi", J.numpy(), v), lead[:, None] * v, atol=1e-9)
