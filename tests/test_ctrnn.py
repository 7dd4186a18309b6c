"""The CTRNN as a flow: its step is the Euler step of its vector field, and its exponents per
unit time converge as dt → 0 (docs/science.md §6)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import dynalysis
from dynalysis import FlowSystem, ModuleSystem
from dynalysis.models import build_model


def ctrnn(n, dt, *, gain=2.0, input_size=0, nonlinearity="tanh", seed=0):
    return build_model("ctrnn", input_size=input_size, hidden_size=n, dt=dt, gain=gain,
                       nonlinearity=nonlinearity, seed=seed).double()


def as_flow(net):
    """The CTRNN's vector field as a FlowSystem (Euler, dt of the cell), with ∂f·Q written out:
    ∂f Q = (−Q + W (φ'(h) ⊙ Q)) / τ."""
    tau = net.options["tau"]

    def f_tangent(h, x, Q):
        return (torch.matmul(net.W, net._dphi(h).unsqueeze(-1) * Q) - Q) / tau

    return FlowSystem(net.vector_field, net.hidden_size, net.input_size, dt=net.time_step,
                      method="euler", time_unit=net.time_unit, f_tangent=f_tangent, name="ctrnn")


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "sigmoid", "softplus"])
def test_ctrnn_step_is_the_euler_step_of_its_vector_field(nonlinearity):
    net = build_model("ctrnn", input_size=2, hidden_size=5, tau=2.0, dt=0.3, nonlinearity=nonlinearity,
                      bias_init="uniform", seed=0).double()
    g = torch.Generator().manual_seed(0)
    h = torch.randn(3, 5, generator=g, dtype=torch.float64)
    x = torch.randn(3, 2, generator=g, dtype=torch.float64)
    phi = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid,
           "softplus": torch.nn.functional.softplus}[nonlinearity]
    f = (-h + phi(h) @ net.W.T + x @ net.U.T + net.b) / 2.0
    torch.testing.assert_close(net.vector_field(h, x), f, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(net.step(h, x), h + 0.3 * f, rtol=1e-14, atol=1e-14)
    flow = as_flow(net)
    Q = torch.randn(3, 5, 4, generator=g, dtype=torch.float64)
    nxt, JQ = flow.tangent_step(h, x, Q)
    ref_nxt, ref_JQ = net.tangent_step(h, x, Q)
    torch.testing.assert_close(nxt, ref_nxt, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(JQ, ref_JQ, rtol=1e-13, atol=1e-14)
    assert (net.time_step, net.time_unit) == (0.3, "time")


def _spectrum_per_unit_time(net, n_trajectories, duration, transient, n_exponents=None):
    flow = as_flow(net)
    h0 = torch.randn(n_trajectories, net.hidden_size, generator=torch.Generator().manual_seed(1),
                     dtype=torch.float64)
    steps = int(round(duration / net.time_step))
    ds = dynalysis.lyapunov_spectrum(flow, dynalysis.zero_inputs(flow, n_trajectories, steps),
                                     initial_state=h0, transient=int(round(transient / net.time_step)),
                                     n_exponents=n_exponents)
    assert ds.exponent.attrs["units"] == "1/time" and ds.attrs["time_step"] == net.time_step
    # the same map through the cell's own analytic J·Q: the same exponents per step
    per_step = dynalysis.lyapunov_spectrum(ModuleSystem(net), dynalysis.zero_inputs(flow, 2, 400),
                                           initial_state=h0[:2], transient=100, n_exponents=n_exponents)
    short = dynalysis.lyapunov_spectrum(flow, dynalysis.zero_inputs(flow, 2, 400), initial_state=h0[:2],
                                        transient=100, n_exponents=n_exponents)
    np.testing.assert_allclose(per_step.exponent.values * per_step.attrs.get("time_step", 1.0),
                               short.exponent.values * net.time_step, rtol=1e-9, atol=1e-12)
    return ds


def test_ctrnn_exponents_per_unit_time_do_not_depend_on_dt():
    """N = 16, g = 2 (this seed settles on a limit cycle: λ₁ = 0), 8 trajectories × 80 time
    units after 20 of transient, dt = 0.05 and 0.025. Per step the spectra differ by the factor
    2 of the steps; per unit time they agree up to Euler's O(dt) error: ln|1 + dt μ|/dt − μ ≈
    −dt μ²/2, a relative 1.25 %·|μ| between these steps (measured: at most 3.7 % for the most
    negative exponent, −2.6/τ; standard errors below 0.004)."""
    coarse = _spectrum_per_unit_time(ctrnn(16, 0.05), 8, 100.0, 20.0)
    fine = _spectrum_per_unit_time(ctrnn(16, 0.025), 8, 100.0, 20.0)
    a, b = coarse.exponent.values, fine.exponent.values
    np.testing.assert_allclose(a, b, rtol=0.05, atol=0.01)
    assert abs(a[0]) < 0.01 and abs(b[0]) < 0.01  # the limit cycle's neutral direction
    assert np.abs(a * 0.05 - b * 0.025).max() > 0.02  # per step they would not agree
    # Euler's bias, −dt μ²/2, is what separates them: halving dt halves it
    assert np.all(np.abs(a - b) <= 0.025 * b ** 2 / 2 * 1.5 + 0.01)


@pytest.mark.slow
def test_chaotic_ctrnn_exponents_per_unit_time_do_not_depend_on_dt():
    """N = 64, g = 3: chaotic. 32 trajectories × 200 time units; measured λ₁ = 0.117 and 0.111
    (standard errors 0.006) at dt = 0.05 and 0.025. The leading four exponents agree per unit
    time within 4 standard errors of the difference plus 0.01 for Euler's O(dt) bias, and λ₁
    is positive at both."""
    results = [_spectrum_per_unit_time(ctrnn(64, dt, gain=3.0), 32, 220.0, 20.0, n_exponents=4)
               for dt in (0.05, 0.025)]
    (a, sa), (b, sb) = [(r.exponent.values, r.exponent_std.values / np.sqrt(32)) for r in results]
    assert a[0] > 4 * sa[0] and b[0] > 4 * sb[0]
    assert np.all(np.abs(a - b) <= 4 * np.hypot(sa, sb) + 0.01)
