"""Model zoo: the step map reproduces the training path, analytic J·Q products are exact, and
each cell's definition holds (docs/science.md §1–§4)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dynalysis import ModuleSystem
from dynalysis.errors import OptionError
from dynalysis.models import GRU, LSTM, MODELS, WCRNN, Elman, LinearRNN, build_model
from dynalysis.models import initializers as I

D_IN, N, OUT, T, BATCH = 3, 6, 2, 7, 4

# (cell, options): every cell and several residual / init variants
VARIANTS = [
    ("wcrnn", {}),
    ("wcrnn", {"residual": "rotational", "residual_scale": 0.95, "frequencies": 0.7}),
    ("wcrnn", {"residual": "rotational", "frequencies": "uniform", "train_residual": True}),
    ("wcrnn", {"residual": "heterogeneous", "memory_time_range": [2.0, 20.0]}),
    ("wcrnn", {"residual": "heterogeneous", "scale_range": [0.5, 1.0]}),
    ("wcrnn", {"residual": "nonlinear", "residual_scale": 0.9}),
    ("wcrnn", {"residual": "nonlinear", "residual_fn": "sin", "epsilon": 0.5, "init": "eigen"}),
    ("wcrnn", {"residual": "nonlinear", "residual_fn": "softsign", "bias_init": "uniform"}),
    ("elman", {}),
    ("elman", {"nonlinearity": "relu", "init": "identity", "bias_init": "zeros"}),
    ("elman", {"nonlinearity": "relu", "init": "np_rnn"}),
    ("elman", {"nonlinearity": "elu", "init": "chain", "input_init": "source"}),
    ("elman", {"init": "orthogonal", "init_options": {"gain": 0.9}, "input_init": "xavier"}),
    ("elman", {"init": "wcrnn", "init_options": {"residual": "rotational", "epsilon": 0.05}}),
    ("elman", {"init": "chain_feedback", "input_init": "normal",
               "input_init_options": {"gain": 0.9, "fan": "out"}}),
    ("lstm", {}),
    ("lstm", {"init": "mixed", "input_init": "source", "bias_init": "zeros"}),
    ("lstm", {"init": "eigen", "init_options": {"r_min": 0.8}, "input_init": "kaiming"}),
    ("gru", {}),
    ("gru", {"init": "eigen", "init_options": {"normal": False}}),
    ("gru", {"init": "mixed", "init_options": {"alpha": 1.02, "beta": 0.02}}),
    ("linear", {}),
    ("linear", {"s_A": 0.8, "s_B": 0.5, "s_C": 2.0, "direct": True}),
    ("linear", {"init": "eigen", "input_init": "source"}),
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


# --- the contract: step map == training path ------------------------------------------------
@pytest.mark.parametrize("cell,options", VARIANTS, ids=IDS)
def test_step_map_reproduces_sequence_and_forward(cell, options):
    torch.manual_seed(0)
    net = make(cell, options)
    x = torch.randn(BATCH, T, D_IN)
    for h0 in (None, 0.5 * torch.randn(BATCH, net.state_size)):
        start = torch.zeros(BATCH, net.state_size) if h0 is None else h0
        expected = rollout(net, x, start)
        torch.testing.assert_close(net.sequence(x, h0), expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(net.hidden_states(x, h0), net.hidden(expected),
                                   rtol=1e-5, atol=1e-5)
        y, hidden = net(x, h0)
        torch.testing.assert_close(hidden, net.hidden(expected), rtol=1e-5, atol=1e-5)
        direct = x @ net.D.T if getattr(net, "D", None) is not None else 0
        torch.testing.assert_close(y, net.readout(expected) + direct, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell,options", VARIANTS, ids=IDS)
def test_spec_rebuilds_the_same_network(cell, options):
    net = make(cell, options, seed=3)
    spec = net.spec()
    again = build_model(**spec)
    assert again.spec() == spec
    for (k, a), (k2, b) in zip(net.state_dict().items(), again.state_dict().items()):
        assert k == k2
        torch.testing.assert_close(a, b, rtol=0, atol=0)  # same seed, same weights
    other = make(cell, options, seed=4)
    assert any(not torch.equal(a, b) for a, b in zip(net.state_dict().values(),
                                                     other.state_dict().values()))


def test_registry_holds_every_cell():
    assert set(MODELS) >= {"wcrnn", "elman", "lstm", "gru", "linear"}
    with pytest.raises(OptionError, match="allowed values"):
        build_model("transformer", input_size=1, hidden_size=2)


# --- analytic J·Q against torch.func.jacrev (float64) ----------------------------------------
ANALYTIC = [(c, o) for c, o in VARIANTS if MODELS[c].analytic_tangent]


@pytest.mark.parametrize("cell,options", ANALYTIC,
                         ids=[i for i, (c, _) in zip(IDS, VARIANTS) if MODELS[c].analytic_tangent])
def test_analytic_tangent_step_matches_jacrev(cell, options):
    net = make(cell, options).double()
    g = torch.Generator().manual_seed(1)
    S = net.state_size  # 2N for the LSTM's [h, c]
    h = torch.randn(BATCH, S, generator=g, dtype=torch.float64)
    x = torch.randn(BATCH, D_IN, generator=g, dtype=torch.float64)
    Q = torch.randn(BATCH, S, 3, generator=g, dtype=torch.float64)
    nxt, JQ = net.tangent_step(h, x, Q)
    J = torch.stack([torch.func.jacrev(lambda s: net.step(s[None], x[b:b + 1])[0])(h[b])
                     for b in range(BATCH)])
    torch.testing.assert_close(nxt, net.step(h, x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(JQ, J @ Q, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_jacobian_matches_torch_func(cell):
    net = make(cell, {}).double()
    system = ModuleSystem(net)
    h = torch.randn(2, net.state_size, dtype=torch.float64)
    x = torch.randn(2, D_IN, dtype=torch.float64)
    J = system.jacobian(h, x)
    ref = torch.stack([torch.func.jacrev(lambda s: net.step(s[None], x[b:b + 1])[0])(h[b])
                       for b in range(2)])
    torch.testing.assert_close(J, ref, rtol=1e-10, atol=1e-12)
    assert net.analytic_tangent and system.analytic_tangent  # the hand-written J·Q (declared)


# --- WCRNN ------------------------------------------------------------------------------------
@pytest.mark.parametrize("residual,extra", [("identity", {"residual_scale": 0.9}),
                                            ("rotational", {"frequencies": [0.2, 0.9, 2.0]}),
                                            ("heterogeneous", {"scale_range": [0.6, 1.0]})])
def test_wcrnn_jacobian_tends_to_residual_as_epsilon_vanishes(residual, extra):
    h = torch.randn(3, N, dtype=torch.float64)
    x = torch.randn(3, D_IN, dtype=torch.float64)
    for eps in (1e-2, 1e-4, 1e-6):
        net = make("wcrnn", {"residual": residual, "epsilon": eps, **extra}).double()
        J = ModuleSystem(net).jacobian(h, x)
        R = net.residual_matrix()
        a = h @ net.W.T + x @ net.V.T + net.b
        # J = R + ε diag(tanh'(a)) W exactly, so ‖J − R‖ = O(ε)
        torch.testing.assert_close(J, R + eps * (1 - torch.tanh(a) ** 2)[..., None] * net.W,
                                   rtol=1e-12, atol=1e-14)
        assert (J - R).abs().max() <= eps * net.W.abs().max()


@pytest.mark.parametrize("options", [
    {"residual": "rotational", "residual_scale": 0.95, "frequencies": [0.3, 1.0, 2.0]},
    {"residual": "heterogeneous", "scale_range": [0.6, 1.0]},
    {"residual": "heterogeneous", "memory_time_range": [2.0, 30.0]},
])
def test_wcrnn_lyapunov_spectrum_approaches_log_residual_eigenvalues(options):
    """docs/science.md §1: with ε = 1e-3 the spectrum matches ln|eig(R)| (sorted) to ~1e-2."""
    import dynalysis

    net = make("wcrnn", {"epsilon": 1e-3, **options})
    system = ModuleSystem(net)
    inputs = torch.randn(2, 400, D_IN, generator=torch.Generator().manual_seed(0))
    ds = dynalysis.lyapunov_spectrum(system, inputs, transient=50)
    expected = np.sort(np.log(np.abs(np.linalg.eigvals(net.residual_matrix().double().numpy()))))[::-1]
    np.testing.assert_allclose(ds["exponent"].values, expected, atol=1e-2)


def test_wcrnn_rotational_residual_has_requested_spectrum():
    net = make("wcrnn", {"residual": "rotational", "residual_scale": 0.97,
                         "frequencies": 2 * math.pi / 8})
    lam = torch.linalg.eigvals(net.residual_matrix().double())
    np.testing.assert_allclose(lam.abs(), 0.97, atol=1e-6)
    np.testing.assert_allclose(lam.angle().abs(), 2 * math.pi / 8, atol=1e-6)
    odd = make("wcrnn", {"residual": "rotational", "frequencies": 0.5}, hidden_size=5)
    assert odd.residual_matrix()[4, 4] == 1.0  # trailing 1×1 block λ for odd N


def test_wcrnn_nonlinear_residual_definition():
    net = make("wcrnn", {"residual": "nonlinear", "residual_scale": 0.8, "epsilon": 0.2}).double()
    h = torch.randn(2, N, dtype=torch.float64)
    x = torch.randn(2, D_IN, dtype=torch.float64)
    a = h @ net.W.T + x @ net.V.T + net.b
    torch.testing.assert_close(net.step(h, x), 0.8 * torch.tanh(h) + 0.2 * torch.tanh(a))
    assert net.residual_matrix() is None


def test_wcrnn_residual_fixed_by_default_trainable_as_option():
    fixed = make("wcrnn", {"residual": "rotational", "frequencies": 0.3})
    assert "R" in dict(fixed.named_buffers()) and "R" not in dict(fixed.named_parameters())
    trained = make("wcrnn", {"residual": "rotational", "frequencies": 0.3, "train_residual": True})
    trained(torch.randn(2, T, D_IN))[0].sum().backward()
    assert trained.R.grad is not None and trained.R.grad.abs().sum() > 0
    nl = make("wcrnn", {"residual": "nonlinear", "train_residual": True})
    assert "residual_scales" in dict(nl.named_parameters())


def test_wcrnn_is_autonomous_capable():
    net = make("wcrnn", {}, input_size=0)
    assert net.sequence(torch.zeros(2, 3, 0)).shape == (2, 3, N)


# --- Elman, LSTM, GRU ---------------------------------------------------------------------------
def test_irnn_and_wcrnn_initialisation_of_elman():
    irnn = make("elman", {"nonlinearity": "relu", "init": "identity", "bias_init": "zeros"})
    torch.testing.assert_close(irnn.recurrent_matrix(), torch.eye(N), rtol=0, atol=0)
    assert irnn.rnn.bias_hh_l0.abs().max() == 0
    opts = {"residual": "rotational", "frequencies": 0.4, "residual_scale": 0.9}
    net = make("elman", {"init": "wcrnn", "init_options": {"epsilon": 1e-3, **opts}})
    R = I.residual_matrix(N, **opts)
    assert (net.recurrent_matrix() - R).abs().max() < 1e-3 * 3  # R + ε W_0, |W_0| ≲ 3/√N


def test_chain_elman_pulse_reaches_last_unit_after_n_minus_1_steps():
    net = make("elman", {"nonlinearity": "tanh", "init": "chain", "input_init": "source",
                         "bias_init": "zeros"})
    x = torch.zeros(1, N + 1, D_IN)
    x[0, 0, 0] = 1.0  # pulse on input channel 0 at the first step
    states = net.sequence(x)[0]
    for t in range(N):  # after t further steps the activity sits on unit t only
        assert torch.nonzero(states[t]).flatten().tolist() == [t]
    assert states[N].abs().max() == 0


@pytest.mark.parametrize("cell,names", [("lstm", ("input", "forget", "cell", "output")),
                                        ("gru", ("reset", "update", "new"))])
def test_eigen_init_on_every_gate_block(cell, names):
    net = make(cell, {"init": "eigen", "init_options": {"r_min": 0.7, "r_max": 0.8,
                                                       "theta_max": 1.0}})
    blocks = net.gate_matrices()
    assert tuple(blocks) == names
    for W in blocks.values():
        lam = torch.linalg.eigvals(W.double())
        assert lam.abs().min() >= 0.7 - 1e-5 and lam.abs().max() <= 0.8 + 1e-5
        assert lam.angle().abs().max() <= 1.0 + 1e-5
    mats = list(blocks.values())
    assert not torch.allclose(mats[0], mats[1])  # independently drawn
    assert net.recurrent_matrix() is None


def test_lstm_mixed_init_and_state_layout():
    net = make("lstm", {"init": "mixed", "init_options": {"alpha": 1.0, "ramp_scale": 0.01}})
    blocks = net.gate_matrices()
    torch.testing.assert_close(blocks["cell"], I.chain(N))
    for gate in ("input", "forget", "output"):
        torch.testing.assert_close(blocks[gate], I.antisymmetric_ramp(N, scale=0.01))
    assert net.state_size == 2 * N
    state = torch.cat([torch.full((1, N), 0.3), torch.full((1, N), -2.0)], -1)
    torch.testing.assert_close(net.hidden(state), torch.full((1, N), 0.3))


def test_lstm_step_matches_pytorch_equations():
    net = make("lstm", {}).double()
    h, c = torch.randn(2, N, dtype=torch.float64), torch.randn(2, N, dtype=torch.float64)
    x = torch.randn(2, D_IN, dtype=torch.float64)
    cell = torch.nn.LSTMCell(D_IN, N).double()
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in net.rnn.state_dict().items()})
    h_ref, c_ref = cell(x, (h, c))
    torch.testing.assert_close(net.step(torch.cat([h, c], -1), x), torch.cat([h_ref, c_ref], -1))


def test_gru_step_matches_pytorch_equations():
    net = make("gru", {}).double()
    h, x = torch.randn(2, N, dtype=torch.float64), torch.randn(2, D_IN, dtype=torch.float64)
    cell = torch.nn.GRUCell(D_IN, N).double()
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in net.rnn.state_dict().items()})
    torch.testing.assert_close(net.step(h, x), cell(x, h))


def test_default_init_is_torch_default_distribution():
    net = make("lstm", {}, hidden_size=16)
    for w in net.rnn.parameters():
        assert w.abs().max() <= 1 / math.sqrt(16)


# --- linear RNN (Emami et al.) -----------------------------------------------------------------
def test_linear_rnn_is_convolution_with_kernel_CAjB():
    net = make("linear", {"direct": True, "s_A": 0.9}).double()
    with torch.no_grad():
        net.D.copy_(torch.randn_like(net.D))
    x = torch.randn(2, T, D_IN, dtype=torch.float64)
    A, B, C, D = net.A, net.B, net.C, net.D
    K = [C @ torch.linalg.matrix_power(A, j) @ B for j in range(T)]  # (O, d) per lag
    y_ref = torch.stack([sum(x[:, t - j] @ K[j].T for j in range(t + 1)) + x[:, t] @ D.T
                         for t in range(T)], 1)
    torch.testing.assert_close(net(x)[0], y_ref, rtol=1e-10, atol=1e-12)


def test_linear_rnn_width_scaled_init_variances():
    n, s_A, s_B, s_C = 300, 0.7, 1.5, 2.0
    net = build_model("linear", input_size=40, hidden_size=n, output_size=30, s_A=s_A, s_B=s_B,
                      s_C=s_C, seed=0)
    assert (net.A.var() * n).item() == pytest.approx(s_A ** 2, rel=0.03)
    assert net.B.var().item() == pytest.approx(s_B ** 2, rel=0.05)
    assert (net.C.var() * n).item() == pytest.approx(s_C ** 2, rel=0.05)
    assert net.recurrent_matrix() is net.A


# --- option validation --------------------------------------------------------------------------
@pytest.mark.parametrize("cell,options,match", [
    ("wcrnn", {"residual": "spiral"}, "residual"),
    ("wcrnn", {"frequencies": 0.3}, "frequencies"),
    ("wcrnn", {"residual": "heterogeneous", "residual_scale": 0.5}, "residual_scale"),
    ("wcrnn", {"residual": "nonlinear", "residual_fn": "cube"}, "residual_fn"),
    ("wcrnn", {"epsilon": 0.0}, "epsilon"),
    ("wcrnn", {"init": "wcrnn"}, "init"),
    ("elman", {"nonlinearity": "sigmoid"}, "nonlinearity"),
    ("elman", {"init": "mixed"}, "init"),
    ("elman", {"init": "default", "init_options": {"gain": 2.0}}, "init_options"),
    ("elman", {"init": "eigen", "init_options": {"radius": 1.0}}, "allowed options"),
    ("elman", {"bias_init": "ones"}, "bias_init"),
    ("elman", {"seed": -1}, "seed"),
    ("lstm", {"init": "wcrnn"}, "init"),
    ("gru", {"input_init": "chain"}, "input_init"),
    ("linear", {"init": "eigen", "s_A": 0.5}, "s_A"),
    ("linear", {"input_init": "source", "s_B": 0.5}, "s_B"),
])
def test_invalid_options_raise_option_error(cell, options, match):
    with pytest.raises(OptionError, match=match):
        make(cell, options)


# an option of another cell, and a typo of the cell's own, for every cell (issue 14)
FOREIGN = {"wcrnn": "nonlinearity", "elman": "epsilon", "lstm": "epsilon", "gru": "residual",
           "linear": "bias_init"}
TYPOS = {"wcrnn": ("residual_sclae", "residual_scale"), "elman": ("nonlinearty", "nonlinearity"),
         "lstm": ("bias_inti", "bias_init"), "gru": ("init_option", "init_options"),
         "linear": ("s_a", "s_A")}


@pytest.mark.parametrize("cell", sorted(FOREIGN))
@pytest.mark.parametrize("kind", ["foreign", "typo"])
def test_unknown_cell_options_are_one_line_errors_naming_the_allowed_ones(cell, kind):
    from dynalysis.models import cell_options

    bad = FOREIGN[cell] if kind == "foreign" else TYPOS[cell][0]
    with pytest.raises(OptionError) as err:
        make(cell, {bad: 0.1})
    message = str(err.value)
    assert message.startswith(f"unknown option {bad!r} for cell {cell!r}") and "\n" not in message
    assert message.endswith("allowed: " + ", ".join(cell_options(cell)))
    if kind == "typo":
        assert f"did you mean {TYPOS[cell][1]!r}?" in message


def test_cell_options_are_what_the_cells_accept():
    from dynalysis.models import cell_options

    for cell in FOREIGN:
        assert FOREIGN[cell] not in cell_options(cell)
        assert TYPOS[cell][1] in cell_options(cell) and "seed" in cell_options(cell)
    assert "nonlinearity" in cell_options("elman") and "epsilon" in cell_options("wcrnn")


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_gated_cells_built_directly_refuse_unknown_options(cls):
    with pytest.raises(OptionError, match=f"unknown option 'epsilon' for cell '{cls.cell_name}'"):
        cls(D_IN, N, epsilon=0.1)


def test_fused_cells_need_inputs_and_linear_direct_needs_outputs():
    with pytest.raises(OptionError, match="input_size"):
        make("gru", {}, input_size=0)
    with pytest.raises(OptionError, match="direct"):
        make("linear", {"direct": True}, output_size=0)


@pytest.mark.parametrize("cls", [WCRNN, Elman, LSTM, GRU, LinearRNN])
def test_to_float64_keeps_the_step_map(cls):
    net = make(cls.cell_name, {})
    x = torch.randn(2, T, D_IN)
    system = ModuleSystem(net).to(dtype=torch.float64)
    h = torch.zeros(2, net.state_size, dtype=torch.float64)
    out = rollout(system, x.double(), h)
    torch.testing.assert_close(out.float(), net.sequence(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("options", [
    {"residual": "identity", "residual_scale": 0.9},
    {"residual": "rotational", "frequencies": 0.5},
    {"residual": "heterogeneous"},
    {"residual": "identity", "train_residual": True},
    {"residual": "nonlinear"},
])
def test_wcrnn_training_path_gradients_equal_the_step_loop(options):
    """`sequence` runs the hand-written BPTT kernel; its gradients must be autograd's."""
    net = build_model("wcrnn", input_size=3, hidden_size=6, output_size=2, seed=0, **options).double()
    x = torch.randn(4, 9, 3, dtype=torch.float64)
    h0 = torch.randn(4, 6, dtype=torch.float64)
    g = torch.randn(4, 9, 6, dtype=torch.float64)
    params = [p for n, p in net.named_parameters() if not n.startswith("out.")]
    fast = torch.autograd.grad((net.sequence(x, h0) * g).sum(), params)
    h, states = h0, []
    for t in range(9):
        h = net.step(h, x[:, t])
        states.append(h)
    slow = torch.autograd.grad((torch.stack(states, 1) * g).sum(), params)
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
