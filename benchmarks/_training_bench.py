"""Training throughput: one forward + backward of N = 128 recurrent nets, batch 64, float32.

Every variant computes all hidden states ``(B, T, N)`` for inputs ``(B, T, 1)`` and
back-propagates ``states.sum()``. The reference is torch's fused ``nn.RNN`` (tanh) of the
same size. WCRNN variants (identity residual λ = 1, ε = 0.1):

* ``library WCRNN.sequence`` — the model as shipped (``dynalysis.models.wcrnn``);
* ``loop + drive[:, t]`` — the plain autograd loop the model had before: slicing the drive
  per step makes every step's backward allocate a full ``(B, T, N)`` gradient, O(T²);
* ``loop + unbind`` — the same loop over ``drive.unbind(1)`` (one gradient buffer);
* ``TorchScript loop`` — the same loop under ``torch.jit.script``, autograd through it;
* ``wcrnn_scan(backend=…)`` — `dynalysis.models._kernels.wcrnn_scan`: hand-written BPTT,
  Python or TorchScript loops;
* ``torch.compile`` (only with ``--with-compile``: minutes of compilation on this CPU).
"""
from __future__ import annotations

from typing import List

import torch
from torch import Tensor, nn

from dynalysis.models import build_model
from dynalysis.models._kernels import wcrnn_scan

from ._timing import Row, fastest, fmt_time, timed

SECTION = "Training"
N, BATCH = 128, 64


def loop_slice(drive: Tensor, h0: Tensor, W: Tensor, lam: float, eps: float) -> Tensor:
    h, Wt, states = h0, W.t(), []
    for t in range(drive.shape[1]):
        h = lam * h + eps * torch.tanh(torch.addmm(drive[:, t], h, Wt))
        states.append(h)
    return torch.stack(states, 1)


def loop_unbind(drive: Tensor, h0: Tensor, W: Tensor, lam: float, eps: float) -> Tensor:
    h, Wt, states = h0, W.t(), []
    for d in drive.unbind(1):
        h = lam * h + eps * torch.tanh(torch.addmm(d, h, Wt))
        states.append(h)
    return torch.stack(states, 1)


@torch.jit.script
def loop_script(drive: Tensor, h0: Tensor, W: Tensor, lam: float, eps: float) -> Tensor:
    h, Wt = h0, W.t()
    states: List[Tensor] = []
    for d in drive.unbind(1):
        h = lam * h + eps * torch.tanh(torch.addmm(d, h, Wt))
        states.append(h)
    return torch.stack(states, 1)


def variants(T: int, *, slow_ok: bool, with_compile: bool):
    """``{name: fn}``; each fn runs one forward + backward."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, T, 1, generator=g)
    rnn = nn.RNN(1, N, batch_first=True)
    wc = build_model("wcrnn", input_size=1, hidden_size=N, epsilon=0.1, seed=0)
    el = build_model("elman", input_size=1, hidden_size=N, seed=0)
    W, V, b, eps = wc.W, wc.V, wc.b, wc.epsilon
    h0 = torch.zeros(BATCH, N)

    def drive():
        return (x.transpose(0, 1) @ V.T + b).transpose(0, 1)  # time-major memory

    def run(fn):
        return lambda: fn().sum().backward()

    out = {
        "nn.RNN (fused, reference)": run(lambda: rnn(x)[0]),
        "Elman (library, fused nn.RNN)": run(lambda: el.sequence(x)),
        "WCRNN wcrnn_scan(script)": run(lambda: wcrnn_scan(drive(), h0, W, epsilon=eps, scale=1.0)),
        "WCRNN wcrnn_scan(python)": run(lambda: wcrnn_scan(drive(), h0, W, epsilon=eps, scale=1.0,
                                                         backend="python")),
        "WCRNN loop + unbind": run(lambda: loop_unbind(drive(), h0, W, 1.0, eps)),
        "WCRNN TorchScript loop": run(lambda: loop_script(drive(), h0, W, 1.0, eps)),
    }
    out["WCRNN library WCRNN.sequence"] = run(lambda: wc.sequence(x))
    if slow_ok:
        out["WCRNN loop + drive[:, t]"] = run(lambda: loop_slice(drive(), h0, W, 1.0, eps))
    if with_compile:
        compiled = torch.compile(loop_unbind)
        t_compile, _ = timed(lambda: compiled(drive(), h0, W, 1.0, eps).sum().backward())
        out["WCRNN torch.compile(loop)"] = run(lambda: compiled(drive(), h0, W, 1.0, eps))
        out["_compile_seconds"] = t_compile
    return out


def training(*, quick: bool, with_compile: bool) -> list[Row]:
    rows = []
    for T in ((64, 784) if not quick else (64,)):
        fns = variants(T, slow_ok=(T <= 64 or not quick), with_compile=with_compile and T == 64)
        t_compile = fns.pop("_compile_seconds", None)
        slow = {k: fns.pop(k) for k in list(fns) if "drive[:, t]" in k and T > 64}
        # 3 warm-up calls: TorchScript's profiling executor optimises after its first runs
        t = fastest(fns, repeats=3 if quick else 5, warmup=3)
        for name, fn in slow.items():  # O(T²) today: one timed run is enough
            t[name] = timed(fn)[0]
        ref = t["nn.RNN (fused, reference)"]
        for name, sec in t.items():
            if name.startswith("nn.RNN"):
                continue
            ratio = sec / ref
            is_target = name in ("WCRNN library WCRNN.sequence", "Elman (library, fused nn.RNN)")
            note = ""
            if name == "WCRNN torch.compile(loop)":
                note = f"compile time {fmt_time(t_compile)}"
            if name == "WCRNN loop + drive[:, t]":
                note = "per-step slicing: O(T²) gradient traffic (one run at T > 64)"
            if name == "WCRNN library WCRNN.sequence":
                note = "the model as shipped: wcrnn_scan for linear residuals"
            rows.append(Row(SECTION, f"{name}, T={T}", f"nn.RNN {fmt_time(ref)}", fmt_time(sec),
                            ratio, "≤ 1.5× nn.RNN" if is_target else "info",
                            (ratio <= 1.5) if is_target else None,
                            note or "ratio = time / nn.RNN time (lower is better)"))
    return rows

