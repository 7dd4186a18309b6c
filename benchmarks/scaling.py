#!/usr/bin/env python
"""Scaling, measured and drawn (issue 20, item 3): ``benchmarks/scaling.png`` and a table.

    python benchmarks/scaling.py            # N = 64…1024, k = 16…512, T = 250…2000 (~5 min)
    python benchmarks/scaling.py --quick    # smaller grid (~1 min)

Panels (log-log, fitted slope beside the theory):

1. time per step against N (k = 64): the J·Q product of a WCRNN (``tangent_step``, theory
   ``N² k``: slope 2), the Householder QR of the ``N × k`` frame (``geqrf`` + ``orgqr``, theory
   ``N k²``: slope 1) and the engine (`lyapunov_spectrum`, per step);
2. the same against k at N = 512 (theory: J·Q slope 1, QR slope 2 for ``k ≪ N``);
3. the engine's wall time against T at N = 128, k = 32 (slope 1: time per step flat in T)
   and `find_fixed_points` against the number of starts (theory: linear);
4. `analyze_checkpoints` on 2 Dask workers (warm cluster) against the number of checkpoints
   (theory: linear once there are more checkpoints than workers).

Every point is the fastest of ``rounds`` interleaved repeats in CPU time of this process
(``time.process_time``, one thread: the machine may be shared), the Dask sweep in wall time;
slopes are least-squares fits of ``log t`` on ``log x`` over the three largest sizes (below
them fixed per-call costs dominate: a product of 64×64 matrices is as fast as a call). The
engine's time per step is the difference of windows of 67 and 131 steps (both with 33 time
blocks for the confidence interval, whose bootstrap then costs the same in both).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import dynalysis  # noqa: E402
from benchmarks._timing import environment  # noqa: E402
from benchmarks._timing import fastest as _fastest  # noqa: E402


def fastest(fns, repeats):
    """CPU time of this process (single-threaded: robust to the shared machine's load)."""
    return _fastest(fns, repeats=repeats, clock=time.process_time)


F64 = torch.float64


def wcrnn(N: int):
    from dynalysis import ModuleSystem
    from dynalysis.models import build_model

    return ModuleSystem(build_model("wcrnn", input_size=1, hidden_size=N, seed=0)).to(dtype=F64)


def primitives(N: int, k: int, B: int = 1):
    system = wcrnn(N)
    g = torch.Generator().manual_seed(0)
    h = torch.randn(B, N, generator=g, dtype=F64) * 0.1
    x = torch.randn(B, 1, generator=g, dtype=F64)
    Q = torch.linalg.qr(torch.randn(B, N, k, generator=g, dtype=F64)).Q

    def qr():
        a, tau = torch.geqrf(Q)
        return torch.linalg.householder_product(a, tau)

    return {"J·Q": lambda: system.tangent_step(h, x, Q), "QR": qr}, system


def engine_per_step(system, k: int, w1: int, w2: int, rounds: int) -> float:
    x = torch.randn(1, w2, 1, generator=torch.Generator().manual_seed(1), dtype=F64)
    fns = {w: (lambda w=w: dynalysis.lyapunov_spectrum(system, x[:, :w], n_exponents=k, transient=1,
                                                       method="tangent", reortho_every=1)) for w in (w1, w2)}
    t = fastest(fns, repeats=rounds)
    return max(t[w2] - t[w1], 1e-9) / (w2 - w1)


FIT_POINTS = 3  # slopes are fitted over the largest sizes: below them fixed per-call costs dominate


def fit(xs, ts) -> float:
    xs, ts = np.asarray(xs, dtype=float)[-FIT_POINTS:], np.asarray(ts, dtype=float)[-FIT_POINTS:]
    return float(np.polyfit(np.log(xs), np.log(ts), 1)[0])


def measure(quick: bool) -> dict:
    rounds = 2 if quick else 3
    Ns = (64, 128, 256, 512) if quick else (64, 128, 256, 512, 1024)
    ks = (16, 32, 64, 128) if quick else (16, 32, 64, 128, 256, 512)
    Ts = (250, 500, 1000, 2000) if quick else (250, 500, 1000, 2000, 4000)
    out = {"N": {}, "k": {}, "T": {}, "starts": {}, "checkpoints": {}}
    for N in Ns:
        fns, system = primitives(N, 64)
        t = fastest(fns, repeats=5 * rounds)
        t["engine"] = engine_per_step(system, 64, 67, 131, rounds)
        out["N"][N] = t
        print(f"N={N}: " + ", ".join(f"{a} {b * 1e3:.3f} ms" for a, b in t.items()), flush=True)
    Nk = 256 if quick else 512
    for k in ks:
        fns, system = primitives(Nk, k)
        t = fastest(fns, repeats=5 * rounds)
        t["engine"] = engine_per_step(system, k, 67, 131, 1 if k >= 256 else rounds)
        out["k"][k] = t
        print(f"k={k}: " + ", ".join(f"{a} {b * 1e3:.3f} ms" for a, b in t.items()), flush=True)
    system = wcrnn(128)
    x = torch.randn(1, max(Ts), 1, generator=torch.Generator().manual_seed(2), dtype=F64)
    tT = fastest({T: (lambda T=T: dynalysis.lyapunov_spectrum(system, x[:, :T], n_exponents=32, transient=1,
                                                                reortho_every=1))
                  for T in Ts}, repeats=rounds)
    out["T"] = tT
    print("T:", {T: round(v, 3) for T, v in tT.items()}, flush=True)
    fp_system = wcrnn(32)
    xs = torch.randn(4, 300, 1, generator=torch.Generator().manual_seed(3), dtype=F64)
    starts = (8, 16, 32, 64) if quick else (8, 16, 32, 64, 128, 256)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["starts"] = fastest({n: (lambda n=n: dynalysis.find_fixed_points(fp_system, xs, n_starts=n, seed=0))
                                 for n in starts}, repeats=rounds)
    print("starts:", {n: round(v, 3) for n, v in out["starts"].items()}, flush=True)
    out["checkpoints"] = sweep_points((1, 2, 4, 8) if quick else (1, 2, 4, 8, 16), steps=300 if quick else 500)
    print("checkpoints:", {n: round(v, 2) for n, v in out["checkpoints"].items()}, flush=True)
    return out


def sweep_points(counts, *, steps: int) -> dict:
    """Wall time of `analyze_checkpoints` (Lyapunov) on a warm 2-worker local Dask cluster."""
    from benchmarks.sweep_scaling import make_checkpoints
    from dynalysis.pipeline.batch import local_cluster

    res = {}
    with tempfile.TemporaryDirectory() as tmp, local_cluster(2) as cluster:
        paths = make_checkpoints(Path(tmp) / "runs", max(counts), 32)
        for n in (0,) + tuple(counts):  # 0: a warm-up of two checkpoints (both workers import), not timed
            root = Path(tmp) / "runs"
            sub = Path(tmp) / f"set{n}"
            for p in paths[:n or 2]:
                dst = sub / p.relative_to(root)
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_bytes(p.read_bytes())
            t0 = time.perf_counter()
            dynalysis.analyze_checkpoints(str(sub / "**" / "*.ckpt"), str(Path(tmp) / f"out{n}"),
                                          scheduler=cluster.scheduler_address, analyses="lyapunov",
                                          steps=steps, transient=50, n_trajectories=4, progress=False)
            if n:
                res[n] = time.perf_counter() - t0
    return res


def draw(out: dict, path: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    slopes = {}
    fig, ax = plt.subplots(2, 2, figsize=(11, 8.5))
    for a, key, label, theory in ((ax[0, 0], "N", "state size N (k = 64)", {"J·Q": 2, "QR": 1}),
                                  (ax[0, 1], "k", "exponents k (N = 512)", {"J·Q": 1, "QR": 2})):
        xs = np.array(sorted(out[key]))
        for name, marker in (("J·Q", "o"), ("QR", "s"), ("engine", "^")):
            ts = np.array([out[key][v][name] for v in xs]) * 1e3
            s = fit(xs, ts)
            slopes[f"{name} vs {key}"] = s
            th = f", theory {theory[name]}" if name in theory else ""
            a.loglog(xs, ts, marker=marker, label=f"{name}: slope {s:.2f}{th}")
        a.set_xticks(xs, [str(v) for v in xs])
        a.minorticks_off()
        a.set_xlabel(label)
        a.set_ylabel("CPU time per step (ms)")
        a.grid(True, which="both", alpha=0.3)
        a.legend(fontsize=8)
    a = ax[1, 0]
    for key, label, marker in (("T", "Lyapunov, N=128, k=32: steps T", "o"),
                               ("starts", "fixed points, N=32: starts", "s")):
        xs = np.array(sorted(out[key]))
        ts = np.array([out[key][v] for v in xs])
        s = fit(xs, ts)
        slopes[f"{key}"] = s
        a.loglog(xs, ts, marker=marker, label=f"{label}: slope {s:.2f}, theory 1")
    a.set_xlabel("steps T / number of starts")
    a.set_ylabel("CPU time of the call (s)")
    a.grid(True, which="both", alpha=0.3)
    a.legend(fontsize=8)
    a = ax[1, 1]
    xs = np.array(sorted(out["checkpoints"]))
    ts = np.array([out["checkpoints"][v] for v in xs])
    s = fit(xs, ts)
    slopes["checkpoints"] = s
    a.loglog(xs, ts, marker="o", label=f"analyze_checkpoints, 2 warm Dask workers: slope {s:.2f}, theory 1")
    a.set_xticks(xs, [str(v) for v in xs])
    a.minorticks_off()
    a.set_xlabel("checkpoints")
    a.set_ylabel("wall time (s)")
    a.grid(True, which="both", alpha=0.3)
    a.legend(fontsize=8)
    fig.suptitle("dynalysis scaling: WCRNN, float64, one CPU thread (fitted log-log slopes, "
                 "largest three sizes, beside theory)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return slopes


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "scaling.png"))
    p.add_argument("--json", default=None, help="also save the measurements here")
    p.add_argument("--from-json", default=None, help="redraw from saved measurements, measure nothing")
    args = p.parse_args(argv)
    for v in environment().values():
        print(f"- {v}")
    if args.from_json:
        raw = json.loads(Path(args.from_json).read_text())
        out = {key: {int(n): v for n, v in d.items()} for key, d in raw.items()}
    else:
        out = measure(args.quick)
    if args.json:
        Path(args.json).write_text(json.dumps(out))
    slopes = draw(out, Path(args.out))
    print("\n| quantity | fitted slope | theory |\n|---|---|---|")
    theory = {"J·Q vs N": "2 (N² k)", "QR vs N": "1 (N k²)", "engine vs N": "1–2 (QR + J·Q)",
              "J·Q vs k": "1", "QR vs k": "2 (k ≪ N)", "engine vs k": "1–2", "T": "1 (flat per step)",
              "starts": "1", "checkpoints": "1"}
    for name, s in slopes.items():
        print(f"| {name} | {s:.2f} | {theory.get(name, '')} |")
    print(f"\nfigure: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
