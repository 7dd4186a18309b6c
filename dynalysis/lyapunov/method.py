"""``method="auto"`` of `dynalysis.lyapunov_spectrum`: the faster way to get ``J_t Q``, by a
deterministic cost model (counted, not timed), and where it cannot tell the two paths apart,
a short probe that times them (once per system and run shape in a process, so a system
keeps its path from call to call; the two paths' spectra agree to round-off).

The two paths (`dynalysis.lyapunov.qr`):

* ``"tangent"``: one ``system.tangent_step(h, x, Q)`` per step;
* ``"jacobian"``: ``system.step`` per step, the Jacobians of a chunk of ``c`` steps in one
  batched ``system.jacobian`` call, then ``Z = J_t Q`` (one matrix product per step).

Each costs, per step, ``calls · o + flops / F``: ``o`` the overhead of one torch call, ``F`` the
flop rate of the matrix products, ``o_func`` the extra overhead (about 2 ms on this CPU) of one forward-mode
``torch.func`` (``vmap(jvp)``) call (`COST_CONSTANTS`, measured on the CPU; for CUDA, guesses
until a device check calibrates them). The calls and the matrix-product flops of ``step`` and
``tangent_step`` are *counted* once, on one trajectory, under a `TorchFunctionMode` (cheap,
and deterministic). With ``B`` trajectories, ``S`` states, ``k`` exponents, ``C`` the flops of
one step
(elementwise work is counted too, as the elements the other calls write, at a rate ``E``):

* **analytic J·Q** (our cells, ``nn.RNN/GRU/LSTM`` through `from_module`): tangent is
  ``n_tan`` calls and ``B·flops(J·Q_k)``; the Jacobian path ``n_step + 1`` calls, ``J`` from
  ``tangent_step`` on the identity (``B·flops(J·I)``, its calls amortised over the chunk) and
  ``2 S² k B`` for ``J Q``. Small cells whose J·Q takes many small operations (the LRU's
  complex arithmetic) are faster through the Jacobian; large ones always through J·Q.
* **automatic differentiation, S ≤ 64**: the default ``tangent_step`` already forms ``J`` by a
  reverse-mode pass per step (``3·n_step`` calls, ``3·S·C·B`` flops), so both paths do the
  same flops (the Jacobian path one more step, ``C·B``) and the chunked one takes fewer
  calls: ``"jacobian"`` where calls dominate; where flops do, the two are priced close and
  the probe decides (the chunk's ``c·B·S`` rows can fall out of cache).
* **automatic differentiation, S > 64**: tangent is one ``vmap(jvp)`` call (``o_func``, ``3·n_step``
  calls, ``(k + 1)·C·B`` flops); the Jacobian path spends ``S·C·B + 2 S² k B`` flops and one
  ``vmap(jvp)`` call per chunk.

**Probe.** The model prices calls and flops, not what a given CPU makes of them (cache
effects, the gated cells' many small products, the layout of the frame a QR returns): where
it prices the two paths within ``PROBE_MARGIN`` (60 %) of each other it is not trusted with
the choice, and a short probe times both on the run's shape (``B`` trajectories, ``k``
columns, the run's Jacobian chunk, the run's QR schedule, the given initial state and
inputs, repeated if shorter than the probe, or the system's initial state and a seeded
signal): one warm-up block of each, then ``PROBE_ROUNDS`` to ``PROBE_MAX_ROUNDS`` rounds of
blocks of ``m`` steps (``m`` the run's chunk, at most ``PROBE_MAX_STEPS``) in the order
tangent, jacobian, jacobian, tangent (a load that changes steadily over a round costs both
the same), each path carrying its state and frame on from block to block; the choice is the
median of the rounds' tangent / jacobian ratios. Time is CPU time of the process
(`time.process_time`) when torch runs on one CPU thread (other processes on a shared machine
disturb it far less than wall time), else wall time (`time.perf_counter`, after a device
synchronisation on CUDA). The probe runs only where its fewest rounds cost at most
``PROBE_SHARE`` (3 %) of the run's priced time, QRs every step included (more rounds while
the probe stays within that share of the run at the times it measures), and is not part of
the run's results; the reason then says ``probe`` and gives both measured times. Its choice
is kept per system object and run shape (trajectories, exponents, dtype, device, QR
schedule) for the process, so the same system takes the same path on every call (the same
bytes, call after call); across processes a close call may take either path, whose spectra
agree to round-off. ``method="tangent"`` or ``"jacobian"`` always bypasses the model and the
probe. Small reverse-mode states on a run too short to probe keep the rule (``"jacobian"``)
without stepping the map.

`benchmarks/_method_bench.py` times both paths and the choice side by side.
"""
from __future__ import annotations

import time
import weakref
from typing import NamedTuple

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from .qr import Frame, LogRAccumulator, jacobian_chunk, run_jacobian, run_tangent

__all__ = ["choose_method", "count_calls", "probe_paths", "COST_CONSTANTS", "REVERSE_MODE_MAX_STATE",
           "PROBE_MARGIN", "PROBE_SHARE", "PROBE_ROUNDS", "PROBE_MAX_ROUNDS", "Probe"]

REVERSE_MODE_MAX_STATE = 64  # the default tangent_step's reverse-mode full J (system._base)
#: per device type: o (s per torch call), o_func (s per vmap(jvp) call), F (flop/s of products),
#: E (elements/s of elementwise work)
#: CPU: fitted to benchmarks/_method_bench.py (process time, one thread): a vmap(jvp) call costs
#: ~2 ms (an ESN of 100 units, 4 trajectories: tangent 3.7 ms/step, chunked Jacobian 2.4 ms)
COST_CONSTANTS = {"cpu": (10e-6, 2e-3, 1e10, 2e9), "cuda": (20e-6, 3e-3, 1e13, 1e11)}

PROBE_MARGIN = 0.6  # priced within 60 % of each other: measure instead
PROBE_SHARE = 0.03  # ... when the probe costs at most this share of the run's time
PROBE_ROUNDS = 1  # fewest timed rounds (tangent, jacobian, jacobian, tangent), after a warm-up block each
PROBE_MAX_ROUNDS = 7  # most rounds, where PROBE_SHARE of the run pays for them
PROBE_MAX_STEPS = 32  # steps per timed block (the run's Jacobian chunk, at most this)
_PROBED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # system -> {shape: choice}

_F = torch.nn.functional
_PRODUCTS = {torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.Tensor.__rmatmul__,
             torch.mm, torch.Tensor.mm, torch.bmm, torch.Tensor.bmm, torch.addmm, torch.baddbmm,
             _F.linear}


class _Count(TorchFunctionMode):
    """Counts torch calls and the flops of matrix products (``2 · out.numel() · inner``)."""

    def __init__(self):
        super().__init__()
        self.calls, self.flops, self.elements = 0, 0.0, 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = getattr(func, "__name__", "")
        if name in ("__get__", "__set__", "size", "dim", "__len__", "shape", "dtype", "device"):
            return out
        self.calls += 1
        if func in _PRODUCTS and isinstance(out, torch.Tensor):
            if func is torch.Tensor.__rmatmul__:
                inner = args[1].shape[-1]
            elif func in (torch.addmm, torch.baddbmm):
                inner = args[1].shape[-1]
            else:
                inner = args[0].shape[-1]
            self.flops += 2.0 * out.numel() * inner
        elif isinstance(out, torch.Tensor):
            self.elements += out.numel()
        return out


def count_calls(fn, *args) -> tuple[int, float, int]:
    """``(torch calls, matrix-product flops, elements written by the other calls)`` of
    ``fn(*args)``, counted, not timed."""
    with torch.no_grad(), _Count() as count:
        fn(*args)
    return count.calls, count.flops, count.elements


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def probe_paths(system, *, batch: int, n_exponents: int, steps: int, dtype, device,
                initial_state=None, inputs=None, reortho_every=1, run_steps: int | None = None,
                rounds: int | None = None) -> "Probe":
    """``(tangent, jacobian, rounds)``: seconds per step, measured on the engine's own loops
    (`dynalysis.lyapunov.qr.run_tangent`, `run_jacobian`: the Jacobians of a block in one
    chunk of ``steps``, at most the run's chunk) *with* their QRs on the run's schedule
    (``reortho_every``, and the QRs a run of ``run_steps`` steps must take where its trace
    and confidence blocks are sampled): the frame a QR returns changes what the next ``J·Q``
    costs (the WCRNN cell of 32 units: 40 % faster by tangent on a fixed frame, 3–14 %
    slower with its QRs).

    One warm-up block per path (the first block at a size also pays the allocator's first
    touch of its buffers), then ``rounds`` rounds (``None``: `PROBE_ROUNDS`, then more, up to
    `PROBE_MAX_ROUNDS`, while the whole probe stays within `PROBE_SHARE` of a run of
    ``run_steps`` steps at the times measured so far) of four blocks in the order tangent,
    jacobian, jacobian, tangent, so that a load that rises or falls steadily over a round
    costs both paths the same. Each path's blocks are one run, in pieces (its state, frame
    and QR schedule go on from block to block), so they time the run's steady state, not its
    first steps. Jacobian: the median of
    its blocks; tangent: that times the median of the rounds' tangent / jacobian ratios (so a
    burst of load that slows one round moves neither the ratio nor the choice
    `choose_method` makes from it)."""
    B, S, k, d = batch, system.state_size, n_exponents, system.input_size
    blocks = 1 + 2 * (PROBE_MAX_ROUNDS if rounds is None else rounds)  # per path, at most
    n_avg = max(run_steps or 0, blocks * steps)
    if initial_state is not None:
        h0 = initial_state.to(dtype=dtype, device=device).expand(B, S).contiguous()
    else:
        h0 = system.initial_state(B, dtype=dtype, device=device)
    if inputs is not None and inputs.shape[1] > 0:  # the run's inputs, repeated if too short
        x = inputs.repeat(1, -(-blocks * steps // inputs.shape[1]), 1)[:, :blocks * steps]
        x = x.to(dtype=dtype, device=device)
    else:
        g = torch.Generator().manual_seed(0)
        x = (0.1 * torch.randn(B, blocks * steps, d, generator=g, dtype=dtype)).to(device)
    g = torch.Generator().manual_seed(1)
    Q0 = torch.linalg.qr(torch.randn(B, S, k, generator=g, dtype=dtype))[0].to(device)
    run = {"tangent": run_tangent, "jacobian": run_jacobian}
    h = {name: h0 for name in run}
    # one frame per path for the whole probe, as in one run (its QR stops: the run's length)
    frame = {name: Frame(Q0, LogRAccumulator(B, k, n_avg, 64, dtype=dtype, device=device),
                         T=blocks * steps, transient=0, reortho_every=reortho_every) for name in run}
    taken = dict.fromkeys(run, 0)  # steps each path has taken
    clock = _clock(device)

    def timed(name):
        i = taken[name]
        _sync(device)
        t0 = clock()
        h[name] = run[name](system, h[name], x[:, i:i + steps], frame[name], None, done=i)
        _sync(device)
        taken[name] += steps
        return (clock() - t0) / steps

    with torch.no_grad():
        spent = (timed("tangent") + timed("jacobian")) * steps  # seconds, first touches included
        times = {"tangent": [], "jacobian": []}
        while len(times["tangent"]) < 2 * (PROBE_MAX_ROUNDS if rounds is None else rounds):
            for name in ("tangent", "jacobian", "jacobian", "tangent"):
                times[name].append(timed(name))
                spent += times[name][-1] * steps
            if rounds is None and len(times["tangent"]) >= 2 * PROBE_ROUNDS:  # more within the share
                t_tan, t_jac = (float(np.median(times[n])) for n in ("tangent", "jacobian"))
                if spent + 2 * steps * (t_tan + t_jac) > PROBE_SHARE * (run_steps or 0) * min(t_tan, t_jac):
                    break
    tan, jac = (np.asarray(times[n]).reshape(-1, 2) for n in ("tangent", "jacobian"))
    t_jac = float(np.median(jac))
    return Probe(float(np.median(tan.sum(1) / jac.sum(1))) * t_jac, t_jac, len(tan))


class Probe(NamedTuple):
    """What `probe_paths` measured: seconds per step of each path, and the rounds it took."""

    tangent: float
    jacobian: float
    rounds: int


def _clock(device):
    """The probe's clock: CPU time of the process where torch runs on one CPU thread (other
    processes on a shared machine disturb it far less than wall time), else wall time."""
    one_thread = torch.device(device).type == "cpu" and torch.get_num_threads() == 1
    return time.process_time if one_thread else time.perf_counter


def choose_method(system, *, batch: int, n_exponents: int, steps: int, dtype, device,
                  initial_state=None, inputs=None, reortho_every=1,
                  probe: bool = True) -> tuple[str, str]:
    """``(method, reason)``: the path ``method="auto"`` takes for this system and run shape.

    The cost model decides, except where it prices both paths within `PROBE_MARGIN` and a
    probe of `PROBE_ROUNDS` rounds costs at most `PROBE_SHARE` of the run, as priced
    (``probe=False``: the model always decides); then `probe_paths` times both, on
    ``initial_state`` and ``inputs`` where given, with the run's QR schedule
    ``reortho_every``, for as many rounds (up to `PROBE_MAX_ROUNDS`) as that share pays for
    at the times it measures."""
    S, k, B = system.state_size, n_exponents, batch
    reverse = not getattr(system, "analytic_tangent", False) and S <= REVERSE_MODE_MAX_STATE
    kind = torch.device(device).type if device is not None else "cpu"
    o, o_func, F, E = COST_CONSTANTS.get(kind, COST_CONSTANTS["cpu"])
    c = jacobian_chunk(B, S, steps)
    m = min(c, PROBE_MAX_STEPS)
    key = (B, k, str(dtype), str(torch.device(device) if device is not None else "cpu"), str(reortho_every))
    try:
        kept = _PROBED.setdefault(system, {})
    except TypeError:  # an unhashable or un-weak-referenceable system: nothing kept
        kept = {}
    if probe and key in kept:
        return kept[key]
    if reverse and (not probe or steps * PROBE_SHARE < 2 * (1 + 2 * PROBE_ROUNDS) * m):
        # too short a run to probe ((tangent + jacobian + 2 QRs) / (min + QR) >= 2): the model alone, which
        # prices the chunked path cheaper wherever calls matter, without stepping the map
        return "jacobian", (f"state size {S} <= {REVERSE_MODE_MAX_STATE} without an analytic J*Q: J "
                            "is formed by reverse mode either way; chunked over time it takes fewer calls")
    h = system.initial_state(1, dtype=dtype, device=device)
    x = torch.zeros(1, system.input_size, dtype=dtype, device=device)
    try:
        n_step, C, e_step = count_calls(system.step, h, x)
        if system.analytic_tangent:
            Qk = torch.eye(S, k, dtype=dtype, device=device)[None]
            n_tan, f_tan, e_tan = count_calls(system.tangent_step, h, x, Qk)
            n_eye, f_eye, e_eye = count_calls(system.tangent_step, h, x,
                                              torch.eye(S, dtype=dtype, device=device)[None])
            tangent = n_tan * o + B * (f_tan / F + e_tan / E)
            jacobian = ((n_step + 1) * o + n_eye * o / c
                        + B * ((f_eye + 2.0 * S * S * k) / F + (e_step + e_eye) / E))
        elif reverse:  # J by one reverse pass on B*S rows either way: per step, or per chunk
            flops = B * (3 * S * (C / F + e_step / E) + 2.0 * S * S * k / F)
            tangent = 3 * n_step * o + flops
            jacobian = (n_step + 1) * o + 3 * n_step * o / c + flops + B * (C / F + e_step / E)
        else:  # forward mode: every call of the step on k (or S) tangent columns as well
            tangent = o_func + 3 * n_step * o + B * (k + 1) * (C / F + e_step / E)
            jacobian = ((n_step + 1) * o + (o_func + 3 * n_step * o) / c
                        + B * ((S * C + 2.0 * S * S * k) / F + (S + 1) * e_step / E))
    except Exception:  # noqa: BLE001 - a map that resists counting keeps the former rule
        return ("tangent", "cost model unavailable (the step could not be counted): tangent")
    method = "jacobian" if jacobian < tangent else "tangent"
    priced = f"tangent {tangent * 1e3:.3g} ms/step, jacobian {jacobian * 1e3:.3g} ms/step"
    reason = f"cost model ({kind}): {priced} (counted calls and matrix-product flops)"
    if reverse:
        reason += (f"; state size {S} <= {REVERSE_MODE_MAX_STATE} without an analytic J*Q: J is formed "
                   "by reverse mode on either path")
    if not (probe and max(tangent, jacobian) <= (1 + PROBE_MARGIN) * min(tangent, jacobian)):
        return method, reason
    qr = B * 4.0 * S * k * k / F + 3 * o  # a probe block's QRs (priced every step): both paths
    # the fewest rounds (two blocks per path each, after a warm-up block per path), priced
    if (1 + 2 * PROBE_ROUNDS) * m * (tangent + jacobian + 2 * qr) > PROBE_SHARE * steps * (
            min(tangent, jacobian) + qr):
        return method, reason + f"; too short a run to probe ({steps} steps)"
    try:
        measured = probe_paths(system, batch=B, n_exponents=k, steps=m, dtype=dtype,
                               device=device, initial_state=initial_state, inputs=inputs,
                               reortho_every=reortho_every, run_steps=steps)
    except Exception:  # noqa: BLE001 - a probe that fails leaves the model's choice
        return method, reason + "; the probe failed, the model decides"
    t_tan, t_jac, rounds = measured
    kept[key] = ("jacobian" if t_jac < t_tan else "tangent",
                 f"probe ({kind}, {rounds} round{'s' * (rounds > 1)} of 2 blocks of {m} steps per path "
                 f"with the run's QRs, median of the rounds' ratios): tangent {t_tan * 1e3:.3g} ms/step, "
                 f"jacobian {t_jac * 1e3:.3g} ms/step measured; "
                 f"the cost model priced them within {PROBE_MARGIN:.0%} ({priced})")
    return kept[key]
