"""The step-map classes: declared capabilities, dtype conversion that converts or refuses in one
line, declared recurrent matrices, maps that leave torch, and modules left as they were."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import dynalysis
from dynalysis import MapSystem, ModuleSystem
from dynalysis.errors import DynalysisError, OptionError, StepMapError
from dynalysis.models import build_model
from dynalysis.testing import linear_map, tanh_rnn

F64 = torch.float64


def _rnn_weights(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 0.8 * torch.randn(n, n, generator=g, dtype=F64) / math.sqrt(n)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dynalysis.NumericalReliabilityWarning)
        return fn(*args, **kwargs)


# --- declared capabilities ---------------------------------------------------------------------
@pytest.mark.parametrize("cell,analytic,matrix,gates", [
    ("wcrnn", True, True, ()), ("elman", True, True, ("hidden",)), ("linear", True, True, ()),
    ("lstm", True, False, ("input", "forget", "cell", "output")),
    ("gru", True, False, ("reset", "update", "new"))])
def test_cells_declare_their_capabilities(cell, analytic, matrix, gates):
    net = build_model(cell, input_size=2, hidden_size=4, output_size=3, seed=0)
    system = ModuleSystem(net)
    assert (system.analytic_tangent, system.has_recurrent_matrix, system.has_readout) == (analytic, matrix, True)
    assert (system.recurrent_matrix() is not None) == matrix
    assert bool(system.recurrent_matrix_description) == matrix
    assert tuple(system.gate_matrices()) == gates
    without = ModuleSystem(build_model(cell, input_size=2, hidden_size=4, output_size=0, seed=0))
    assert not without.has_readout
    with pytest.raises(DynalysisError, match="no readout"):
        without.readout(torch.zeros(1, without.state_size))


def test_map_system_declares_what_it_was_given():
    plain = MapSystem(lambda h, x: torch.tanh(h), 3)
    assert not (plain.analytic_tangent or plain.has_recurrent_matrix or plain.has_readout)
    assert plain.recurrent_matrix() is None and plain.recurrent_matrix_description == ""
    W = _rnn_weights(3)
    full = MapSystem(lambda h, x: torch.tanh(h @ W.T), 3, readout=lambda h: h[:, :2],
                     recurrent_matrix=W, recurrent_matrix_description="W")
    assert full.has_recurrent_matrix and full.has_readout and full.output_size == 2
    assert full.recurrent_matrix_description == "W"


def test_module_system_refuses_other_modules_and_points_to_from_module():
    with pytest.raises(DynalysisError, match="from_module"):
        ModuleSystem(torch.nn.Linear(2, 2))


# --- the WCRNN's recurrent matrix is its linearisation R + εW ------------------------------------
@pytest.mark.parametrize("options", [
    {}, {"residual": "rotational", "frequencies": 0.4, "residual_scale": 0.95},
    {"residual": "heterogeneous", "scale_range": [0.5, 1.0]},
    {"residual": "nonlinear", "residual_scale": 0.8},
    {"residual": "nonlinear", "residual_fn": "sin", "residual_scale": 0.7},
    {"residual": "nonlinear", "residual_fn": "softsign"}])
def test_wcrnn_recurrent_matrix_is_the_jacobian_at_zero_preactivation(options):
    """J = ρ'(h) + ε diag(tanh'(a)) W; at h = 0, x = 0, b = 0 (a = 0) that is R + εW."""
    net = build_model("wcrnn", input_size=2, hidden_size=5, epsilon=0.3, seed=1, **options).double()
    system = ModuleSystem(net)
    J0 = system.jacobian(torch.zeros(1, 5, dtype=F64), torch.zeros(1, 2, dtype=F64))[0]
    torch.testing.assert_close(system.recurrent_matrix(), J0, rtol=0, atol=1e-15)
    torch.testing.assert_close(net.coupling_matrix(), net.W, rtol=0, atol=0)
    if net.R is not None:
        torch.testing.assert_close(system.recurrent_matrix(), net.R + 0.3 * net.W, rtol=0, atol=1e-15)
    assert "eps*W" in system.recurrent_matrix_description


def test_elman_and_linear_recurrent_matrices_are_their_jacobians_where_phi_prime_is_one():
    elman = build_model("elman", input_size=2, hidden_size=5, bias_init="zeros", seed=0).double()
    J0 = ModuleSystem(elman).jacobian(torch.zeros(1, 5, dtype=F64), torch.zeros(1, 2, dtype=F64))[0]
    torch.testing.assert_close(elman.recurrent_matrix(), J0, rtol=0, atol=1e-15)
    lin = build_model("linear", input_size=2, hidden_size=5, seed=0).double()
    h = torch.randn(2, 5, dtype=F64)
    J = ModuleSystem(lin).jacobian(h, torch.randn(2, 2, dtype=F64))
    torch.testing.assert_close(J, lin.recurrent_matrix().expand(2, 5, 5), rtol=0, atol=0)


# --- MapSystem.to: convert or refuse in one line -------------------------------------------------
def test_a_float32_closure_is_refused_before_any_step_with_the_fix():
    W = _rnn_weights().float()
    system = MapSystem(lambda h, x: torch.tanh(h @ W.T), 6, name="float32 closure")
    with pytest.raises(OptionError) as err:
        dynalysis.lyapunov_spectrum(system, dynalysis.zero_inputs(system, 1, 200))
    message = str(err.value)
    assert "\n" not in message and "'float32 closure'" in message and "float64" in message
    assert "parameters=" in message


def test_a_closure_that_returns_another_dtype_is_refused():
    W = _rnn_weights().float()
    system = MapSystem(lambda h, x: torch.tanh(h.float() @ W.T), 6, name="casts")
    with pytest.raises(OptionError, match="step_fn returns float32 on cpu for a float64 state"):
        system.to(dtype=F64)


def test_a_step_of_the_wrong_shape_is_a_step_map_error():
    with pytest.raises(StepMapError, match=r"shape \(batch, 3\).*returned \(1, 2\)"):
        MapSystem(lambda h, x: h[:, :2], 3).to(dtype=F64)


def test_parameters_are_converted_and_the_spectrum_is_exact():
    """A float32 diagonal map given as parameters runs in float64: λ_i = ln|a_i| exactly."""
    a = torch.tensor([0.5, -0.25, 0.9], dtype=torch.float32)
    system = MapSystem(lambda h, x, p: h * p["a"], 3, parameters={"a": a},
                       recurrent_matrix=lambda p: torch.diag(p["a"]))
    assert system.initial_state(2).dtype == torch.float32
    s64 = system.to(dtype=F64)
    assert s64.parameters["a"].dtype == F64 and s64.recurrent_matrix().dtype == F64
    assert system.parameters["a"].dtype == torch.float32  # the original is unchanged
    ds = dynalysis.lyapunov_spectrum(system, dynalysis.zero_inputs(system, 1, 300), transient=10)
    expected = np.sort(np.log(np.abs(a.double().numpy())))[::-1]
    np.testing.assert_allclose(ds.exponent.values, expected, atol=1e-12)


def test_reference_maps_follow_the_requested_dtype():
    for system in (tanh_rnn(5, input_size=2), linear_map(np.diag([0.5, 2.0]), np.ones((2, 1)))):
        s32 = system.to(dtype=torch.float32)
        h = s32.initial_state(2)
        out = s32.step(h, torch.zeros(2, system.input_size))
        assert h.dtype == out.dtype == s32.recurrent_matrix().dtype == torch.float32


# --- MapSystem(recurrent_matrix=...) -----------------------------------------------------------
@pytest.mark.parametrize("form", ["tensor", "array", "callable", "parameters"])
def test_a_hand_written_rnn_declares_its_matrix_and_nonnormality_works(form):
    W = _rnn_weights()
    given = {"tensor": W, "array": W.numpy(), "callable": lambda: W, "parameters": lambda p: p["W"]}[form]
    if form == "parameters":
        system = MapSystem(lambda h, x, p: torch.tanh(h @ p["W"].T), 6, parameters={"W": W},
                           recurrent_matrix=given)
    else:
        system = MapSystem(lambda h, x: torch.tanh(h @ W.T), 6, recurrent_matrix=given)
    ds = _quiet(dynalysis.nonnormality, system)
    ref = _quiet(dynalysis.nonnormality, W.numpy())
    for name in ("henrici", "spectral_radius", "spectral_norm", "numerical_abscissa"):
        assert float(ds[name]) == pytest.approx(float(ref[name]), abs=1e-12)
    jac = dynalysis.jacobian_eigenvalues(system, torch.zeros(1, 20, 0), every=10)
    assert jac.attrs["has_recurrent_matrix"] == 1
    np.testing.assert_allclose(np.abs(jac.recurrent_eigenvalue.values),
                               np.sort(np.abs(np.linalg.eigvals(W.numpy())))[::-1], atol=1e-12)


def test_a_recurrent_matrix_of_the_wrong_shape_is_an_option_error():
    with pytest.raises(OptionError, match=r"\(3, 3\).*got shape \(2, 3\)"):
        MapSystem(lambda h, x: h, 3, recurrent_matrix=np.ones((2, 3)))


# --- a step that leaves torch: one clear line, never λ = −∞ ---------------------------------------
def _leaves_torch(kind, n):
    W = _rnn_weights(n).numpy()
    if kind == "numpy":
        return MapSystem(lambda h, x: torch.as_tensor(np.tanh(h.numpy() @ W.T)), n, name=kind)
    if kind == "numpy after detach":
        return MapSystem(lambda h, x: torch.as_tensor(np.tanh(h.detach().numpy() @ W.T)), n, name=kind)
    Wt = torch.as_tensor(W)
    return MapSystem(lambda h, x: torch.tanh(h @ Wt.T).detach(), n, name=kind)


@pytest.mark.parametrize("n", [6, 70])  # reverse-mode J (S <= 64) and forward-mode J·Q
@pytest.mark.parametrize("kind", ["numpy", "numpy after detach", "detach"])
def test_a_step_that_leaves_torch_is_refused_by_every_jacobian_analysis(kind, n):
    system = _leaves_torch(kind, n)
    x = dynalysis.zero_inputs(system, 1, 150)
    analyses = [lambda: dynalysis.lyapunov_spectrum(system, x, transient=10, n_exponents=2),
                lambda: dynalysis.jacobian_eigenvalues(system, x, every=50)]
    if n < 64:
        analyses.append(lambda: dynalysis.find_fixed_points(system, x, transient=10))
    for run in analyses:
        with pytest.raises(StepMapError, match=r"does not depend on the state through torch "
                                               r"operations \(numpy or \.detach\(\) inside\?\)"):
            run()


def test_a_map_that_uses_weights_but_detaches_the_state_is_refused():
    """Outputs that need gradients (through trainable weights) but not through the state."""
    W = torch.nn.Parameter(_rnn_weights(4))
    system = MapSystem(lambda h, x: torch.tanh(h.detach() @ W.T), 4)
    with pytest.raises(StepMapError, match="does not depend on the state"):
        system.jacobian(torch.zeros(1, 4, dtype=F64), torch.zeros(1, 0, dtype=F64))


def test_a_relu_map_with_every_unit_off_has_a_zero_jacobian_not_an_error():
    """J = 0 is legitimate where the state is reached through torch (dead ReLUs)."""
    system = MapSystem(lambda h, x: torch.relu(h - 10.0), 3)
    J = system.jacobian(torch.zeros(2, 3, dtype=F64), torch.zeros(2, 0, dtype=F64))
    assert torch.equal(J, torch.zeros(2, 3, 3, dtype=F64))


# --- ModuleSystem never modifies the user's module ---------------------------------------------
@pytest.mark.parametrize("cell,dtype", [("wcrnn", torch.float32), ("elman", F64), ("lstm", torch.float32),
                                        ("linear", F64)])
def test_analyses_leave_the_module_as_it_was(cell, dtype):
    net = build_model(cell, input_size=2, hidden_size=4, output_size=2, seed=0).to(dtype).train()
    before = {k: v.detach().clone() for k, v in net.state_dict().items()}
    system = ModuleSystem(net)
    x = torch.randn(2, 120, 2, generator=torch.Generator().manual_seed(0))
    dynalysis.lyapunov_spectrum(system, x, transient=10)
    dynalysis.jacobian_eigenvalues(system, x, every=40)
    dynalysis.find_fixed_points(system, x, transient=10)
    dynalysis.memory_kernel(system, x, max_lag=5)
    if system.has_recurrent_matrix:
        _quiet(dynalysis.nonnormality, system, motif_steps=5)
    assert net.training
    assert all(p.requires_grad and p.grad is None for p in net.parameters())
    assert all(v.dtype == dtype for v in net.state_dict().values() if v.is_floating_point())
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_to_works_on_a_frozen_copy_and_same_dtype_uses_the_module_itself():
    net = build_model("elman", input_size=2, hidden_size=4, seed=0)
    system = ModuleSystem(net)
    s64 = system.to(dtype=F64)
    assert s64.net is not net and not any(p.requires_grad for p in s64.net.parameters())
    assert all(p.requires_grad and p.dtype == torch.float32 for p in net.parameters())
    assert system.to(dtype=torch.float32) is system
