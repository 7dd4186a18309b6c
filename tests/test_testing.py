"""`dynalysis.testing.check_system`: every shipped system passes it, and each broken system fails
it with a message naming the property it breaks."""
from __future__ import annotations

import pytest
import torch

import dynalysis
from dynalysis import MapSystem, ModuleSystem, System
from dynalysis.models import build_model
from dynalysis.testing import check_system, henon, linear_map, logistic, tanh_rnn

F64 = torch.float64

CELLS = [
    ("wcrnn", {"residual": "identity", "residual_scale": 0.9}),
    ("wcrnn", {"residual": "rotational", "frequencies": 0.7}),
    ("wcrnn", {"residual": "rotational", "train_residual": True}),
    ("wcrnn", {"residual": "heterogeneous"}),
    ("wcrnn", {"residual": "nonlinear", "residual_fn": "tanh"}),
    ("wcrnn", {"residual": "nonlinear", "residual_fn": "sin"}),
    ("wcrnn", {"residual": "nonlinear", "residual_fn": "softsign"}),
    ("elman", {"nonlinearity": "tanh"}),
    ("elman", {"nonlinearity": "relu"}),
    ("elman", {"nonlinearity": "elu"}),
    ("lstm", {}),
    ("gru", {}),
    ("linear", {}),
    ("linear", {"direct": True}),
]


@pytest.mark.parametrize("dtype", [F64, torch.float32])
@pytest.mark.parametrize("output_size", [0, 2])
@pytest.mark.parametrize("cell,options", CELLS, ids=[f"{c}-{o}" for c, o in CELLS])
def test_every_shipped_cell_passes(cell, options, output_size, dtype):
    if options.get("direct") and not output_size:
        pytest.skip("direct needs outputs")
    net = build_model(cell, input_size=2, hidden_size=5, output_size=output_size, seed=0, **options)
    check_system(ModuleSystem(net), dtype=dtype)


@pytest.mark.parametrize("dtype", [F64, torch.float32])
@pytest.mark.parametrize("make", [henon, logistic, lambda: linear_map(torch.randn(4, 4)),
                                  lambda: linear_map(torch.randn(3, 3), torch.randn(3, 2)),
                                  lambda: tanh_rnn(6, input_size=2), lambda: tanh_rnn(70, gain=1.5)],
                         ids=["henon", "logistic", "linear", "linear-driven", "tanh_rnn", "tanh_rnn-70"])
def test_every_reference_map_passes(make, dtype):
    check_system(make(), dtype=dtype)


def test_a_map_system_with_readout_matrix_and_initial_state_passes():
    W = 0.9 * torch.randn(4, 4, dtype=F64) / 2
    system = MapSystem(lambda h, x: torch.tanh(h @ W.T + x), 4, 4, readout=lambda h: h[:, :2],
                       initial_state=lambda b: torch.full((b, 4), 0.1, dtype=F64),
                       recurrent_matrix=W, name="rnn")
    check_system(system, batch=5)


def test_check_system_is_public():
    assert dynalysis.check_system is check_system


# --- broken systems fail, naming the property ------------------------------------------------------
class _Tanh(System):
    """``h ← tanh(W h)`` in float64, N = 3, with an analytic J·Q ``diag(tanh'(a)) W Q``."""

    state_size, input_size, analytic_tangent = 3, 0, True

    def __init__(self, W=None):
        self.W = 0.8 * torch.randn(3, 3, dtype=F64, generator=torch.Generator().manual_seed(0)) if W is None else W
        self.metadata = {}

    def step(self, h, x):
        return torch.tanh(h @ self.W.T)

    def tangent_step(self, h, x, Q):
        out = self.step(h, x)
        return out, (1 - out ** 2).unsqueeze(-1) * (self.W @ Q)

    def to(self, *, dtype=None, device=None):
        return type(self)(self.W.to(dtype=dtype or self.W.dtype, device=device))

    def _reference_tensor(self):
        return self.W


def test_the_correct_hand_written_system_passes():
    check_system(_Tanh())


class _WrongTangent(_Tanh):
    def tangent_step(self, h, x, Q):  # forgot tanh'(a)
        return self.step(h, x), self.W @ Q


class _IgnoresDtype(_Tanh):
    def to(self, *, dtype=None, device=None):
        return self


class _Float32Output(_Tanh):
    def step(self, h, x):
        return torch.tanh(h @ self.W.T).float()


class _DeclaresAMatrixItHasNot(_Tanh):
    has_recurrent_matrix = True
    recurrent_matrix_description = "W"


class _Noisy(_Tanh):
    analytic_tangent = False

    def step(self, h, x):
        return torch.tanh(h @ self.W.T) + 1e-3 * torch.randn_like(h)


def _undeclared_matrix():
    system = MapSystem(lambda h, x: h, 2, recurrent_matrix=torch.eye(2))
    system.has_recurrent_matrix = False  # the declaration contradicts the behaviour
    return system


BROKEN = {
    "wrong analytic tangent_step": (_WrongTangent,
                                    "tangent_step: the analytic tangent_step .* differs from automatic"),
    "step mixes batch rows": (lambda: MapSystem(lambda h, x: torch.tanh(h + h.mean(0)), 2, name="mixing"),
                              "batch independence: row b of a batched step differs"),
    "readout of the wrong width": (
        lambda: MapSystem(lambda h, x: torch.tanh(h), 3, readout=lambda h: h[:, :1], output_size=2),
        r"readout: returned shape \(3, 1\), expected \(3, 2\)"),
    "to(dtype) ignores the dtype": (lambda: _IgnoresDtype(_Tanh().W.float()),
                                    r"to\(dtype=torch.float64, device=cpu\) then initial_state: "
                                    "returned torch.float32, expected torch.float64"),
    "step returns another dtype": (_Float32Output,
                                   r"to\(dtype=torch.float64, device=cpu\): did not convert: step "
                                   "returns torch.float32"),
    "declared matrix missing": (_DeclaresAMatrixItHasNot,
                                "recurrent_matrix: has_recurrent_matrix is True but recurrent_matrix"
                                r"\(\) returned NoneType"),
    "matrix not declared": (_undeclared_matrix, r"recurrent_matrix: recurrent_matrix\(\) returns a "
                                                "matrix but has_recurrent_matrix is False"),
    "random step": (_Noisy, "step: two calls on the same state differ"),
    "step leaves torch": (lambda: MapSystem(lambda h, x: torch.tanh(h).detach(), 2, name="detached"),
                          "tangent_step: raised StepMapError: MapSystem 'detached': step_fn's output "
                          "does not depend on the state"),
    "J·Q wrong where autograd cannot see it": (
        lambda: MapSystem(lambda h, x: h * h[:, :1].detach(), 2, name="partly detached"),
        "tangent_step: J·Q differs from a central finite difference of step"),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_system_fails_naming_the_property(name):
    make, match = BROKEN[name]
    with pytest.raises(AssertionError, match=match) as err:
        check_system(make())
    assert str(err.value).startswith("check_system(") and "\n" not in str(err.value)


def test_the_finite_difference_check_uses_the_requested_tolerance():
    """The default tolerances pass a float64 tanh map; an absurdly tight one does not."""
    check_system(tanh_rnn(4))
    with pytest.raises(AssertionError, match="central finite difference"):
        check_system(tanh_rnn(4), atol=0, rtol=1e-14)


def test_states_can_be_given_for_maps_defined_on_part_of_the_space():
    log_map = MapSystem(lambda h, x: torch.log(h), 2, name="log")
    with pytest.raises(AssertionError, match="step: returned NaN or inf .* pass state="):
        check_system(log_map)  # random states include negative ones
    check_system(log_map, state=torch.rand(3, 2, dtype=F64) + 0.5)
