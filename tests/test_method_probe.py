"""The probe of ``method="auto"`` (`dynalysis.lyapunov.method.probe_paths`) on a virtual clock:
each path's cost per step is set by construction and the clock advances only by those
costs, so what the probe decides is determined, not timed. The probe must time what the run
does (its QRs on the run's schedule, the run's state), and a load that changes while it
measures must not decide for it.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import dynalysis
from dynalysis.lyapunov import method

F64 = torch.float64


class _Virtual(dynalysis.System):
    """``h <- tanh(W h)`` with an analytic J·Q whose steps advance a virtual clock: ``tangent``
    per `tangent_step`, ``step`` per `step` and ``jacobian`` per Jacobian formed (the
    Jacobian path pays ``step + jacobian`` per step), each multiplied by the machine's load
    ``1 + drift · (steps taken so far)``."""

    analytic_tangent = True

    def __init__(self, *, tangent, step, jacobian, drift=0.0, S=6):
        self.state_size, self.input_size, self.metadata = S, 0, {}
        self.cost = {"tangent": tangent, "step": step, "jacobian": jacobian}
        self.drift, self.now, self.steps = drift, 0.0, 0
        self.W = torch.randn(S, S, generator=torch.Generator().manual_seed(3), dtype=F64) * 0.4

    def _spend(self, what, n=1):
        # the load rises with the steps taken; a chunk's Jacobians at its steps' mean load
        at = self.steps - (n + 1) / 2 if what == "jacobian" else self.steps
        self.now += n * self.cost[what] * (1.0 + self.drift * at)
        self.steps += what != "jacobian"

    def step(self, h, x):
        self._spend("step")
        return torch.tanh(h @ self.W.T)

    def tangent_step(self, h, x, Q):
        self._spend("tangent")
        nxt = torch.tanh(h @ self.W.T)
        return nxt, (1 - nxt ** 2)[:, :, None] * (self.W @ Q)

    def jacobian(self, h, x):
        self._spend("jacobian", h.shape[0] // self._batch)
        return (1 - torch.tanh(h @ self.W.T) ** 2)[:, :, None] * self.W


@pytest.fixture
def virtual(monkeypatch):
    """A factory of `_Virtual` systems whose clock the probe reads."""
    made = []

    def make(batch=2, **costs):
        system = _Virtual(**costs)
        system._batch = batch
        made.append(system)
        return system

    monkeypatch.setattr(method, "_clock", lambda device: (lambda: made[-1].now))
    return make


def _probe(system, batch=2, **kw):
    return method.probe_paths(system, batch=batch, n_exponents=6, steps=16, dtype=F64, device="cpu", **kw)


def test_the_probe_measures_each_path_at_its_cost_per_step(virtual):
    t_tan, t_jac, _ = _probe(virtual(tangent=3.0, step=1.0, jacobian=0.5), rounds=3)
    assert t_tan == pytest.approx(3.0) and t_jac == pytest.approx(1.5)


def test_a_steadily_rising_load_does_not_decide_for_the_probe(virtual):
    """Tangent 15 % slower by construction, on a machine whose load doubles every 50 steps:
    timing the paths in a fixed order (tangent first) and keeping each one's fastest block
    picked tangent; rounds of tangent, jacobian, jacobian, tangent cost both the same load."""
    t_tan, t_jac, _ = _probe(virtual(tangent=1.15, step=0.5, jacobian=0.5, drift=0.02), rounds=1)
    assert t_tan / t_jac == pytest.approx(1.15, rel=0.02)
    t_tan, t_jac, _ = _probe(virtual(tangent=1.15, step=0.5, jacobian=0.5, drift=0.02), rounds=4)
    assert t_tan > t_jac


def test_one_burst_of_load_does_not_decide_for_the_probe(virtual, monkeypatch):
    """Tangent 10 % faster; one of five rounds hit by a burst on its tangent blocks only."""
    system = virtual(tangent=1.0, step=0.6, jacobian=0.5)
    spend = system._spend
    rounds_seen = []

    def bursty(what, n=1):
        if what == "tangent" and system.steps // (4 * 16) == 3:  # the blocks of one round
            system.cost["tangent"] = 5.0
            rounds_seen.append(1)
        else:
            system.cost["tangent"] = 1.0
        spend(what, n)

    monkeypatch.setattr(system, "_spend", bursty)
    t_tan, t_jac, _ = _probe(system, rounds=5)
    assert rounds_seen and t_tan < t_jac


def test_the_probe_takes_the_runs_qrs_on_the_runs_schedule(virtual, monkeypatch):
    """The QRs are part of each path's cost (the frame a QR returns changes what the next J·Q
    costs), so the probe times the engine's loops with them: one per step at
    ``reortho_every=1``, fewer at 4."""
    qrs = []
    real_qr = torch.linalg.qr

    def counted(*a, **k):
        qrs.append(1)
        return real_qr(*a, **k)

    monkeypatch.setattr(torch.linalg, "qr", counted)
    _probe(virtual(tangent=1.0, step=0.5, jacobian=0.5), rounds=2, reortho_every=1, run_steps=10**4)
    every_step = len(qrs)
    qrs.clear()
    _probe(virtual(tangent=1.0, step=0.5, jacobian=0.5), rounds=2, reortho_every=4, run_steps=10**4)
    # 2 paths x (1 warm-up + 2 rounds x 2) blocks x 16 steps, plus the initial frame's QR
    assert every_step == 2 * 5 * 16 + 1 and len(qrs) == 2 * 5 * 16 // 4 + 1


def test_the_probe_carries_each_paths_state_on_from_block_to_block():
    """The blocks time the run's steady state: each path's next block starts where its last
    one ended (a map that counts its calls from the given initial state sees one long run)."""
    seen = {"tangent": [], "jacobian": []}

    class Counting(dynalysis.System):
        analytic_tangent = True
        state_size, input_size, metadata = 2, 0, {}

        def step(self, h, x):
            seen["jacobian"].append(float(h[0, 0]))
            return h + 1.0

        def tangent_step(self, h, x, Q):
            seen["tangent"].append(float(h[0, 0]))
            return h + 1.0, Q

        def jacobian(self, h, x):
            return torch.eye(2, dtype=h.dtype).expand(h.shape[0], 2, 2)

    method.probe_paths(Counting(), batch=1, n_exponents=2, steps=8, dtype=F64, device="cpu",
                       initial_state=torch.zeros(2, dtype=F64), rounds=2)
    for name in seen:
        np.testing.assert_array_equal(seen[name], np.arange(5 * 8))


def test_the_probe_takes_as_many_rounds_as_a_share_of_the_run_pays_for(virtual):
    """Rounds from the warm-up blocks' times: at least `PROBE_ROUNDS`, at most
    `PROBE_MAX_ROUNDS`, and in between a probe that costs at most `PROBE_SHARE` of the run."""
    costs = dict(tangent=1.0, step=0.6, jacobian=0.5)
    assert _probe(virtual(**costs), run_steps=100).rounds == method.PROBE_ROUNDS
    assert _probe(virtual(**costs), run_steps=10**9).rounds == method.PROBE_MAX_ROUNDS
    for run_steps in (6_000, 9_000, 12_000):
        system = virtual(**costs)
        probe = _probe(system, run_steps=run_steps)
        assert method.PROBE_ROUNDS < probe.rounds < method.PROBE_MAX_ROUNDS
        assert system.now <= method.PROBE_SHARE * run_steps * 1.0  # the run: >= 1 per step
        assert system.now > method.PROBE_SHARE * run_steps * 1.0 - 2 * 16 * 2.1  # ... one round less


def test_choose_method_probes_per_qr_schedule_and_says_how(monkeypatch):
    monkeypatch.setattr(method, "PROBE_MARGIN", 1e9)  # every system a close call
    schedules = []

    def fake(system, **kw):
        schedules.append(kw["reortho_every"])
        return method.Probe(1.0, 2.0, 4)

    monkeypatch.setattr(method, "probe_paths", fake)
    system = _Virtual(tangent=1.0, step=0.5, jacobian=0.5)
    opts = dict(batch=2, n_exponents=6, dtype=F64, device="cpu", reortho_every="auto")
    assert "too short a run to probe" in method.choose_method(system, steps=50, **opts)[1]
    chosen, reason = method.choose_method(system, steps=10**5, **opts)
    assert chosen == "tangent" and "4 rounds" in reason
    method.choose_method(system, steps=10**5, **opts)  # kept
    # the choice is kept per QR schedule: every step (the CLVs') is probed apart from "auto"
    method.choose_method(system, steps=10**5, **{**opts, "reortho_every": 1})
    assert schedules == ["auto", 1]


def test_the_probe_steps_on_the_runs_inputs_repeated_where_the_run_is_shorter():
    seen = []

    class Recording(dynalysis.System):
        analytic_tangent = True
        state_size, input_size, metadata = 1, 1, {}

        def step(self, h, x):
            return h

        def tangent_step(self, h, x, Q):
            seen.append(float(x[0, 0]))
            return h, Q

        def jacobian(self, h, x):
            return torch.ones(h.shape[0], 1, 1, dtype=h.dtype)

    inputs = torch.arange(5, dtype=F64).reshape(1, 5, 1)
    method.probe_paths(Recording(), batch=1, n_exponents=1, steps=4, dtype=F64, device="cpu",
                       inputs=inputs, rounds=1)
    np.testing.assert_array_equal(seen, np.arange(12) % 5)  # 3 tangent blocks of 4 steps
