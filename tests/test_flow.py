"""FlowSystem: the integrator step of dh/dt = f(h, x) is a step map with the exact tangent of
the scheme, and analyses report rates per unit time (docs/science.md §6)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import dynalysis
from dynalysis import FlowSystem
from dynalysis.errors import DynalysisError, OptionError

SIGMA, RHO, BETA = 10.0, 28.0, 8.0 / 3.0
LORENZ_EXPONENTS = (0.9056, 0.0, -14.5723)  # docs/science.md §6
LORENZ_SUM = -(SIGMA + 1 + BETA)  # = tr ∂f, the same at every point


def lorenz(h, x):
    u, v, w = h.unbind(-1)
    return torch.stack([SIGMA * (v - u), u * (RHO - w) - v, u * v - BETA * w], -1)


def lorenz_tangent(h, x, Q):
    """∂f Q for the Lorenz field, written out."""
    u, v, w = (c[:, None] for c in h.unbind(-1))
    qu, qv, qw = Q.unbind(1)
    return torch.stack([SIGMA * (qv - qu), (RHO - w) * qu - qv - u * qw, v * qu + u * qv - BETA * qw], 1)


def taylor(M, order):
    """Σ_{k ≤ order} M^k / k! (the stability polynomial of Euler, order 1, and RK4, order 4)."""
    out, term = torch.eye(M.shape[-1], dtype=M.dtype), torch.eye(M.shape[-1], dtype=M.dtype)
    for k in range(1, order + 1):
        term = term @ M / k
        out = out + term
    return out


ORDER = {"euler": 1, "rk4": 4}


def linear_field(A, B=None):
    A = torch.as_tensor(A, dtype=torch.float64)
    if B is None:
        return lambda h, x: h @ A.T
    B = torch.as_tensor(B, dtype=torch.float64)
    return lambda h, x: h @ A.T + x @ B.T


def nonnormal_matrix(eigenvalues, seed=0):
    """``S diag(μ) S⁻¹`` with a random, far from orthogonal ``S``."""
    g = torch.Generator().manual_seed(seed)
    n = len(eigenvalues)
    S = torch.eye(n, dtype=torch.float64) + 0.8 * torch.randn(n, n, generator=g, dtype=torch.float64)
    return S @ torch.diag(torch.tensor(eigenvalues, dtype=torch.float64)) @ torch.linalg.inv(S)


# --- the step and its tangent ------------------------------------------------------------------
@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_step_of_a_linear_ode_is_the_stability_polynomial(method):
    """dh/dt = A h + B x with x held over the step: h' = P(dt A) h + dt Σ_k (dt A)^k/(k+1)! B x."""
    g = torch.Generator().manual_seed(0)
    A = torch.randn(4, 4, generator=g, dtype=torch.float64)
    B = torch.randn(4, 2, generator=g, dtype=torch.float64)
    dt = 0.1
    flow = FlowSystem(linear_field(A, B), 4, 2, dt=dt, method=method)
    h = torch.randn(3, 4, generator=g, dtype=torch.float64)
    x = torch.randn(3, 2, generator=g, dtype=torch.float64)
    M, k = dt * A, ORDER[method]
    # Σ_{j<k} M^j/(j+1)!  (the held input integrated by the same scheme)
    phi1 = sum(torch.linalg.matrix_power(M, j) / math.factorial(j + 1) for j in range(k))
    expected = h @ taylor(M, k).T + dt * x @ (phi1 @ B).T
    torch.testing.assert_close(flow.step(h, x), expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("method", ["euler", "rk4"])
@pytest.mark.parametrize("route", ["reverse", "jvp", "f_tangent"])
def test_tangent_step_is_the_exact_derivative_of_the_step(method, route):
    """Against torch.func.jacrev of the whole integrator step, for each way of getting ∂f·Q:
    a batched reverse-mode Jacobian (small states), JVPs (states > 64), the user's f_tangent."""
    g = torch.Generator().manual_seed(1)
    if route == "jvp":  # a 70-unit rate network: dh/dt = -h + tanh(W h + U x)
        n, d = 70, 2
        W = torch.randn(n, n, generator=g, dtype=torch.float64) * 1.5 / math.sqrt(n)
        U = torch.randn(n, d, generator=g, dtype=torch.float64)
        flow = FlowSystem(lambda h, x: -h + torch.tanh(h @ W.T + x @ U.T), n, d, dt=0.05, method=method)
        h = torch.randn(3, n, generator=g, dtype=torch.float64)
    else:
        n, d = 3, 0
        flow = FlowSystem(lorenz, 3, dt=0.01, method=method,
                          f_tangent=lorenz_tangent if route == "f_tangent" else None)
        h = torch.tensor([[1.0, 2.0, 20.0], [-5.0, -3.0, 25.0], [0.1, 0.2, 0.3]], dtype=torch.float64)
    x = torch.randn(h.shape[0], d, generator=g, dtype=torch.float64)
    Q = torch.randn(h.shape[0], n, 3, generator=g, dtype=torch.float64)
    nxt, JQ = flow.tangent_step(h, x, Q)
    J = torch.stack([torch.func.jacrev(lambda s: flow.step(s[None], x[b:b + 1])[0])(h[b])
                     for b in range(h.shape[0])])
    torch.testing.assert_close(nxt, flow.step(h, x), rtol=0, atol=0)
    torch.testing.assert_close(JQ, J @ Q, rtol=1e-11, atol=1e-11)
    torch.testing.assert_close(flow.jacobian(h, x), J, rtol=1e-11, atol=1e-11)


def test_vector_field_and_its_jacobian():
    h = torch.tensor([[1.0, 2.0, 20.0], [-5.0, -3.0, 25.0]], dtype=torch.float64)
    x = torch.zeros(2, 0, dtype=torch.float64)
    analytic = torch.stack([torch.tensor([[-SIGMA, SIGMA, 0.0], [RHO - w, -1.0, -u], [v, u, -BETA]],
                                         dtype=torch.float64) for u, v, w in h.tolist()])
    for f_tangent in (None, lorenz_tangent):
        flow = FlowSystem(lorenz, 3, dt=0.01, f_tangent=f_tangent)
        torch.testing.assert_close(flow.vector_field(h, x), lorenz(h, x), rtol=0, atol=0)
        torch.testing.assert_close(flow.vector_field_jacobian(h, x), analytic, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_equilibria_of_f_are_fixed_points_of_the_step_with_the_same_stability(method):
    """At f(h*) = 0 every stage vanishes, so Φ(h*) = h* and ∂Φ(h*) = P(dt ∂f(h*)) exactly;
    for small dt, Re λ(∂f) < 0 ⇔ |λ(∂Φ)| < 1 eigenvalue by eigenvalue (docs/science.md §6)."""
    dt = 0.01
    flow = FlowSystem(lorenz, 3, dt=dt, method=method)
    c = math.sqrt(BETA * (RHO - 1))
    equilibria = torch.tensor([[0.0, 0.0, 0.0], [c, c, RHO - 1], [-c, -c, RHO - 1]], dtype=torch.float64)
    x = torch.zeros(3, 0, dtype=torch.float64)
    assert flow.vector_field(equilibria, x).abs().max() < 1e-12
    torch.testing.assert_close(flow.step(equilibria, x), equilibria, rtol=0, atol=1e-12)
    Jf = flow.vector_field_jacobian(equilibria, x)
    JPhi = flow.jacobian(equilibria, x)
    for b in range(3):
        torch.testing.assert_close(JPhi[b], taylor(dt * Jf[b], ORDER[method]), rtol=1e-13, atol=1e-13)
        mu = torch.linalg.eigvals(Jf[b])
        mu = mu[torch.argsort(mu.real)]
        lam = torch.linalg.eigvals(JPhi[b])
        lam = lam[torch.argsort(lam.abs())]
        assert ((mu.real < 0) == (lam.abs() < 1)).all()
    # the origin is a saddle (one unstable direction), C± are unstable foci for ρ = 28 > 24.74
    assert [int((torch.linalg.eigvals(J).real > 0).sum()) for J in Jf] == [1, 2, 2]


# --- exponents per unit time -----------------------------------------------------------------
@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_linear_flow_exponents_are_re_eig_per_unit_time(method):
    """dh/dt = A h, A non-normal with eigenvalues μ: the step's exponents are exactly
    ln|P(dt μ)|/dt (per unit time, units 1/<time_unit>) and → Re μ as dt → 0."""
    mu = np.array([0.3, -0.5, -1.2])
    A, dt = nonnormal_matrix(mu.tolist()), 0.05
    flow = FlowSystem(linear_field(A), 3, dt=dt, method=method, time_unit="ms")
    ds = dynalysis.lyapunov_spectrum(flow, dynalysis.zero_inputs(flow, 2, 1200), transient=600,
                                     initial_state=torch.ones(3))
    z = dt * mu
    if method == "euler":
        discrete = np.log(np.abs(1 + z)) / dt
    else:
        discrete = np.log(np.abs(1 + z + z ** 2 / 2 + z ** 3 / 6 + z ** 4 / 24)) / dt
    # exact up to the frame's alignment: after 30 ms of transient its error is e^{-0.7·30} ≈ 1e-9
    # (0.7/ms the smallest gap between exponents), averaged over 30 ms more: ~1e-11
    np.testing.assert_allclose(ds.exponent.values, discrete, rtol=0, atol=1e-9)
    # the scheme's own bias: ln|1 + z| − z ≈ −z²/2 (Euler), ln|P(z)| − z ≈ −z⁵/120 (RK4)
    bias = {"euler": z ** 2 / 2, "rk4": np.abs(z) ** 5 / 120}[method] / dt
    assert (np.abs(ds.exponent.values - mu) <= 1.1 * bias + 1e-9).all()
    assert ds.exponent.attrs["units"] == "1/ms" and ds.exponent_sum.attrs["units"] == "1/ms"
    assert ds.attrs["time_step"] == dt and ds.attrs["time_unit"] == "ms"
    assert ds.step.attrs["units"] == "ms"
    np.testing.assert_allclose(ds.step.values[-1], (1200 - 600) * dt)  # durations: steps × dt


def test_large_flows_run_on_forward_mode_tangents():
    """A 70-dimensional linear flow (state > 64: ∂f·Q by JVPs, never a Jacobian), leading
    three exponents of the non-normal A = S diag(μ) S⁻¹ exactly as ln|P(dt μ)|/dt."""
    mu = np.concatenate([[0.0, -0.5, -1.0], -2.0 - 0.01 * np.arange(67)])
    A, dt = nonnormal_matrix(mu.tolist(), seed=3), 0.1
    flow = FlowSystem(linear_field(A), 70, dt=dt)
    # method="tangent" on purpose: "auto"'s cost model takes the chunked Jacobian here (one
    # trajectory, 70 states: J is cheap), and this test is about the forward-mode path
    ds = dynalysis.lyapunov_spectrum(flow, dynalysis.zero_inputs(flow, 1, 800), transient=500,
                                     n_exponents=3, initial_state=torch.ones(70), method="tangent")
    assert ds.attrs["options"].count('"method": "tangent"') == 1
    z = dt * mu[:3]
    discrete = np.log(np.abs(1 + z + z ** 2 / 2 + z ** 3 / 6 + z ** 4 / 24)) / dt
    np.testing.assert_allclose(ds.exponent.values, discrete, rtol=0, atol=1e-9)  # frame aligned to e^{-0.5·50} ≈ 1e-11


def test_linear_flow_with_a_rotation_keeps_the_trace_as_its_sum():
    """A complex pair (the frame rotates inside its plane): the exponent sum is exactly
    ln|det P(dt A)|/dt, and each of the pair converges to Re μ."""
    A = torch.tensor([[-0.1, 2.0, 0.0], [-2.0, -0.1, 0.5], [0.0, 0.0, -1.0]], dtype=torch.float64)
    dt = 0.01
    flow = FlowSystem(linear_field(A), 3, dt=dt)
    ds = dynalysis.lyapunov_spectrum(flow, dynalysis.zero_inputs(flow, 1, 20000), transient=500,
                                     initial_state=torch.ones(3))
    exact_sum = math.log(abs(torch.linalg.det(taylor(dt * A, 4)).item())) / dt
    assert float(ds.exponent_sum) == pytest.approx(exact_sum, abs=1e-9)
    assert exact_sum == pytest.approx(-1.2, abs=1e-7)  # tr A, to the O(dt⁴) of RK4
    # the pair: a bounded oscillation of ln R_ii, averaged over 195 time units
    np.testing.assert_allclose(ds.exponent.values, [-0.1, -0.1, -1.0], atol=5e-3)


def _lorenz_spectrum(dt, n_trajectories, duration, seed=0):
    flow = FlowSystem(lorenz, 3, dt=dt, name="Lorenz")
    g = torch.Generator().manual_seed(seed)
    h0 = torch.tensor([1.0, 1.0, 20.0], dtype=torch.float64) + torch.randn(
        n_trajectories, 3, generator=g, dtype=torch.float64)
    inputs = dynalysis.zero_inputs(flow, n_trajectories, int(round(duration / dt)))
    return dynalysis.lyapunov_spectrum(flow, inputs, initial_state=h0, transient=int(round(10 / dt)))


def test_lorenz_spectrum_per_unit_time():
    """RK4, dt = 0.01, 32 trajectories × 200 time units: measured (0.9095, −0.0008, −14.5752)
    with standard errors of the mean (0.0021, 0.0008, 0.0018); the tolerance 0.01 is about 5 of
    them. The sum is −(σ + 1 + β) up to the integrator only
    (ln det ∂Φ = dt·tr ∂f + O(dt⁵) per step): measured 1.0e-4 here (6e-6 at dt = 0.005, the
    ratio 2⁴ of a fourth-order scheme), asserted to 3e-4."""
    ds = _lorenz_spectrum(0.01, 32, 200.0)
    np.testing.assert_allclose(ds.exponent.values, LORENZ_EXPONENTS, atol=0.01)
    assert float(ds.exponent_sum) == pytest.approx(LORENZ_SUM, abs=3e-4)
    assert ds.exponent.attrs["units"] == "1/time" and ds.attrs["time_step"] == 0.01
    assert 1.9 < float(ds.kaplan_yorke_dimension) < 2.1  # 2.06 for the Lorenz attractor
    assert int(ds.diverged.sum()) == 0


@pytest.mark.slow
def test_lorenz_spectrum_long_run():
    """dt = 0.005, 64 trajectories × 600 time units: measured (0.90536, 0.00001, −14.57203) with
    standard errors (0.0009, 0.0002, 0.0008), so 0.004; the integrator's error on the sum is
    6.2e-6 (fourth order: 1.0e-4 at twice the step), asserted to 2e-5."""
    ds = _lorenz_spectrum(0.005, 64, 600.0, seed=1)
    np.testing.assert_allclose(ds.exponent.values, LORENZ_EXPONENTS, atol=0.004)
    assert float(ds.exponent_sum) == pytest.approx(LORENZ_SUM, abs=2e-5)


# --- options and dtypes ------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,match", [
    ({"dt": 0.0}, "dt"), ({"dt": -0.1}, "dt"), ({"dt": float("nan")}, "dt"), ({"dt": True}, "dt"),
    ({"dt": 0.1, "method": "rk45"}, "method"), ({"dt": 0.1, "time_unit": "step"}, "time_unit"),
    ({"dt": 0.1, "time_unit": ""}, "time_unit"), ({"dt": 0.1, "f_tangent": 3}, "f_tangent"),
])
def test_invalid_options_raise_one_line_option_errors(kwargs, match):
    with pytest.raises(OptionError, match=match) as err:
        FlowSystem(lorenz, 3, **kwargs)
    assert "\n" not in str(err.value)


def test_f_must_be_callable_and_sizes_valid():
    with pytest.raises(OptionError, match="f must be callable"):
        FlowSystem("lorenz", 3, dt=0.1)
    with pytest.raises(OptionError, match="state_size"):
        FlowSystem(lorenz, 0, dt=0.1)


def test_a_field_that_cannot_run_in_the_analysis_dtype_fails_before_any_work():
    W = torch.eye(3)  # float32, captured by the closure
    flow = FlowSystem(lambda h, x: h @ W, 3, dt=0.1, name="float32 field")
    with pytest.raises(DynalysisError, match="float32 field.*does not run in torch.float64") as err:
        dynalysis.lyapunov_spectrum(flow, dynalysis.zero_inputs(flow, 1, 200))
    assert "\n" not in str(err.value)
    assert flow.to(dtype=torch.float32) is flow  # runs there: nothing to convert
    ds = dynalysis.lyapunov_spectrum(flow, dynalysis.zero_inputs(flow, 1, 50, dtype=torch.float32),
                                     dtype=torch.float32, transient=10)
    np.testing.assert_allclose(ds.exponent.values, [1.0, 1.0, 1.0], atol=1e-5)  # dh/dt = h


def test_readout_initial_state_and_metadata():
    flow = FlowSystem(lorenz, 3, dt=0.01, readout=lambda h: h[:, :1] * 2,
                      initial_state=lambda b: torch.tensor([[1.0, 1.0, 20.0]]).expand(b, -1))
    assert flow.output_size == 1 and flow.has_readout
    h0 = flow.initial_state(2)
    assert h0.dtype == torch.float64 and h0.shape == (2, 3)  # the system's dtype, whatever the callable returns
    torch.testing.assert_close(flow.readout(h0), 2 * h0[:, :1])
    assert flow.metadata == {"system": "FlowSystem", "name": "lorenz", "state_size": 3,
                             "input_size": 0, "dt": 0.01, "method": "rk4", "time_unit": "time"}
    assert FlowSystem(lorenz, 3, dt=0.1).initial_state(1).dtype == torch.float64
    assert "dt=0.01" in repr(flow)
