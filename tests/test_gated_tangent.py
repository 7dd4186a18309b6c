"""The GRU's and LSTM's hand-written J·Q (`tangent_step`, `dynalysis.models._cells`) is the
derivative of their `step`: against ``torch.func.jacrev`` and against both automatic paths
that were used before it (reverse mode for ``S <= 64``, ``vmap(jvp)`` beyond), the Lyapunov
spectrum is the one of `step` differentiated automatically, and saturated gates give the
closed-form Jacobians (docs/science.md §6)."""
from __future__ import annotations

import pytest
import torch

import dynalysis
from dynalysis import MapSystem, ModuleSystem
from dynalysis.models import build_model

F64 = torch.float64
D = 3
# (cell, hidden size): state sizes on both sides of REVERSE_MODE_MAX_STATE = 64
SIZES = [("gru", 5), ("gru", 70), ("lstm", 4), ("lstm", 40)]


def _net(cell, N, seed, gain=1.5):
    """A float64 cell with random ``N(0, gain²/N)`` weights and ``N(0, 1)`` biases."""
    net = build_model(cell, input_size=D, hidden_size=N, seed=seed).double()
    g = torch.Generator().manual_seed(100 + seed)
    with torch.no_grad():
        for name, p in net.rnn.named_parameters():
            scale = gain / N ** 0.5 if name.startswith("weight") else 1.0
            p.copy_(scale * torch.randn(p.shape, generator=g, dtype=F64))
    return net.requires_grad_(False)


def _batch(net, B, k, seed, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    S = net.state_size
    return (scale * torch.randn(B, S, generator=g, dtype=F64),
            scale * torch.randn(B, D, generator=g, dtype=F64),
            torch.randn(B, S, k, generator=g, dtype=F64))


def _jacrev(net, h, x):
    return torch.func.vmap(torch.func.jacrev(lambda s, u: net.step(s[None], u[None])[0]))(h, x)


def _autograd(net):
    """The same `step`, differentiated automatically (the path these cells took before)."""
    return MapSystem(net.step, net.state_size, input_size=D, name="autograd")


@pytest.mark.parametrize("cell,N", SIZES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tangent_step_is_jacrev_times_q(cell, N, seed):
    net = _net(cell, N, seed)
    assert net.analytic_tangent and ModuleSystem(net).analytic_tangent
    h, x, Q = _batch(net, 4, 5, seed)
    nxt, JQ = net.tangent_step(h, x, Q)
    torch.testing.assert_close(nxt, net.step(h, x), rtol=0, atol=0)
    torch.testing.assert_close(JQ, _jacrev(net, h, x) @ Q, rtol=1e-12, atol=1e-12)
    nxt_a, JQ_a = _autograd(net).tangent_step(h, x, Q)  # reverse mode (S <= 64) or vmap(jvp)
    torch.testing.assert_close(JQ, JQ_a, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(nxt, nxt_a, rtol=1e-15, atol=1e-15)  # its batch is S-fold


@pytest.mark.parametrize("cell,N", SIZES)
def test_jacobian_is_jacrev(cell, N):
    net = _net(cell, N, 3)
    h, x, _ = _batch(net, 3, 1, 3)
    J = ModuleSystem(net).jacobian(h, x)
    assert J.shape == (3, net.state_size, net.state_size)
    torch.testing.assert_close(J, _jacrev(net, h, x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(J, _autograd(net).jacobian(h, x), rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore::dynalysis.NumericalReliabilityWarning")  # short runs
@pytest.mark.parametrize("cell,N", [("gru", 6), ("gru", 66), ("lstm", 3), ("lstm", 33)])
def test_lyapunov_spectrum_is_that_of_the_autograd_step(cell, N):
    net = _net(cell, N, 4, gain=2.0)
    x = 0.5 * torch.randn(4, 120, D, generator=torch.Generator().manual_seed(5), dtype=F64)
    kw = dict(transient=20, reortho_every=1)
    assert ModuleSystem(net).analytic_tangent  # the hand-written J·Q against autograd's
    ours = dynalysis.lyapunov_spectrum(ModuleSystem(net), x, **kw)
    ref = dynalysis.lyapunov_spectrum(_autograd(net), x, **kw)
    assert ours.sizes["exponent_index"] == net.state_size
    assert abs(ours.exponent.values - ref.exponent.values).max() < 1e-10
    per_trajectory = ours.exponent_per_trajectory.values - ref.exponent_per_trajectory.values
    assert abs(per_trajectory).max() < 1e-10


def _saturate(net, biases):
    """Bias each gate block by ±1e3 (0 leaves it): its sigmoid/tanh is exactly 0, ±1."""
    N = net.hidden_size
    with torch.no_grad():
        for j, b in enumerate(biases):
            net.rnn.bias_ih_l0[j * N:(j + 1) * N] += 1e3 * b


def test_saturated_lstm_gates_give_the_closed_form_jacobian():
    """i = f = o = 1, g = ±1: ``c' = c ± 1``, ``h' = tanh(c')``, so ``J = [[0, diag(1 − h'²)],
    [0, I]]``; every gate slope is exactly zero in float64."""
    N = 5
    net = _net("lstm", N, 6)
    _saturate(net, [1, 1, 0, 1])
    with torch.no_grad():
        net.rnn.bias_ih_l0[2 * N:3 * N] += 1e3 * torch.tensor([1, -1, 1, -1, 1], dtype=F64)
    h, x, Q = _batch(net, 3, 4, 7, scale=30.0)  # large states and inputs too
    nxt, JQ = net.tangent_step(h, x, Q)
    assert torch.isfinite(nxt).all() and torch.isfinite(JQ).all()
    hn = nxt[:, :N]
    J = torch.zeros(3, 2 * N, 2 * N, dtype=F64)
    J[:, :N, N:] = torch.diag_embed(1 - hn ** 2)
    J[:, N:, N:] = torch.eye(N, dtype=F64)
    torch.testing.assert_close(JQ, J @ Q, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ModuleSystem(net).jacobian(h, x), J, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("z,r", [(1, 0), (-1, 1), (-1, -1)])
def test_saturated_gru_gates_give_the_closed_form_jacobian(z, r):
    """z = 1: ``h' = h``, ``J = I``; z = 0, r = 1: ``J = diag(1 − n²) W_hn``; z = r = 0:
    ``h' = tanh(W_in x + b_in)``, ``J = 0``."""
    N = 6
    net = _net("gru", N, 8)
    _saturate(net, [r, z, 0])
    h, x, Q = _batch(net, 3, 4, 9, scale=3.0)
    nxt, JQ = net.tangent_step(h, x, Q)
    assert torch.isfinite(nxt).all() and torch.isfinite(JQ).all()
    if z == 1:
        J = torch.eye(N, dtype=F64).expand(3, N, N)
    elif r == 1:
        J = (1 - nxt ** 2)[..., None] * net.gate_matrices()["new"]
    else:
        J = torch.zeros(3, N, N, dtype=F64)
    torch.testing.assert_close(JQ, J @ Q, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(JQ, _jacrev(net, h, x) @ Q, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_huge_preactivations_stay_finite_and_exact(cell):
    """Weights of gain 1e4 drive every gate far into saturation: no inf or nan, and still jacrev."""
    net = _net(cell, 8, 10, gain=1e4)
    h, x, Q = _batch(net, 4, 3, 11, scale=10.0)
    nxt, JQ = net.tangent_step(h, x, Q)
    assert torch.isfinite(nxt).all() and torch.isfinite(JQ).all()
    ref = _jacrev(net, h, x) @ Q
    torch.testing.assert_close(JQ, ref, rtol=1e-12, atol=1e-12 * float(ref.abs().max()))
