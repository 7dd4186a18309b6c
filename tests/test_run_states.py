"""`System.states` (whole sequences, the cells' fused kernels) and `run_kept` (chunked in time,
keeping some states and flagging every non-finite step) against plain repeated `step` calls."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import dynalysis
from dynalysis import MapSystem, ModuleSystem
from dynalysis._core import trajectory
from dynalysis._core.trajectory import run_kept, run_states
from dynalysis.models import MODELS, build_model
from dynalysis.testing import check_system

F64 = torch.float64


def _stepped(system, x, h):
    out = []
    with torch.no_grad():
        for t in range(x.shape[1]):
            h = system.step(h, x[:, t])
            out.append(h)
    return torch.stack(out, 1)


@pytest.mark.parametrize("cell", sorted(MODELS))
def test_every_cell_states_equal_repeated_steps_to_round_off(cell):
    net = build_model(cell, input_size=2, hidden_size=6, seed=0)
    system = ModuleSystem(net).to(dtype=F64)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 40, 2, generator=g, dtype=F64)
    h = 0.5 * torch.randn(3, system.state_size, generator=g, dtype=F64)
    got = run_states(system, x, h)
    assert got.shape == (3, 40, system.state_size)
    torch.testing.assert_close(got, _stepped(system, x, h), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("chunk_elements", [1, 7 * 4, 1 << 16])
def test_run_kept_keeps_exactly_the_requested_states_across_chunk_boundaries(chunk_elements, monkeypatch):
    monkeypatch.setattr(trajectory, "CHUNK_ELEMENTS", chunk_elements)
    system = ModuleSystem(build_model("gru", input_size=2, hidden_size=4, seed=0)).to(dtype=F64)
    x = torch.randn(7, 50, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    h = torch.zeros(7, 4, dtype=F64)
    keep = np.array([0, 3, 4, 5, 17, 28, 29, 49])
    kept, diverged = run_kept(system, x, h, keep)
    torch.testing.assert_close(kept, _stepped(system, x, h)[:, keep], rtol=1e-12, atol=1e-12)
    assert not diverged.any()


def test_run_kept_flags_a_trajectory_that_was_not_finite_only_between_kept_states(monkeypatch):
    """``h' = h + x`` where ``h`` is finite, else 0: an inf input at t = 2 makes h_2 = inf and
    h_3 = 0 again, so no kept state (t = 0, 5) shows it; the flag must."""
    monkeypatch.setattr(trajectory, "CHUNK_ELEMENTS", 3)  # the bad step falls inside a chunk
    resetting = MapSystem(lambda h, x: torch.where(torch.isfinite(h), h + x, torch.zeros_like(h)), 1, 1)
    x = torch.zeros(2, 6, 1, dtype=F64)
    x[1, 2] = float("inf")
    kept, diverged = run_kept(resetting, x, torch.zeros(2, 1, dtype=F64), np.array([0, 5]))
    assert torch.isfinite(kept).all()
    assert diverged.tolist() == [False, True]


def test_the_fixed_point_search_sees_the_same_trajectories_through_the_fused_kernel():
    """The visited states (and so starts, PCA frame, cross-check) of the search come from
    `run_kept`: the same as stepping, to round-off."""
    from dynalysis.fixed_points.starts import drive

    system = ModuleSystem(build_model("lstm", input_size=3, hidden_size=5, seed=2)).to(dtype=F64)
    x = torch.randn(4, 30, 3, generator=torch.Generator().manual_seed(3), dtype=F64)
    kept, times, trace, bad = drive(system, x, trace_points=7, dtype=F64)
    expected = _stepped(system, x, torch.zeros(4, system.state_size, dtype=F64))
    np.testing.assert_allclose(kept, expected[:, times].numpy(), rtol=1e-12, atol=1e-12)
    assert not bad.any() and len(trace) == 7


class _WrongStates(MapSystem):
    def states(self, state, inputs):  # skips the first step
        return super().states(self.step(state, inputs[:, 0]), inputs)


def test_check_system_names_states_that_disagree_with_step():
    broken = _WrongStates(lambda h, x: torch.tanh(0.5 * h + x), 2, 2, name="skipping")
    with pytest.raises(AssertionError, match="states: states over 4 steps differs from step"):
        check_system(broken)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "elu"])
def test_the_elman_jacobian_is_its_jacobian_product_on_the_identity(nonlinearity):
    net = build_model("elman", input_size=2, hidden_size=6, seed=0, nonlinearity=nonlinearity).double()
    h = torch.randn(5, 6, dtype=F64)
    x = torch.randn(5, 2, dtype=F64)
    eye = torch.eye(6, dtype=F64).expand(5, -1, -1)
    J = dynalysis.ModuleSystem(net).jacobian(h, x)
    torch.testing.assert_close(J, net.tangent_step(h, x, eye)[1], rtol=1e-14, atol=1e-15)
    auto = torch.func.vmap(torch.func.jacrev(lambda s, u: net.step(s[None], u[None])[0]))(h, x)
    torch.testing.assert_close(J, auto, rtol=1e-12, atol=1e-12)


def test_transient_growth_flags_a_trajectory_that_was_not_finite_during_its_transient_only():
    """Before, only the state at the end of the transient was checked: a trajectory that hit inf
    during the transient and came back (this map squares states beyond 1e100, overflowing to inf,
    and resets non-finite states to 0) passed unflagged."""
    def step(h, x):
        grown = 0.5 * h + x + (h.abs() > 1e100) * h * h
        return torch.where(torch.isfinite(h), grown, torch.zeros_like(h))

    resetting = MapSystem(step, 2, 2)
    x = torch.zeros(2, 12, 2, dtype=F64)
    x[1, 1] = 1e200  # h_2 = 1e200, h_3 = inf, h_4 = 0
    with pytest.warns(dynalysis.DivergenceWarning):
        ds = dynalysis.transient_growth(resetting, max_power=4, inputs=x, transient=5)
    assert ds.diverged.values.tolist() == [False, True]


def test_the_memory_kernel_burn_in_runs_through_run_final():
    """The kernel after a burn-in equals the kernel of the burnt-in state (linear map: exact)."""
    A = torch.tensor([[0.5, 0.2], [0.0, 0.7]], dtype=F64)
    lin = MapSystem(lambda h, x: h @ A.T + x, 2, 2)
    x = torch.randn(1, 30, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    full = dynalysis.memory_kernel(lin, x, max_lag=5)
    h, _ = trajectory.run_final(lin, x[:, :24], torch.zeros(1, 2, dtype=F64))
    tail = dynalysis.memory_kernel(lin, x[:, 24:], max_lag=5, initial_state=h)
    np.testing.assert_allclose(full.kernel_norm.values, tail.kernel_norm.values, rtol=1e-13)
