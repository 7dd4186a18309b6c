"""Subprocess probe: peak resident memory added by one analysis call (``python -m``).

Usage: ``python -m benchmarks._memory_probe VERB STEPS[,STEPS...] [N]``; prints one JSON line
per length
``{"verb", "steps", "added_mib", "baseline_mib", "reset"}``.

Run it in a *fresh* process per measurement. The peak is read from ``VmHWM`` in
``/proc/self/status``, not ``getrusage``'s ``ru_maxrss``: Linux copies ``ru_maxrss`` from the
parent at fork (and keeps it across exec), so a child of a large process reports the
parent's peak and a before/after difference reads a false +0.0 MiB. Before the measured call
(after a warm-up call of 1000 steps and after the inputs are allocated) the high-water mark
is reset to the current RSS by writing ``5`` to ``/proc/self/clear_refs`` (Linux ≥ 4.0); where
that is refused, ``reset`` is false and the added peak is ``VmHWM`` − ``VmRSS`` before the call.

Verbs (WCRNN, ``N`` units, default 64, 4 trajectories): ``lyapunov_tangent``,
``lyapunov_jacobian`` (the two engine paths, k = 16), ``jacobian_eigenvalues`` (100 samples per
trajectory whatever the length), ``find_fixed_points`` (16 starts from the trajectories),
``memory_kernel`` (max_lag 20), ``memory_capacity`` (max_lag 20, ``steps`` = STEPS),
``transient_growth`` (Jacobian products along the trajectories, max_power 20).
"""
from __future__ import annotations

import json
import re
import sys
import warnings

import torch

VERBS = ("lyapunov_tangent", "lyapunov_jacobian", "jacobian_eigenvalues", "find_fixed_points",
         "memory_kernel", "memory_capacity", "transient_growth")


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"{field}:\s+(\d+) kB", f.read()).group(1))


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def call(verb: str, system, x):
    import dynalysis

    T = x.shape[1]
    if verb.startswith("lyapunov"):
        return dynalysis.lyapunov_spectrum(system, x, n_exponents=16, method=verb.split("_")[1], transient=10)
    if verb == "jacobian_eigenvalues":
        return dynalysis.jacobian_eigenvalues(system, x, every=max(1, T // 100))
    if verb == "find_fixed_points":
        return dynalysis.find_fixed_points(system, x, n_starts=16, seed=0, max_iter=50)
    if verb == "memory_kernel":
        return dynalysis.memory_kernel(system, x, max_lag=20)
    if verb == "memory_capacity":
        return dynalysis.memory_capacity(system, max_lag=20, steps=T, seed=0)
    if verb == "transient_growth":
        return dynalysis.transient_growth(system, inputs=x, max_power=20)
    raise SystemExit(f"unknown verb {verb!r}; one of {', '.join(VERBS)}")


def main(argv: list[str]) -> None:
    verb, all_steps = argv[0], [int(s) for s in argv[1].split(",")]
    N = int(argv[2]) if len(argv) > 2 else 64
    for steps in all_steps:  # several lengths: one line each, the peak reset before each call
        measure(verb, steps, N)


def measure(verb: str, steps: int, N: int) -> None:
    from dynalysis import ModuleSystem
    from dynalysis.models import build_model

    system = ModuleSystem(build_model("wcrnn", input_size=1, hidden_size=N, output_size=1, seed=0)).to(
        dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, steps, 1, generator=g, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        call(verb, system, x[:, :1000])  # one-time allocations (and lazy imports) before the reset
        reset = _reset_peak()
        baseline = _status("VmRSS") if not reset else _status("VmHWM")
        call(verb, system, x)
    peak = _status("VmHWM")
    print(json.dumps({"verb": verb, "steps": steps, "added_mib": (peak - baseline) / 1024,
                      "baseline_mib": baseline / 1024, "reset": reset}))


if __name__ == "__main__":
    main(sys.argv[1:])
