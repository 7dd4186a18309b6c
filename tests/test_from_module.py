"""`dynalysis.from_module`: torch's own recurrent modules (and any module with a step protocol)
as step maps that reproduce the module's forward, with analytic J·Q, in float64, without
touching the module (issue 15, docs/science.md §6)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

import dynalysis
from dynalysis import MapSystem, from_module
from dynalysis.adapters import ProtocolSystem, TorchRNNSystem
from dynalysis.errors import OptionError, StepMapError
from dynalysis.testing import check_system

F64 = torch.float64
D, H, P, B, T = 2, 3, 2, 2, 6
KINDS = ["rnn_tanh", "rnn_relu", "gru", "lstm", "lstm_proj"]
CELL_KINDS = ["rnn_tanh_cell", "rnn_relu_cell", "gru_cell", "lstm_cell"]


def make(kind, num_layers=1, batch_first=True, bias=True, dtype=F64, seed=0, **extra):
    torch.manual_seed(seed)
    common = dict(bias=bias)
    if kind.endswith("_cell"):
        cls = {"rnn": nn.RNNCell, "gru": nn.GRUCell, "lstm": nn.LSTMCell}[kind.split("_")[0]]
        if kind.startswith("rnn"):
            common["nonlinearity"] = kind.split("_")[1]
        return cls(D, H, **common).to(dtype)
    common.update(num_layers=num_layers, batch_first=batch_first, **extra)
    if kind.startswith("rnn"):
        return nn.RNN(D, H, nonlinearity=kind.split("_")[1], **common).to(dtype)
    if kind == "gru":
        return nn.GRU(D, H, **common).to(dtype)
    return nn.LSTM(D, H, proj_size=P if kind == "lstm_proj" else 0, **common).to(dtype)


def random_hx(module, batch, generator):
    if isinstance(module, (nn.RNNCell, nn.GRUCell, nn.LSTMCell)):
        h = torch.randn(batch, H, generator=generator, dtype=F64)
        return (h, torch.randn(batch, H, generator=generator, dtype=F64)) if isinstance(module, nn.LSTMCell) else h
    L = module.num_layers
    Ph = module.proj_size or H
    h = torch.randn(L, batch, Ph, generator=generator, dtype=F64)
    return (h, torch.randn(L, batch, H, generator=generator, dtype=F64)) if isinstance(module, nn.LSTM) else h


def as_tuple(hx):
    return hx if isinstance(hx, tuple) else (hx,)


# --- the step map reproduces the module's forward ------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_the_step_map_reproduces_the_module_forward(kind, num_layers, batch_first, bias):
    module = make(kind, num_layers, batch_first, bias)
    system = from_module(module)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B, T, D, generator=g, dtype=F64)
    xm = x if batch_first else x.transpose(0, 1)
    for hx in (None, random_hx(module, B, g)):
        with torch.no_grad():
            out_ref, hx_ref = module(xm, hx)
        out, hx_out = system.run(xm, hx)
        torch.testing.assert_close(out, out_ref, rtol=0, atol=1e-10)  # every output
        for a, b in zip(as_tuple(hx_out), as_tuple(hx_ref)):  # final h_n (and c_n)
            torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
        # and the same by hand, from the documented layout
        h = system.initial_state(B) if hx is None else system.pack_state(hx)
        for t in range(T):
            h = system.step(h, x[:, t])
            torch.testing.assert_close(system.top_hidden(h), (out_ref[:, t] if batch_first else out_ref[t]),
                                       rtol=0, atol=1e-10)
        hn = as_tuple(hx_ref)
        expected = torch.cat([p.transpose(0, 1).reshape(B, -1) for p in hn], -1)
        torch.testing.assert_close(h, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", CELL_KINDS)
def test_a_cell_step_is_the_cell_call(kind, bias):
    cell = make(kind, bias=bias)
    system = from_module(cell)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(B, D, generator=g, dtype=F64)
    hx = random_hx(cell, B, g)
    with torch.no_grad():
        ref = as_tuple(cell(x, hx))
    nxt = system.unpack_state(system.step(system.pack_state(hx), x))
    for a, b in zip(as_tuple(nxt), ref):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    assert system.state_size == (2 * H if kind == "lstm_cell" else H)


def test_state_sizes_follow_the_documented_layout():
    assert from_module(make("rnn_tanh", 3)).state_size == 3 * H
    assert from_module(make("gru", 2)).state_size == 2 * H
    assert from_module(make("lstm", 2)).state_size == 2 * 2 * H
    assert from_module(make("lstm_proj", 3)).state_size == 3 * (P + H)


# --- J·Q: analytic, against torch.func.jacrev -------------------------------------------------------
@pytest.mark.parametrize("kind,num_layers", [(k, L) for k in KINDS for L in (1, 3)] +
                         [(k, 1) for k in CELL_KINDS])
def test_analytic_tangent_step_matches_jacrev(kind, num_layers):
    system = from_module(make(kind, num_layers))
    assert system.analytic_tangent
    g = torch.Generator().manual_seed(3)
    S = system.state_size
    h = 0.7 * torch.randn(B, S, generator=g, dtype=F64)
    x = torch.randn(B, D, generator=g, dtype=F64)
    Q = torch.randn(B, S, 4, generator=g, dtype=F64)
    nxt, JQ = system.tangent_step(h, x, Q)
    J = torch.stack([torch.func.jacrev(lambda s: system.step(s[None], x[b:b + 1])[0])(h[b])
                     for b in range(B)])
    torch.testing.assert_close(nxt, system.step(h, x), rtol=0, atol=0)
    torch.testing.assert_close(JQ, J @ Q, rtol=1e-10, atol=1e-12)


ADAPTERS = [(k, L, bf) for k in KINDS for L, bf in ((1, True), (2, False), (3, True))] + \
           [(k, 1, True) for k in CELL_KINDS]


@pytest.mark.parametrize("dtype", [F64, torch.float32])
@pytest.mark.parametrize("kind,num_layers,batch_first", ADAPTERS)
def test_check_system_passes_on_every_adapter(kind, num_layers, batch_first, dtype):
    module = make(kind, num_layers, batch_first, dtype=torch.float32)
    check_system(from_module(module), dtype=dtype)
    top = P if kind == "lstm_proj" else H
    check_system(from_module(module, readout=nn.Linear(top, 2)), dtype=dtype)


# --- science: closed forms and spectra ------------------------------------------------------------------
def test_zero_recurrence_lstm_top_exponents_are_time_means_of_log_forget_gates():
    """docs/science.md §6: with W_hh = 0, ∂c_t/∂c_{t−1} = diag(f_t) and J is block triangular,
    so the top H exponents are the time means of ln f_t,i, f_t = σ(W_if x_t + b_if + b_hf)."""
    H4 = 4
    lstm = nn.LSTM(D, H4, batch_first=True).double()
    with torch.no_grad():
        lstm.weight_hh_l0.zero_()
        lstm.bias_ih_l0[H4:2 * H4].copy_(torch.tensor([0.5, 1.0, 2.0, 3.0]))  # spread exponents
    x = torch.randn(2, 3000, D, generator=torch.Generator().manual_seed(4), dtype=F64)
    transient = 100
    ds = dynalysis.lyapunov_spectrum(from_module(lstm), x, n_exponents=H4, transient=transient)
    W_if = lstm.weight_ih_l0[H4:2 * H4]
    b_f = lstm.bias_ih_l0[H4:2 * H4] + lstm.bias_hh_l0[H4:2 * H4]
    log_f = torch.nn.functional.logsigmoid(x @ W_if.T + b_f).detach()  # (traj, T, H)
    expected = np.sort(log_f[:, transient:].mean(1).numpy(), axis=1)[:, ::-1]
    np.testing.assert_allclose(ds.exponent_per_trajectory.values, expected, atol=2e-3)
    assert np.all(np.diff(expected[0]) < -2e-2)  # distinct values: the test can tell them apart


def test_a_two_layer_lstm_has_4H_exponents():
    lstm = make("lstm", num_layers=2, dtype=torch.float32)
    x = torch.randn(2, 300, D, generator=torch.Generator().manual_seed(5))
    ds = dynalysis.lyapunov_spectrum(from_module(lstm), x, transient=50)
    assert ds.sizes["exponent_index"] == 4 * H
    ex = ds.exponent.values
    assert np.all(np.isfinite(ex)) and np.all(np.diff(ex) <= 1e-12) and ex[0] < 0.1


def _hand_written_rnn(rnn):
    W_ih, W_hh = rnn.weight_ih_l0.detach(), rnn.weight_hh_l0.detach()
    b = (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach()
    return MapSystem(lambda h, x: torch.tanh(x @ W_ih.T + h @ W_hh.T + b), H, D, recurrent_matrix=W_hh)


def test_nn_rnn_gives_the_spectrum_and_nonnormality_of_the_hand_written_map():
    rnn = make("rnn_tanh")
    x = torch.randn(3, 400, D, generator=torch.Generator().manual_seed(6), dtype=F64)
    system, hand = from_module(rnn), _hand_written_rnn(rnn)
    a = dynalysis.lyapunov_spectrum(system, x)
    b = dynalysis.lyapunov_spectrum(hand, x)
    np.testing.assert_allclose(a.exponent_per_trajectory.values, b.exponent_per_trajectory.values,
                               rtol=0, atol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dynalysis.NumericalReliabilityWarning)
        nn_sys = dynalysis.nonnormality(system, motif_steps=10)
        nn_W = dynalysis.nonnormality(rnn.weight_hh_l0.detach().numpy(), motif_steps=10)
    for name in ("henrici", "spectral_radius", "spectral_norm", "numerical_abscissa"):
        assert float(nn_sys[name]) == pytest.approx(float(nn_W[name]), abs=1e-12)
    kernel_a = dynalysis.memory_kernel(from_module(rnn, readout=nn.Linear(H, 2).double()), x[:, :40], max_lag=8)
    assert kernel_a.sizes["output"] == 2 and np.isfinite(kernel_a.kernel.values).all()


def test_stacked_rnn_recurrent_matrix_is_its_jacobian_where_phi_prime_is_one():
    """With every pre-activation at 0 (zero biases, state and input), tanh' = 1: J = recurrent_matrix."""
    rnn = make("rnn_tanh", num_layers=3, bias=False)
    system = from_module(rnn)
    S = system.state_size
    J = system.jacobian(torch.zeros(1, S, dtype=F64), torch.zeros(1, D, dtype=F64))[0]
    torch.testing.assert_close(system.recurrent_matrix(), J, rtol=0, atol=1e-14)
    torch.testing.assert_close(J[:H, :H], rnn.weight_hh_l0.detach(), rtol=0, atol=0)
    assert torch.all(J[:H, H:] == 0)  # layer 0 does not see the layers above (causal in depth)
    assert set(from_module(make("lstm", 2)).gate_matrices()) == {
        f"{g}_l{k}" for g in ("input", "forget", "cell", "output") for k in (0, 1)}


def test_readouts_see_the_top_layer_and_give_the_memory_kernel_of_the_hand_written_map():
    rnn = make("rnn_tanh")
    head = nn.Linear(H, 2).double()
    x = torch.randn(2, 30, D, generator=torch.Generator().manual_seed(7), dtype=F64)
    hand = _hand_written_rnn(rnn)
    W_out, b_out = head.weight.detach(), head.bias.detach()
    hand = MapSystem(hand.step, H, D, readout=lambda h: h @ W_out.T + b_out)
    a = dynalysis.memory_kernel(from_module(rnn, readout=head), x, max_lag=6)
    b = dynalysis.memory_kernel(hand, x, max_lag=6)
    np.testing.assert_allclose(a.kernel.values, b.kernel.values, rtol=0, atol=1e-12)
    lstm = make("lstm_proj", num_layers=2)
    system = from_module(lstm, readout=lambda h: h.sum(-1, keepdim=True))
    state = torch.randn(3, system.state_size, dtype=F64)
    torch.testing.assert_close(system.readout(state), system.unpack_state(state)[0][-1].sum(-1, keepdim=True))


# --- the module as trained: float32, training mode, never modified ------------------------------------
@pytest.mark.parametrize("kind", ["rnn_relu", "gru", "lstm"])
def test_a_float32_module_is_analysed_in_float64_and_left_as_it_was(kind):
    module = make(kind, num_layers=2, dtype=torch.float32, dropout=0.5).train()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    x = torch.randn(2, 200, D, generator=torch.Generator().manual_seed(8))
    system = from_module(module, readout=nn.Linear(H, 1))
    ds = dynalysis.lyapunov_spectrum(system, x, transient=20)
    twin = make(kind, num_layers=2, dtype=torch.float32, dropout=0.5)
    twin.load_state_dict(module.state_dict())
    ref = dynalysis.lyapunov_spectrum(from_module(twin.double().eval()), x.double(), transient=20)
    np.testing.assert_allclose(ds.exponent.values, ref.exponent.values, rtol=0, atol=1e-10)
    dynalysis.memory_kernel(system, x[:, :30], max_lag=5)
    dynalysis.find_fixed_points(system, x, transient=20)
    assert module.training and all(p.requires_grad and p.grad is None and p.dtype == torch.float32
                                   for p in module.parameters())
    for k, v in module.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_dropout_is_off_the_step_map_is_the_eval_forward():
    lstm = make("lstm", num_layers=3, dropout=0.9).train()
    x = torch.randn(B, T, D, dtype=F64)
    out, _ = from_module(lstm).run(x)
    lstm.eval()
    with torch.no_grad():
        ref, _ = lstm(x)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)


def test_in_place_weight_updates_are_seen_and_to_float64_is_a_copy():
    rnn = make("rnn_tanh", dtype=torch.float32)
    system = from_module(rnn)
    s64 = system.to(dtype=F64)
    with torch.no_grad():
        rnn.weight_hh_l0.mul_(2.0)
    torch.testing.assert_close(system.recurrent_matrix(), rnn.weight_hh_l0.detach())
    assert not torch.allclose(s64.recurrent_matrix().float(), rnn.weight_hh_l0.detach())


# --- refusals: one line ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [nn.RNN, nn.GRU, nn.LSTM])
def test_bidirectional_modules_are_refused_as_not_causal(cls):
    with pytest.raises(ValueError, match="bidirectional .* not a causal step map") as err:
        from_module(cls(D, H, bidirectional=True))
    assert isinstance(err.value, StepMapError) and "\n" not in str(err.value)


def test_packed_sequences_are_refused():
    lstm = make("lstm")
    packed = nn.utils.rnn.pack_padded_sequence(torch.randn(2, 5, D, dtype=F64), [5, 3], batch_first=True)
    with pytest.raises(ValueError, match="packed sequences are not a step map's input"):
        from_module(lstm).run(packed)


def test_a_subclass_overriding_forward_needs_the_step_protocol():
    class Mine(nn.GRU):
        def forward(self, x, hx=None):
            return super().forward(2 * x, hx)

    with pytest.raises(StepMapError, match="overrides GRU.forward"):
        from_module(Mine(D, H))


@pytest.mark.parametrize("module,kwargs,match", [
    (nn.LSTM(D, H), {"input_size": 3}, "input_size apply to modules other than torch's RNNs"),
    (nn.Linear(2, 2), {}, "not one of torch's RNN modules; .* give initial_state= and input_size="),
    ("lstm", {}, "takes a torch.nn.Module, got str"),
    (nn.GRU(D, H), {"readout": 3}, "readout must be an nn.Module or a callable"),
    (nn.GRU(D, H), {"readout": nn.Linear(5, 2)}, "the readout fails on a torch.float32 input of shape"),
])
def test_what_does_not_apply_is_a_one_line_option_error(module, kwargs, match):
    with pytest.raises(OptionError, match=match) as err:
        from_module(module, **kwargs)
    assert "\n" not in str(err.value)


# --- any module with a step protocol --------------------------------------------------------------------
class TwoTimescales(nn.Module):
    """A user's own cell: ``forward(x_t, (fast, slow)) -> (fast', slow')``."""

    def __init__(self):
        super().__init__()
        self.W = nn.Linear(3, 2)
        self.U = nn.Linear(D, 2)
        self.drop = nn.Dropout(0.5)

    def forward(self, x, state):
        fast, slow = state
        fast = torch.tanh(self.drop(self.W(torch.cat([fast, slow], -1))) + self.U(x))
        return fast, 0.9 * slow + 0.1 * fast[:, :1]


class DictCell(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.GRUCell(D, H)

    def advance(self, x, state):
        h = self.cell(x, state["h"])
        return {"h": h, "trace": state["trace"] * 0.5 + h.sum(-1, keepdim=True)}


def _loop(step, state, x):
    for t in range(x.shape[1]):
        state = step(x[:, t], state)
    return state


def test_a_tuple_state_module_is_flattened_and_reproduced():
    module = TwoTimescales().train()
    init = (torch.zeros(1, 2), torch.full((1, 1), 0.3))
    system = from_module(module, initial_state=init, input_size=D,
                         readout=lambda s: s[0] + s[1])
    assert isinstance(system, ProtocolSystem) and system.state_size == 3
    assert system.metadata["state_layout"] == "[0] (2,) | [1] (1,)"
    x = torch.randn(B, T, D)
    h = system.initial_state(B)
    for t in range(T):
        h = system.step(h, x[:, t])
    module.eval()
    with torch.no_grad():
        fast, slow = _loop(module, (init[0].expand(B, -1), init[1].expand(B, -1)), x)
    torch.testing.assert_close(h, torch.cat([fast, slow], -1), rtol=0, atol=1e-6)
    torch.testing.assert_close(system.readout(h), fast + slow, rtol=0, atol=1e-6)
    module.train()
    check_system(system)
    assert module.training and module.W.weight.dtype == torch.float32 and module.W.weight.requires_grad


@pytest.mark.parametrize("step", ["advance", lambda m, x, s: m.advance(x, s)])
def test_a_dict_state_module_with_a_named_method_or_a_callable(step):
    module = DictCell()
    init = {"h": torch.zeros(1, H), "trace": torch.zeros(1, 1)}
    system = from_module(module, step=step, initial_state=init, input_size=D,
                         readout=lambda s: s["trace"])
    x = torch.randn(B, T, D)
    h = system.initial_state(B)
    for t in range(T):
        h = system.step(h, x[:, t])
    with torch.no_grad():
        ref = _loop(module.advance, {k: v.expand(B, -1) for k, v in init.items()}, x)
    torch.testing.assert_close(system.layout.unflatten(h)["h"], ref["h"], rtol=0, atol=1e-6)
    check_system(system)
    x = torch.randn(2, 200, D, generator=torch.Generator().manual_seed(9))
    ds = dynalysis.lyapunov_spectrum(system, x, transient=20)
    cell = module.cell.double()  # the same map written by hand on [h, trace]
    hand = MapSystem(lambda s, x: torch.cat([(h := cell(x, s[:, :H])),
                                             0.5 * s[:, H:] + h.sum(-1, keepdim=True)], -1), H + 1, D)
    ref = dynalysis.lyapunov_spectrum(hand, x, transient=20)
    np.testing.assert_allclose(ds.exponent.values, ref.exponent.values, rtol=0, atol=1e-10)


def test_a_step_that_changes_the_state_structure_is_named_at_once():
    with pytest.raises(StepMapError, match=r"keys \['h'\] .* which has keys \['h', 'trace'\]"):
        from_module(DictCell(), step=lambda m, x, s: {"h": m.cell(x, s["h"])}, input_size=D,
                    initial_state={"h": torch.zeros(1, H), "trace": torch.zeros(1, 1)})


class Unregistered(nn.Module):
    """Keeps a weight as a plain attribute: ``to`` cannot convert it."""

    def __init__(self):
        super().__init__()
        self.W = torch.randn(H, H)

    def forward(self, x, h):
        return torch.tanh(h @ self.W.T)


def test_tensors_the_module_does_not_register_are_refused_when_converting():
    system = from_module(Unregistered(), initial_state=torch.zeros(1, H), input_size=0)
    with pytest.raises(OptionError, match="register them") as err:
        system.to(dtype=F64)
    assert "\n" not in str(err.value)


def test_a_dynalysis_network_is_a_module_system():
    from dynalysis.models import build_model

    net = build_model("wcrnn", input_size=D, hidden_size=4, output_size=1, seed=0)
    system = from_module(net)
    assert isinstance(system, dynalysis.ModuleSystem) and system.metadata["cell"] == "wcrnn"
    with pytest.raises(OptionError, match="readout do not apply"):
        from_module(net, readout=nn.Linear(4, 1))
    assert isinstance(from_module(make("gru")), TorchRNNSystem)


# --- CUDA (the device check runs these) -------------------------------------------------------------------
def cuda(test):
    """Marked ``cuda`` (run by benchmarks/device_check.py) and skipped without a GPU."""
    return pytest.mark.cuda(pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")(test))


@cuda
@pytest.mark.parametrize("kind", KINDS)
def test_a_cuda_float32_module_is_analysed_in_float64_on_the_gpu(kind):
    module = make(kind, num_layers=2, dtype=torch.float32).cuda()
    system = from_module(module, readout=nn.Linear(P if kind == "lstm_proj" else H, 2).cuda())
    check_system(system, device="cuda")
    x = torch.randn(2, 150, D, device="cuda")
    ds = dynalysis.lyapunov_spectrum(system, x, transient=10)
    cpu = make(kind, num_layers=2, dtype=torch.float32)
    cpu.load_state_dict({k: v.cpu() for k, v in module.state_dict().items()})
    ref = dynalysis.lyapunov_spectrum(from_module(cpu), x.cpu(), transient=10)
    np.testing.assert_allclose(ds.exponent.values, ref.exponent.values, rtol=0, atol=1e-8)
    assert next(module.parameters()).dtype == torch.float32 and next(module.parameters()).is_cuda
    out, _ = system.to(dtype=F64).run(x.double() if module.batch_first else x.double().transpose(0, 1))
    with torch.no_grad():
        ref_out, _ = module.double()(x.double())
    torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-10)
