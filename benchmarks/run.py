#!/usr/bin/env python
"""Performance benchmarks of dynalysis (issue 6), one command, one markdown table.

    python benchmarks/run.py            # full protocol (~5–10 min on 2 cores)
    python benchmarks/run.py --quick    # smaller sizes, < 1 min: a smoke test of every row

Sections: Lyapunov spectra (WCRNN and Elman N = 256 against the full-Jacobian baseline and
lyapynov, roofline; LSTM and GRU N = 128 through torch.func), speed options, the engine's
``method="auto"`` against each path (MapSystems 2–1024, from_module adapters, every cell;
`benchmarks/_method_bench.py`), training throughput against torch's fused nn.RNN, start-up
time, peak memory of every verb against the number of steps, the memory-capacity path
against N, and the fixed-points row (`benchmarks/fixed_points_bench.py`).
Scaling figure: `benchmarks/scaling.py`; GPU: `benchmarks/device_check.py`. Every comparison runs side by side in this one process (interleaved where
repeated); ratios are baseline / ours unless the row says otherwise. Timings use torch's
default thread count (printed); the machine may be shared, so the load average is printed too.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from benchmarks._lyapunov_bench import full_spectrum, speed_options  # noqa: E402
from benchmarks._timing import Row, environment, fmt_time, table  # noqa: E402
from benchmarks._training_bench import training  # noqa: E402


def lyapunov(quick: bool) -> list[Row]:
    """Issue protocol; ``--quick`` shrinks sizes (a smoke test of every row, not the targets)."""
    if quick:
        proto = dict(B=4, transient=20, steps=60, base_steps=2, window=30, rounds=2)
        big, small = 128, 64
    else:
        proto = dict(B=4, transient=100, steps=1000, base_steps=8, window=100, rounds=3)
        big, small = 256, 128
    rows, ref = [], None
    for cell in ("wcrnn", "elman"):
        r, res = full_spectrum(cell, big, **proto, use_lyapynov=True, target_base=10, target_lyap=5)
        rows += r
        ref = res if cell == "wcrnn" else ref
    for cell in ("lstm", "gru"):
        r, _ = full_spectrum(cell, small, **proto, use_lyapynov=False, target_base=5,
                             target_lyap=None, roofline_target=False)
        rows += r
    rows += speed_options(ref, cell="wcrnn", N=big, quick=quick, window=proto["window"] * 2,
                          rounds=proto["rounds"])
    return rows


def _wall(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env=_env())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def startup(quick: bool) -> list[Row]:
    n = 1 if quick else 3
    py = sys.executable
    t_bare = _wall([py, "-c", "pass"], n)
    t_torch = _wall([py, "-c", "import torch"], n)
    rows = []
    probe = ("import sys, dynalysis; "
             "print(any(m.split('.')[0] in ('lightning', 'pytorch_lightning') for m in sys.modules))")
    lightning = subprocess.run([py, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                               env=_env()).stdout.strip()
    for name, cmd in (("import dynalysis", [py, "-c", "import dynalysis"]),
                      ("python cli.py analyze --help", [py, "cli.py", "analyze", "--help"])):
        t = _wall(cmd, n)
        rows.append(Row("Start-up", name, f"python -c 'import torch': {fmt_time(t_torch)}",
                        fmt_time(t), None, "< 2 s", t < 2.0,
                        f"cold process, median of {n}; bare interpreter {fmt_time(t_bare)}; "
                        f"Lightning imported by `import dynalysis`: {lightning}"))
    return rows


def memory(quick: bool) -> list[Row]:
    """Peak memory added by each verb at T and 10 T steps, each in a fresh process (VmHWM)."""
    from benchmarks._memory_probe import VERBS

    rows = []
    steps = (1000, 5000) if quick else (1000, 10000)
    for verb in VERBS:
        peak = {}
        for T in steps:
            out = subprocess.run([sys.executable, "-m", "benchmarks._memory_probe", verb, str(T)],
                                 cwd=ROOT, capture_output=True, text=True, check=True, env=_env()).stdout
            peak[T] = json.loads(out.strip().splitlines()[-1])["added_mib"]
        a, b = steps
        flat = peak[b] <= 2 * peak[a] + 2.0  # allocator noise ~2 MiB; O(T) state would be ×(b/a)
        rows.append(Row("Memory", f"{verb}, WCRNN N=64, 4 trajectories: {a} vs {b} steps",
                        f"{a} steps: +{peak[a]:.1f} MiB", f"{b} steps: +{peak[b]:.1f} MiB", None,
                        "≤ 2× + 2 MiB", flat,
                        "peak added by the call: VmHWM in a fresh process, high-water mark reset "
                        "after a warm-up call and the inputs (benchmarks/_memory_probe.py)"))
    return rows


def memory_capacity_path(quick: bool) -> list[Row]:
    """Time of `memory_capacity` (drive, streamed QR readouts, ridge) against N, and against
    the former stored-states SVD readout (`benchmarks/_capacity_reference.py`) in one run."""
    import numpy as np

    import dynalysis
    from benchmarks._capacity_reference import stored_capacity
    from benchmarks._lyapunov_bench import make_system
    from benchmarks._timing import fastest

    Ns = (32, 64, 128) if quick else (32, 64, 128, 256, 512)
    steps = 2000 if quick else 4000
    systems = {N: make_system("wcrnn", N)[1] for N in Ns}
    kw = dict(max_lag=50, steps=steps, seed=0, ridge=1e-6)
    fns = {}
    for N in Ns:
        fns[("streamed", N)] = lambda N=N: dynalysis.memory_capacity(systems[N], **kw).capacity.values
        fns[("stored", N)] = lambda N=N: stored_capacity(systems[N], **kw)
    t = fastest(fns, repeats=2, clock=time.process_time)  # CPU time of this process: robust to a shared machine
    gap = {N: float(np.abs(fns[("streamed", N)]() - fns[("stored", N)]()).max()) for N in Ns}
    slope = float(np.polyfit(np.log(Ns[-3:]), np.log([t[("streamed", N)] for N in Ns[-3:]]), 1)[0])
    return [Row("Memory capacity", f"memory_capacity, WCRNN N={N}, {steps} steps, 50 lags, ridge 1e-6",
                f"stored states + SVD (before) {fmt_time(t[('stored', N)])}",
                f"streamed QR {fmt_time(t[('streamed', N)])}", t[("stored", N)] / t[("streamed", N)],
                "info (before / after)", None,
                f"max |Δ MC_k| {gap[N]:.1e}" + (f"; time against N: fitted slope {slope:.2f} over the largest "
                                                "three (states O(T N²) to simulate, the QR O(T N²))"
                                                if N == Ns[-1] else ""))
            for N in Ns]


def fixed_points(quick: bool) -> list[Row]:
    """Fixed points against a FixedPointFinder-style joint-Adam baseline (`benchmarks/fixed_points_bench.py`)."""
    from benchmarks.fixed_points_bench import bench_fixed_points

    return bench_fixed_points(quick)


def lyapunov_method(quick: bool) -> list[Row]:
    from benchmarks._method_bench import rows as method_rows

    return method_rows(quick)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes, < 1 min")
    p.add_argument("--with-compile", action="store_true",
                   help="also time torch.compile of the WCRNN loop (minutes of compilation)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads(N) first (default: torch's default)")
    p.add_argument("--only", nargs="*", default=None,
                   choices=["lyapunov", "method", "training", "startup", "memory", "capacity",
                            "fixed_points"],
                   help="run only these sections")
    args = p.parse_args(argv)
    sections = args.only or ["lyapunov", "method", "training", "startup", "memory", "capacity",
                             "fixed_points"]
    if args.threads:
        torch.set_num_threads(args.threads)
    env = environment()
    print(f"# dynalysis benchmarks ({'quick' if args.quick else 'full'})\n")
    for v in env.values():
        print(f"- {v}")
    t0 = time.perf_counter()
    rows: list[Row] = []
    if "lyapunov" in sections:
        rows += lyapunov(args.quick)
    if "method" in sections:
        rows += lyapunov_method(args.quick)
    if "training" in sections:
        rows += training(quick=args.quick, with_compile=args.with_compile)
    if "startup" in sections:
        rows += startup(args.quick)
    if "memory" in sections:
        rows += memory(args.quick)
    if "capacity" in sections:
        rows += memory_capacity_path(args.quick)
    if "fixed_points" in sections:
        rows += fixed_points(args.quick)
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"- load average at end: {load}; total {time.perf_counter() - t0:.0f} s; "
          f"float64 analyses, float32 training, torch threads {torch.get_num_threads()}\n")
    print(table(rows))
    missed = [r for r in rows if r.met is False]
    print(f"\n{len(rows)} rows, {sum(r.met is True for r in rows)} targets met, {len(missed)} missed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
