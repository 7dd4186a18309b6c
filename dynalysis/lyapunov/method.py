"""``method="auto"`` of `dynalysis.lyapunov_spectrum`: the faster way to get ``J_t Q``, by a
deterministic cost model (counted, not timed: the same system and options always take the
same path, so the same inputs still give the same bytes).

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
  reverse-mode pass per step, so both paths do the same flops and the chunked one takes
  fewer calls: ``"jacobian"``.
* **automatic differentiation, S > 64**: tangent is one ``vmap(jvp)`` call (``o_func``, ``3·n_step``
  calls, ``(k + 1)·C·B`` flops); the Jacobian path spends ``S·C·B + 2 S² k B`` flops and one
  ``vmap(jvp)`` call per chunk.

`benchmarks/_method_bench.py` times both paths and the choice side by side.
"""
from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode

from .qr import jacobian_chunk

__all__ = ["choose_method", "count_calls", "COST_CONSTANTS", "REVERSE_MODE_MAX_STATE"]

REVERSE_MODE_MAX_STATE = 64  # the default tangent_step's reverse-mode full J (system._base)
#: per device type: o (s per torch call), o_func (s per vmap(jvp) call), F (flop/s of products),
#: E (elements/s of elementwise work)
#: CPU: fitted to benchmarks/_method_bench.py (process time, one thread): a vmap(jvp) call costs
#: ~2 ms (an ESN of 100 units, 4 trajectories: tangent 3.7 ms/step, chunked Jacobian 2.4 ms)
COST_CONSTANTS = {"cpu": (10e-6, 2e-3, 1e10, 2e9), "cuda": (20e-6, 3e-3, 1e13, 1e11)}

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


def choose_method(system, *, batch: int, n_exponents: int, steps: int, dtype,
                  device) -> tuple[str, str]:
    """``(method, reason)``: the path ``method="auto"`` takes for this system and run shape."""
    S, k, B = system.state_size, n_exponents, batch
    if not getattr(system, "analytic_tangent", False) and S <= REVERSE_MODE_MAX_STATE:
        return "jacobian", (f"state size {S} <= {REVERSE_MODE_MAX_STATE} without an analytic J*Q: J "
                            "is formed by reverse mode either way; chunked over time it takes fewer calls")
    kind = torch.device(device).type if device is not None else "cpu"
    o, o_func, F, E = COST_CONSTANTS.get(kind, COST_CONSTANTS["cpu"])
    c = jacobian_chunk(B, S, steps)
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
        else:  # forward mode: every call of the step on k (or S) tangent columns as well
            tangent = o_func + 3 * n_step * o + B * (k + 1) * (C / F + e_step / E)
            jacobian = ((n_step + 1) * o + (o_func + 3 * n_step * o) / c
                        + B * ((S * C + 2.0 * S * S * k) / F + (S + 1) * e_step / E))
    except Exception:  # noqa: BLE001 - a map that resists counting keeps the former rule
        return ("tangent", "cost model unavailable (the step could not be counted): tangent")
    method = "jacobian" if jacobian < tangent else "tangent"
    return method, (f"cost model ({kind}): tangent {tangent * 1e3:.3g} ms/step, jacobian "
                    f"{jacobian * 1e3:.3g} ms/step (counted calls and matrix-product flops)")
