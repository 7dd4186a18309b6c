"""``method="auto"`` against each way of getting ``J·Q``: generic maps, adapters, every cell.

For each system the three settings (``auto``, ``tangent``, ``jacobian``) run interleaved in
one process, on windows of ``w₁`` and ``w₂`` steps, timed in CPU time of the process
(``time.process_time``; run with ``OMP_NUM_THREADS=1``); the time per step is the difference over
``w₂ − w₁`` (so the one-time cost of building the result cancels), fastest of ``rounds``.
Rows report, for a run of `CHOICE_STEPS` steps, the faster path's time against ``auto``'s
(target ≥ 0.9, i.e. within 10 %): the choice's one-time cost (cost model and probe, after
a 4-step run of each path, so that the first calls' one-time costs, which the windows'
difference drops for the forced runs, are left out of it too) plus `CHOICE_STEPS` steps of
the path it chose, timed as that path's forced run. ``auto`` runs
the very code of the path it chose, so comparing its own run with the other forced run would
add the timing noise of two runs of identical code (0.8–1.3 on this shared machine) to the
verdict; its own run is timed too and reported beside it ("auto vs its own path").

Before the timing, ``auto`` chooses once for a run of `CHOICE_STEPS` steps on these inputs
(``choose_method``; the time it took is the row's "choosing took"): where the cost model
prices both paths within 60 % this runs the probe, whose choice the process keeps for this
system and run shape, so the timed ``auto`` runs (windows of a few steps, too short to probe
on their own) take the path a run of realistic length takes; the probe's one-time cost
stays out of the time per step and enters the verdict once, as above.

``python -m benchmarks._method_bench [--quick] [--json FILE]`` prints the table.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time

import torch

import dynalysis
from dynalysis import ModuleSystem
from dynalysis.models import build_model

from ._timing import Row, fastest, fmt_time, table

SECTION = "Lyapunov method"
#: CPU time of this process: the shared machine's other processes disturb it far less than
#: wall time (single-threaded runs; set OMP_NUM_THREADS=1)
CLOCK = time.process_time
METHODS = ("auto", "tangent", "jacobian")
CHOICE_STEPS = 10_000  # the run length auto chooses for (a probe is worth it there)


def esn(N: int, *, rho: float = 0.9, seed: int = 0) -> dynalysis.MapSystem:
    """Echo-state network ``h ← tanh(W h + u x)``, spectral radius about ``rho``, as a generic
    `MapSystem` (no analytic J·Q: automatic differentiation)."""
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(N, N, generator=g, dtype=torch.float64) * (rho / math.sqrt(N))
    u = torch.randn(N, generator=g, dtype=torch.float64)
    return dynalysis.MapSystem(lambda h, x, p: torch.tanh(h @ p["W"].T + x * p["u"]), N, 1,
                               parameters={"W": W, "u": u}, name=f"esn{N}")


def henon() -> dynalysis.MapSystem:
    return dynalysis.MapSystem(
        lambda h, x: torch.stack([1 - 1.4 * h[:, 0] ** 2 + h[:, 1], 0.3 * h[:, 0]], 1), 2, name="henon")


def torch_module(kind: str, N: int):
    torch.manual_seed(0)
    mod = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[kind](1, N, batch_first=True)
    return dynalysis.from_module(mod.double())


class _Stepper(torch.nn.Module):
    """A user module with a step ``forward(x, h) -> h`` (the protocol adapter: autodiff J·Q)."""

    def __init__(self, N: int):
        super().__init__()
        torch.manual_seed(0)
        self.lin = torch.nn.Linear(N, N)
        self.inp = torch.nn.Linear(1, N)

    def forward(self, x, h):
        return torch.tanh(self.lin(h) + self.inp(x))


def protocol_module(N: int):
    return dynalysis.from_module(_Stepper(N).double(), initial_state=torch.zeros(1, N, dtype=torch.float64),
                                 input_size=1)


def cell(name: str, N: int):
    return ModuleSystem(build_model(name, input_size=1, hidden_size=N, seed=0)).to(dtype=torch.float64)


def cases(quick: bool) -> list[tuple[str, callable]]:
    """(label, system factory) of every row: MapSystems 2..1024, adapters, every cell."""
    maps = (2, 16, 64, 100, 256) if quick else (2, 8, 16, 32, 64, 100, 128, 256, 512, 1024)
    out = [("MapSystem Hénon (S=2)", henon)]
    out += [(f"MapSystem ESN N={N}", lambda N=N: esn(N)) for N in maps]
    for N in ((16, 128) if quick else (16, 64, 128)):
        out += [(f"from_module nn.{k.upper()} N={N}", lambda k=k, N=N: torch_module(k, N))
                for k in ("rnn", "gru", "lstm")]
        out.append((f"from_module step protocol N={N}", lambda N=N: protocol_module(N)))
    cells = ("wcrnn", "elman", "lstm", "gru", "linear", "ctrnn", "lru", "ssm")
    for N in ((8, 64) if quick else (8, 32, 128)):
        out += [(f"cell {c} N={N}", lambda c=c, N=N: cell(c, N)) for c in cells]
    return out


def windows(S: int, quick: bool) -> tuple[int, int]:
    """Windows of steps whose difference gives the time per step. Small states: 67 and 387 or
    1091 steps (enough steps that a step of 0.05 ms stands out of the timing noise), with 33–35
    time blocks for the confidence interval (whose bootstrap then costs about the same in both
    and cancels); big states: shorter windows (24 steps apart from 128 states, 4 from 512: a
    full-spectrum step at S = 1024 takes ~1 s here, beside which the bootstrap is negligible)."""
    if S >= 512:
        return (3, 7) if not quick else (2, 4)
    if S >= 128:
        return (4, 28) if not quick else (3, 9)
    if S >= 32:
        return (67, 387) if not quick else (67, 131)
    return (67, 1091) if not quick else (67, 131)


def measure(system, *, B: int, n_exponents: int | None, quick: bool, rounds: int) -> dict:
    S = system.state_size
    w1, w2 = windows(S if n_exponents is None else max(n_exponents, S // 4), quick)
    g = torch.Generator().manual_seed(1)
    x_long = torch.randn(B, max(w2, 1024), system.input_size, generator=g, dtype=torch.float64)
    x = x_long[:, :w2]  # the timed windows; the probe takes up to 15 blocks of 32 steps
    h0 = torch.full((B, S), 0.1, dtype=torch.float64)
    from dynalysis.lyapunov.method import choose_method

    for m in ("tangent", "jacobian"):  # one-time costs (torch.func's first traces) out of the choice's
        dynalysis.lyapunov_spectrum(system, x[:, :4], transient=1, method=m, n_exponents=n_exponents,
                                    initial_state=h0, reortho_every=1)  # time, as out of the windows'
    t0 = CLOCK()
    choice = choose_method(system.to(dtype=torch.float64), batch=B, n_exponents=n_exponents or S,
                           steps=CHOICE_STEPS, dtype=torch.float64, device="cpu", initial_state=h0, inputs=x_long)
    choice_s = CLOCK() - t0
    fns = {}
    for m in METHODS:
        for w in (w1, w2):
            fns[(m, w)] = (lambda m=m, w=w: dynalysis.lyapunov_spectrum(
                system, x[:, :w], transient=1, method=m, n_exponents=n_exponents, initial_state=h0,
                reortho_every=1))  # the paths' cost: a QR every step in both windows
    t = fastest(fns, repeats=rounds, clock=CLOCK)
    per = {m: max(t[(m, w2)] - t[(m, w1)], 1e-9) / (w2 - w1) for m in METHODS}
    chosen = dynalysis.lyapunov_spectrum(system, x[:, :w1], transient=1, n_exponents=n_exponents,
                                         initial_state=h0, reortho_every=1).attrs["lyapunov_method"]
    assert chosen == choice[0], (chosen, choice)  # the timed auto runs took the kept choice
    return {"per_step": per, "chosen": chosen, "state_size": S, "choice_s": choice_s,
            "probed": choice[1].startswith("probe"), "reason": choice[1]}


def rows(quick: bool = False, *, B: int = 4, rounds: int | None = None, log=None) -> list[Row]:
    rounds = rounds or (2 if quick else 3)
    out = []
    for label, make in cases(quick):
        system = make()
        small = system.state_size < 128  # cheap rows: more rounds against the load's noise
        r = measure(system, B=B, n_exponents=None, quick=quick, rounds=rounds + 2 * small)
        per = r["per_step"]
        best = min(per["tangent"], per["jacobian"])
        run = r["choice_s"] + CHOICE_STEPS * per[r["chosen"]]  # auto's run: choosing, then its path
        ratio = CHOICE_STEPS * best / run
        r["ratio"] = ratio
        fast = "tangent" if per["tangent"] <= per["jacobian"] else "jacobian"
        out.append(Row(SECTION, f"{label}, all {r['state_size']} exponents, B={B}",
                       f"tangent {fmt_time(per['tangent'])}/step, jacobian {fmt_time(per['jacobian'])}/step",
                       f"auto → {r['chosen']}: {fmt_time(run / CHOICE_STEPS)}/step", ratio,
                       "≥ 0.9 (within 10 % of the faster)", ratio >= 0.9,
                       f"faster path: {fast} ({max(per['tangent'], per['jacobian']) / best:.2f}× apart); "
                       f"auto vs its own path: {per['auto'] / per[r['chosen']]:.2f} (timing noise); "
                       f"choosing took {r['choice_s'] * 1e3:.1f} ms once (in the ratio, over "
                       f"{CHOICE_STEPS} steps)"
                       f"{' (probed)' if r['probed'] else ''}"))
        if log is not None:
            log.write(json.dumps({"case": label, **r}) + "\n")
            log.flush()
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", default=None, help="also write one JSON line per case here")
    p.add_argument("--batch", type=int, default=4)
    args = p.parse_args(argv)
    log = open(args.json, "w") if args.json else None
    print(table(rows(args.quick, B=args.batch, log=log)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
