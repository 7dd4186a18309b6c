#!/usr/bin/env python
"""The GRU's and LSTM's analytic J·Q against automatic differentiation of the same `step`.

    OMP_NUM_THREADS=1 python benchmarks/gated_tangent_bench.py

"before" is a `MapSystem` wrapping the cell's own `step` (the path these cells took without a
hand-written ``tangent_step``: reverse mode for ``S <= 64``, ``vmap(jvp)`` beyond); "after"
is `ModuleSystem` (the analytic ``tangent_step``). Both in this process, interleaved, CPU
time, best of 2 after a warm-up (`_timing.fastest`).

1. `lyapunov_spectrum`: all exponents, 4 trajectories, float64, 20 transient + 200 steps of
   N(0, 1) inputs, ``method="auto"`` and ``reortho_every="auto"`` (what a user gets), per step.
2. `System.jacobian` on 64 states (what Levenberg–Marquardt of `find_fixed_points` calls).
"""
from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dynalysis  # noqa: E402
from dynalysis import MapSystem, ModuleSystem  # noqa: E402
from dynalysis.models import build_model  # noqa: E402

from benchmarks._timing import fastest  # noqa: E402

TRANSIENT, STEPS, B = 20, 200, 4


def main() -> None:
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{'cell':5} {'N':>4} {'S':>4} | {'lyap autograd':>14} {'analytic':>10} {'ratio':>6} | "
          f"{'jac autograd':>13} {'analytic':>10} {'ratio':>6} | max |Δλ|")
    for cell in ("gru", "lstm"):
        for N in (32, 128):
            net = build_model(cell, input_size=1, hidden_size=N, seed=0).double()
            after = ModuleSystem(net)
            before = MapSystem(after.step, after.state_size, input_size=1, name=f"{cell} autograd")
            x = torch.randn(B, TRANSIENT + STEPS, 1, generator=torch.Generator().manual_seed(1),
                            dtype=torch.float64)
            spectra = {}

            def lyap(name, system):
                def run():
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        spectra[name] = dynalysis.lyapunov_spectrum(system, x, transient=TRANSIENT)
                return run

            t = fastest({"before": lyap("before", before), "after": lyap("after", after)},
                        repeats=2, clock=time.process_time)
            dlam = float(abs(spectra["before"].exponent - spectra["after"].exponent).max())
            h = 0.5 * torch.randn(64, after.state_size, generator=torch.Generator().manual_seed(2),
                                  dtype=torch.float64)
            u = torch.zeros(64, 1, dtype=torch.float64)
            with torch.no_grad():
                tj = fastest({"before": lambda: before.jacobian(h, u),
                              "after": lambda: after.jacobian(h, u)}, repeats=3,
                             clock=time.process_time)
            S = after.state_size
            steps = TRANSIENT + STEPS
            print(f"{cell:5} {N:>4} {S:>4} | {1e3 * t['before'] / steps:>11.3f} ms "
                  f"{1e3 * t['after'] / steps:>7.3f} ms {t['before'] / t['after']:>6.1f} | "
                  f"{1e3 * tj['before']:>10.2f} ms {1e3 * tj['after']:>7.2f} ms "
                  f"{tj['before'] / tj['after']:>6.1f} | {dlam:.1e}", flush=True)


if __name__ == "__main__":
    main()
