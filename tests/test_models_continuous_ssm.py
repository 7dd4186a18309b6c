"""The CTRNN, LRU and selective-SSM cells: the zoo's contract (step map == training path,
analytic J·Q exact, spec round trip, effective linearisation) and the closed-form spectra of
the diagonal state-space cells (docs/science.md §6)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import dynalysis
from dynalysis import ModuleSystem
from dynalysis.errors import OptionError
from dynalysis.models import CTRNN, LRU, MODELS, SelectiveSSM, build_model
from dynalysis.models._scan import linear_scan

D_IN, N, OUT, T, BATCH = 3, 6, 2, 37, 4  # T > 32: the scan takes 6 passes

VARIANTS = [
    ("ctrnn", {}),
    ("ctrnn", {"nonlinearity": "relu", "tau": 2.0, "dt": 0.5, "bias_init": "uniform"}),
    ("ctrnn", {"nonlinearity": "sigmoid", "gain": 1.5}),
    ("ctrnn", {"nonlinearity": "softplus", "init": "orthogonal", "input_init": "xavier"}),
    ("lru", {}),
    ("lru", {"r_min": 0.9, "r_max": 0.999, "max_phase": 0.6}),
    ("ssm", {}),
    ("ssm", {"d_state": 3, "dt_min": 0.01, "dt_max": 0.5, "input_init": "uniform"}),
]
IDS = [f"{c}-{'-'.join(f'{k}={v}' for k, v in o.items()) or 'default'}" for c, o in VARIANTS]


def make(cell, options, seed=0, **sizes):
    sizes = {"input_size": D_IN, "hidden_size": N, "output_size": OUT, **sizes}
    return build_model(cell, **sizes, **{"seed": seed, **options})


def rollout(net, x, h0):
    h, states = h0, []
    for t in range(x.shape[1]):
        h = net.step(h, x[:, t])
        states.append(h)
    return torch.stack(states, 1)


def direct_term(net, x):
    return x @ net.D.T if getattr(net, "D", None) is not None else 0


# --- the contract every cell of the zoo meets --------------------------------------------------
def test_cells_are_registered():
    assert {"ctrnn", "lru", "ssm"} <= set(MODELS)
    assert (MODELS["ctrnn"], MODELS["lru"], MODELS["ssm"]) == (CTRNN, LRU, SelectiveSSM)


@pytest.mark.parametrize("cell,options", VARIANTS, ids=IDS)
def test_step_map_reproduces_sequence_and_forward(cell, options):
    torch.manual_seed(0)
    net = make(cell, options)
    x = torch.randn(BATCH, T, D_IN)
    for h0 in (None, 0.5 * torch.randn(BATCH, net.state_size)):
        start = torch.zeros(BATCH, net.state_size) if h0 is None else h0
        expected = rollout(net, x, start)
        torch.testing.assert_close(net.sequence(x, h0), expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(net.hidden_states(x, h0), net.hidden(expected), rtol=1e-5, atol=1e-5)
        y, hidden = net(x, h0)
        torch.testing.assert_close(hidden, net.hidden(expected), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(y, net.readout(expected) + direct_term(net, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell,options", VARIANTS, ids=IDS)
def test_training_path_gradients_equal_the_step_loop(cell, options):
    """The scans (LRU, SSM) and the addmm loop (CTRNN) back-propagate as the step loop does."""
    net = make(cell, options).double()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, T, D_IN, generator=g, dtype=torch.float64)
    h0 = 0.5 * torch.randn(3, net.state_size, generator=g, dtype=torch.float64)
    w = torch.randn(3, T, OUT, generator=g, dtype=torch.float64)
    params = list(net.parameters())
    fast = torch.autograd.grad((net(x, h0)[0] * w).sum(), params, allow_unused=True)
    slow_y = net.readout(rollout(net, x, h0)) + direct_term(net, x)
    slow = torch.autograd.grad((slow_y * w).sum(), params, allow_unused=True)
    for (name, _), a, b in zip(net.named_parameters(), fast, slow):
        assert a is not None and b is not None, name
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11, msg=name)


@pytest.mark.parametrize("cell,options", VARIANTS, ids=IDS)
def test_analytic_tangent_step_matches_jacrev(cell, options):
    net = make(cell, options).double()
    g = torch.Generator().manual_seed(1)
    h = torch.randn(BATCH, net.state_size, generator=g, dtype=torch.float64)
    x = torch.randn(BATCH, D_IN, generator=g, dtype=torch.float64)
    Q = torch.randn(BATCH, net.state_size, 3, generator=g, dtype=torch.float64)
    nxt, JQ = net.tangent_step(h, x, Q)
    J = torch.stack([torch.func.jacrev(lambda s: net.step(s[None], x[b:b + 1])[0])(h[b])
                     for b in range(BATCH)])
    torch.testing.assert_close(nxt, net.step(h, x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(JQ, J @ Q, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(ModuleSystem(net).jacobian(h, x), J, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell,options", VARIANTS, ids=IDS)
def test_spec_rebuilds_the_same_network(cell, options):
    net = make(cell, options, seed=3)
    spec = net.spec()
    again = build_model(**spec)
    assert again.spec() == spec
    for (k, a), (k2, b) in zip(net.state_dict().items(), again.state_dict().items()):
        assert k == k2
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    other = make(cell, options, seed=4)
    assert any(not torch.equal(a, b) for a, b in zip(net.state_dict().values(), other.state_dict().values()))


@pytest.mark.parametrize("cell,zero_input", [("ctrnn", False), ("lru", False), ("ssm", True)])
def test_recurrent_matrix_is_the_effective_linearisation(cell, zero_input):
    """CTRNN (tanh): the Jacobian at h = 0; LRU: the Jacobian anywhere (the real form of Λ);
    SSM: the Jacobian at zero input (any state)."""
    net = make(cell, {}).double()
    g = torch.Generator().manual_seed(5)
    h = torch.zeros(2, net.state_size, dtype=torch.float64) if cell == "ctrnn" else \
        torch.randn(2, net.state_size, generator=g, dtype=torch.float64)
    x = torch.zeros(2, D_IN, dtype=torch.float64) if zero_input else \
        torch.randn(2, D_IN, generator=g, dtype=torch.float64)
    M = net.recurrent_matrix()
    assert M.shape == (net.state_size, net.state_size)
    torch.testing.assert_close(ModuleSystem(net).jacobian(h, x), M.expand(2, -1, -1), rtol=1e-12, atol=1e-14)


def test_cells_train_on_the_float64_step_map():
    for cls in (CTRNN, LRU, SelectiveSSM):
        net = make(cls.cell_name, {})
        x = torch.randn(2, 9, D_IN)
        system = ModuleSystem(net).to(dtype=torch.float64)
        out = rollout(system, x.double(), torch.zeros(2, net.state_size, dtype=torch.float64))
        torch.testing.assert_close(out.float(), net.sequence(x), rtol=1e-5, atol=1e-5)


# --- the parallel scan -------------------------------------------------------------------------
@pytest.mark.parametrize("T_", [1, 2, 5, 64, 100])
@pytest.mark.parametrize("kind", ["constant complex", "per step real"])
def test_linear_scan_equals_the_loop(T_, kind):
    g = torch.Generator().manual_seed(0)
    if kind == "constant complex":
        a = torch.polar(torch.rand(5, generator=g, dtype=torch.float64),
                        6 * torch.rand(5, generator=g, dtype=torch.float64))
        b = torch.randn(2, T_, 5, generator=g, dtype=torch.complex128)
        h = torch.randn(2, 5, generator=g, dtype=torch.complex128)
    else:
        a = torch.rand(2, T_, 5, generator=g, dtype=torch.float64)
        b = torch.randn(2, T_, 5, generator=g, dtype=torch.float64)
        h = torch.randn(2, 5, generator=g, dtype=torch.float64)
    got, states = linear_scan(a, b, h), []
    for t in range(T_):
        h = (a if a.dim() == 1 else a[:, t]) * h + b[:, t]
        states.append(h)
    torch.testing.assert_close(got, torch.stack(states, 1), rtol=1e-12, atol=1e-12)


# --- LRU -----------------------------------------------------------------------------------------
def test_lru_ring_initialisation_and_gamma_normalisation():
    net = build_model("lru", input_size=4, hidden_size=2000, output_size=1, r_min=0.4, r_max=0.9,
                      max_phase=1.0, seed=0)
    lam = net.eigenvalues().detach().to(torch.complex128)
    r = lam.abs()
    assert r.min() >= 0.4 - 1e-6 and r.max() <= 0.9 + 1e-6
    assert lam.angle().min() >= 0 and lam.angle().max() <= 1.0 + 1e-6
    # uniform on the ring: |λ|² ~ U[r_min², r_max²], so its mean is (r_min² + r_max²)/2
    assert (r ** 2).mean().item() == pytest.approx((0.16 + 0.81) / 2, abs=0.01)
    torch.testing.assert_close(torch.exp(net.gamma_log).double(), torch.sqrt(1 - r ** 2), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(r, torch.exp(-torch.exp(net.nu_log.double())), rtol=1e-6, atol=1e-7)


def test_lru_recurrent_matrix_is_the_real_form_of_lambda():
    net = make("lru", {}).double()
    lam = net.eigenvalues()
    M = net.recurrent_matrix()
    eig = torch.linalg.eigvals(M)
    expected = torch.cat([lam, lam.conj()])
    key = lambda z: torch.argsort(z.real * 1e3 + z.imag)  # noqa: E731
    torch.testing.assert_close(eig[key(eig)], expected[key(expected)], rtol=1e-10, atol=1e-12)
    # h_t = λ h_{t-1} + γ B x in complex arithmetic
    h = torch.randn(2, N, dtype=torch.complex128)
    x = torch.randn(2, D_IN, dtype=torch.float64)
    Bx = torch.complex(x @ net.B_re.T, x @ net.B_im.T) * torch.exp(net.gamma_log)
    ref = lam * h + Bx
    out = net.step(torch.cat([h.real, h.imag], -1), x)
    torch.testing.assert_close(out, torch.cat([ref.real, ref.imag], -1), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(net.readout(out), (ref @ torch.complex(net.C_re, net.C_im).T).real)


def _separated_lru(moduli):
    """An LRU whose |λ| are set to ``moduli`` (phases kept), so that the QR frame aligns fast."""
    net = build_model("lru", input_size=D_IN, hidden_size=len(moduli), output_size=OUT, seed=0).double()
    with torch.no_grad():
        net.nu_log.copy_(torch.log(-torch.log(torch.tensor(moduli, dtype=torch.float64))))
    return net


def test_lru_spectrum_is_minus_exp_nu_twice_for_any_input():
    """ln|λ_j| = −exp(ν_j) exactly, each twice (the pair [Re, Im] of one mode), whatever drives
    it: the Jacobian is the constant real form of Λ. The moduli are 0.05 apart in ln|λ|, so
    after 600 steps of transient the frame's alignment error is below e^{-2·0.05·600} ≈ 1e-26."""
    moduli = [0.98, 0.93, 0.88, 0.83, 0.78, 0.73]
    net = _separated_lru(moduli)
    expected = np.repeat(-np.exp(net.nu_log.detach().numpy()), 2)
    g = torch.Generator().manual_seed(0)
    for inputs in (torch.randn(2, 1200, D_IN, generator=g, dtype=torch.float64),
                   5 * torch.rand(1, 1200, D_IN, generator=g, dtype=torch.float64),
                   torch.zeros(1, 1200, D_IN, dtype=torch.float64)):
        ds = dynalysis.lyapunov_spectrum(ModuleSystem(net), inputs, transient=600)
        np.testing.assert_allclose(ds.exponent.values, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(expected[::2], np.log(moduli), rtol=1e-12)


# --- selective SSM ---------------------------------------------------------------------------------
def test_ssm_selection_is_positive_step_sizes_and_negative_a():
    net = make("ssm", {"d_state": 4})
    x = 10 * torch.randn(100, D_IN)
    assert (net.step_sizes(x) > 0).all()
    A = net.state_matrix()
    assert (A < 0).all()
    torch.testing.assert_close(A, -torch.arange(1.0, 5.0).expand(N, -1))  # S4D-real
    delta0 = torch.nn.functional.softplus(net.b_delta)
    assert delta0.min() >= 0.001 * (1 - 1e-5) and delta0.max() <= 0.1 * (1 + 1e-5)
    assert net.state_size == N * 4


def test_ssm_step_is_the_selective_recurrence_and_its_jacobian_ignores_the_state():
    net = make("ssm", {"d_state": 4}).double()
    g = torch.Generator().manual_seed(0)
    h = torch.randn(2, N, 4, generator=g, dtype=torch.float64)
    x = torch.randn(2, D_IN, generator=g, dtype=torch.float64)
    delta = torch.nn.functional.softplus(x @ net.W_delta.T + net.b_delta)  # (2, D)
    Bt, u = x @ net.W_B.T, x @ net.W_in.T
    A = -torch.exp(net.A_log)
    ref = torch.exp(delta[:, :, None] * A) * h + (delta * u)[:, :, None] * Bt[:, None, :]
    torch.testing.assert_close(net.step(h.flatten(1), x), ref.flatten(1), rtol=1e-12, atol=1e-12)
    system = ModuleSystem(net)
    J1 = system.jacobian(h.flatten(1), x)
    J2 = system.jacobian(torch.randn(2, N * 4, generator=g, dtype=torch.float64), x)
    torch.testing.assert_close(J1, J2, rtol=0, atol=0)
    torch.testing.assert_close(J1, torch.diag_embed(torch.exp(delta[:, :, None] * A).flatten(1)))


def test_ssm_exponents_are_the_time_means_of_delta_a_along_the_input():
    """Exponent of mode (c, n) = mean over the averaged steps of Δ_t[c] A[c, n], exactly (the
    Jacobian is diagonal). Channels get step sizes ~0.1–1 apart so that the modes' rates are
    separated (checked below) and the QR frame aligns within the transient."""
    D, S = 3, 2
    net = build_model("ssm", input_size=D_IN, hidden_size=D, output_size=1, d_state=S, seed=0).double()
    with torch.no_grad():
        net.b_delta.copy_(torch.tensor([0.3, 1.0, 2.0], dtype=torch.float64))
        net.A_log.copy_(torch.log(torch.tensor([[1.0, 2.2], [1.05, 2.4], [0.5, 1.9]], dtype=torch.float64)))
    g = torch.Generator().manual_seed(1)
    inputs = torch.randn(2, 800, D_IN, generator=g, dtype=torch.float64)
    transient = 200
    ds = dynalysis.lyapunov_spectrum(ModuleSystem(net), inputs, transient=transient)
    delta = torch.nn.functional.softplus(inputs @ net.W_delta.T + net.b_delta)  # (2, T, D)
    rates = delta[..., None] * -torch.exp(net.A_log)  # (2, T, D, S)
    expected = rates[:, transient:].mean(1).flatten(1).detach().numpy()  # (2, D·S)
    expected = -np.sort(-expected, axis=1)
    gaps = -np.diff(expected, axis=1)
    assert gaps.min() > 0.05  # e^{-2·0.05·200} ≈ 2e-9 alignment error, averaged over 600 steps
    np.testing.assert_allclose(ds.exponent_per_trajectory.values, expected, rtol=0, atol=1e-10)
    # not input-independent: another drive moves them
    other = dynalysis.lyapunov_spectrum(ModuleSystem(net), 3 * inputs, transient=transient)
    assert np.abs(other.exponent.values - ds.exponent.values).max() > 0.05


# --- options --------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell,options,match", [
    ("ctrnn", {"tau": 0.0}, "tau"),
    ("ctrnn", {"dt": -1.0}, "dt"),
    ("ctrnn", {"dt": 2.0, "tau": 1.0}, "dt/tau"),
    ("ctrnn", {"nonlinearity": "elu"}, "nonlinearity"),
    ("ctrnn", {"gain": 2.0, "init": "orthogonal"}, "gain"),
    ("ctrnn", {"init": "wcrnn"}, "init"),
    ("ctrnn", {"time_unit": "step"}, "time_unit"),
    ("ctrnn", {"dt": "fast"}, "dt"),
    ("lru", {"r_min": 0.9, "r_max": 0.5}, "r_min"),
    ("lru", {"r_max": 1.5}, "r_max"),
    ("lru", {"max_phase": 0.0}, "max_phase"),
    ("lru", {"seed": -2}, "seed"),
    ("ssm", {"d_state": 0}, "d_state"),
    ("ssm", {"dt_min": 0.5, "dt_max": 0.1}, "dt_min"),
    ("ssm", {"input_init": "chain"}, "input_init"),
])
def test_invalid_options_raise_option_error(cell, options, match):
    with pytest.raises(OptionError, match=match):
        make(cell, options)


def test_ssm_needs_inputs_and_options_accept_command_line_strings():
    with pytest.raises(OptionError, match="input_size"):
        make("ssm", {}, input_size=0)
    net = make("ctrnn", {"dt": "0.5", "tau": "2"})  # `--model.init_args.cell_options.dt 0.5`
    assert net.alpha == 0.25 and net.spec()["dt"] == 0.5
    assert make("ssm", {"d_state": "3"}).state_size == N * 3
    assert make("lru", {}, input_size=0, output_size=0).sequence(torch.zeros(2, 3, 0)).shape == (2, 3, 2 * N)
    assert make("ctrnn", {}, input_size=0).sequence(torch.zeros(2, 3, 0)).shape == (2, 3, N)
