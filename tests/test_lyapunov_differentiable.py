"""`dynalysis.lyapunov_exponents`: the differentiable worker under gradient flossing.

Closed forms first (a diagonal linear map: ``λ_i = ln|a_i|``, ``∂λ/∂a = 1/a``), then autograd
against central finite differences (a gain of a tanh network; a random direction in the
weights of every shipped cell), agreement with the `lyapunov_spectrum` verb, and the errors.
"""
from __future__ import annotations

import pytest
import torch

import dynalysis
from dynalysis.models import MODELS, build_model

F64 = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _tanh_net(g, N=6, d=2, seed=0):
    W = torch.randn(N, N, generator=_gen(seed), dtype=F64) / N ** 0.5
    U = torch.randn(N, d, generator=_gen(seed + 1), dtype=F64)
    return dynalysis.MapSystem(lambda h, x: torch.tanh(g * h @ W.T + x @ U.T), N, input_size=d, name="tanh")


def _inputs(B=4, T=60, d=2, seed=3, scale=0.5):
    return scale * torch.randn(B, T, d, generator=_gen(seed), dtype=F64)


def test_diagonal_linear_map_gives_log_moduli_and_their_derivatives():
    a = torch.tensor([0.9, -0.5, 0.2], dtype=F64, requires_grad=True)
    system = dynalysis.MapSystem(lambda h, x: a * h + x, 3, input_size=3)
    # after the transient the frame is aligned with the axes (to e^{-100·0.59}): exact values
    lam = dynalysis.lyapunov_exponents(system, _inputs(d=3, T=130), n_exponents=3, transient=100)
    assert torch.allclose(lam, torch.log(a.detach().abs()), atol=1e-12)
    (grad,) = torch.autograd.grad(lam.sum(), a)
    assert torch.allclose(grad, 1 / a.detach(), atol=1e-10)


def test_a_scaled_rotation_gives_ln_a_for_every_frame():
    a = torch.tensor(0.7, dtype=F64, requires_grad=True)
    O = torch.linalg.qr(torch.randn(4, 4, generator=_gen(2), dtype=F64)).Q
    system = dynalysis.MapSystem(lambda h, x: a * h @ O.T, 4)
    lam = dynalysis.lyapunov_exponents(system, dynalysis.zero_inputs(system, 2, 7), n_exponents=4)
    assert torch.allclose(lam, torch.log(a.detach()).expand(4), atol=1e-13)
    (grad,) = torch.autograd.grad(lam[0], a)
    assert abs(float(grad) - 1 / 0.7) < 1e-12


@pytest.mark.parametrize("g0", [0.6, 1.5])
def test_gradient_with_respect_to_a_gain_equals_a_central_difference(g0):
    x = _inputs()
    g = torch.tensor(g0, dtype=F64, requires_grad=True)
    lam = dynalysis.lyapunov_exponents(_tanh_net(g), x, n_exponents=3, transient=10)
    (grad,) = torch.autograd.grad(lam[0], g)
    eps = 1e-5

    def at(value):
        with torch.no_grad():
            return float(dynalysis.lyapunov_exponents(_tanh_net(torch.tensor(value, dtype=F64)), x,
                                                      n_exponents=3, transient=10)[0])

    fd = (at(g0 + eps) - at(g0 - eps)) / (2 * eps)
    assert abs(float(grad) - fd) <= 1e-6 * max(1.0, abs(fd)), (float(grad), fd)
    assert abs(fd) > 1e-2  # the check is not vacuous


@pytest.mark.filterwarnings("ignore::dynalysis.NumericalReliabilityWarning")  # a short run, on purpose
@pytest.mark.parametrize("reortho_every", [1, 3])
def test_values_equal_the_lyapunov_spectrum_verb(reortho_every):
    x = _inputs(T=80)
    system = _tanh_net(torch.tensor(1.2, dtype=F64))
    lam = dynalysis.lyapunov_exponents(system, x, n_exponents=4, transient=20, reortho_every=reortho_every)
    ds = dynalysis.lyapunov_spectrum(system, x, n_exponents=4, transient=20, reortho_every=reortho_every,
                                     method="tangent")
    assert torch.allclose(lam, torch.as_tensor(ds.exponent.values), atol=1e-12)


def _direction(net, seed=7):
    return {name: torch.randn(p.shape, generator=_gen(seed + i), dtype=p.dtype)
            for i, (name, p) in enumerate(net.named_parameters())}


@pytest.mark.parametrize("cell", sorted(MODELS))
def test_gradients_flow_through_every_shipped_cell(cell):
    """Directional derivative ``⟨∇_θ λ_1, D⟩`` from autograd equals the central difference of
    ``λ_1(θ ± εD)`` for a random direction ``D`` over all parameters of the cell."""
    net = build_model(cell, input_size=2, hidden_size=3, output_size=1, seed=0).double()
    x = _inputs(B=3, T=25)
    system = dynalysis.ModuleSystem(net, live=True)
    k = min(2, system.state_size)
    lam = dynalysis.lyapunov_exponents(system, x, n_exponents=k, transient=5)
    params = dict(net.named_parameters())
    grads = torch.autograd.grad(lam[0], list(params.values()), allow_unused=True)
    D = _direction(net)
    auto = sum(float((g * D[n]).sum()) for n, g in zip(params, grads) if g is not None)
    assert all(g is None or torch.isfinite(g).all() for g in grads)
    recurrent = [g for n, g in zip(params, grads) if g is not None and not n.startswith("out.")]
    assert recurrent and any(float(g.abs().max()) > 0 for g in recurrent), cell

    eps = 1e-6
    base = {n: p.detach().clone() for n, p in params.items()}

    def at(sign):
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(base[n] + sign * eps * D[n])
            return float(dynalysis.lyapunov_exponents(dynalysis.ModuleSystem(net), x, n_exponents=k,
                                                      transient=5)[0])

    fd = (at(1) - at(-1)) / (2 * eps)
    with torch.no_grad():
        for n, p in params.items():
            p.copy_(base[n])
    assert abs(auto - fd) <= 1e-5 * max(1.0, abs(fd)), (cell, auto, fd)


def test_the_frozen_view_gives_the_same_exponents_without_a_graph():
    net = build_model("elman", input_size=2, hidden_size=5, seed=1).double()
    x = _inputs(T=30)
    live = dynalysis.lyapunov_exponents(dynalysis.ModuleSystem(net, live=True), x, n_exponents=3)
    frozen = dynalysis.lyapunov_exponents(dynalysis.ModuleSystem(net), x, n_exponents=3)
    assert live.requires_grad and not frozen.requires_grad
    assert torch.allclose(live.detach(), frozen, atol=1e-14)


def test_too_many_exponents_is_a_one_line_error():
    system = _tanh_net(torch.tensor(1.0, dtype=F64))
    with pytest.raises(dynalysis.OptionError, match=r"^n_exponents=7 exceeds the state size 6 of MapSystem 'tanh'; "
                                                    r"ask for at most 6$"):
        dynalysis.lyapunov_exponents(system, _inputs(), n_exponents=7)
    with pytest.raises(dynalysis.OptionError, match="transient"):
        dynalysis.lyapunov_exponents(system, _inputs(T=5), n_exponents=2, transient=5)


def test_a_frame_that_loses_rank_is_a_one_line_error():
    # J = diag(0.5, 0): the second direction is annihilated at the first step
    system = dynalysis.MapSystem(lambda h, x: torch.stack([0.5 * h[:, 0], 0 * h[:, 1]], 1), 2)
    with pytest.raises(dynalysis.DynalysisError, match=r"frame of 2 vectors lost rank") as info:
        dynalysis.lyapunov_exponents(system, dynalysis.zero_inputs(system, 2, 10), n_exponents=2)
    assert "\n" not in str(info.value)
    lam = dynalysis.lyapunov_exponents(system, dynalysis.zero_inputs(system, 2, 10), n_exponents=1, transient=1)
    assert torch.allclose(lam, torch.log(torch.tensor([0.5], dtype=F64)))


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_gradients_reach_a_torch_modules_weights_with_from_module_live(kind):
    """``from_module(..., live=True)``: ``⟨∇_θ λ_1, D⟩`` of a float32 2-layer torch RNN (analysed
    in float64) equals the central difference; the default detached view carries no graph."""
    torch.manual_seed(0)
    module = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[kind](
        2, 3, num_layers=2, batch_first=True)
    x = _inputs(B=3, T=25)
    lam = dynalysis.lyapunov_exponents(dynalysis.from_module(module, live=True), x, n_exponents=2,
                                       transient=5, dtype=F64)
    params = dict(module.named_parameters())
    grads = torch.autograd.grad(lam[0], list(params.values()), allow_unused=True)
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    gen = _gen(7)
    D = {n: torch.randn(p.shape, generator=gen) for n, p in params.items()}
    auto = sum(float((g.double() * D[n].double()).sum()) for n, g in zip(params, grads))
    assert not dynalysis.lyapunov_exponents(dynalysis.from_module(module), x, n_exponents=2,
                                            transient=5, dtype=F64).requires_grad

    eps = 1e-3  # float32 weights: the step is what float32 can represent, the map runs in float64
    module64 = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[kind](
        2, 3, num_layers=2, batch_first=True).double()

    def at(sign):
        with torch.no_grad():
            for n, p in module64.named_parameters():
                p.copy_(params[n].double() + sign * eps * D[n].double())
        return float(dynalysis.lyapunov_exponents(dynalysis.from_module(module64), x, n_exponents=2,
                                                  transient=5)[0])

    fd = (at(1) - at(-1)) / (2 * eps)
    assert abs(auto - fd) <= 1e-4 * max(1.0, abs(fd)), (kind, auto, fd)


def test_live_is_refused_for_step_protocol_modules():
    class Step(torch.nn.Module):
        def forward(self, x, h):
            return torch.tanh(h + x)

    with pytest.raises(dynalysis.OptionError, match="live=True applies") as err:
        dynalysis.from_module(Step(), initial_state=torch.zeros(1, 2), input_size=2, live=True)
    assert "\n" not in str(err.value)
