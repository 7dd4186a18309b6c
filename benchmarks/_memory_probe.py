"""Subprocess probe: peak RSS added by one `lyapunov_spectrum` call (``python -m``).

Usage: ``python -m benchmarks._memory_probe CELL N N_EXPONENTS STEPS METHOD``; prints JSON
``{"before_kib": ..., "after_kib": ...}`` (``ru_maxrss`` before and after the call, after a
warm-up call of 200 steps so that one-time allocations are already counted in "before").
"""
from __future__ import annotations

import json
import resource
import sys

import torch


def main(argv: list[str]) -> None:
    cell, N, k, steps, method = argv[0], int(argv[1]), int(argv[2]), int(argv[3]), argv[4]
    import dynalysis
    from dynalysis import ModuleSystem
    from dynalysis.models import build_model

    system = ModuleSystem(build_model(cell, input_size=1, hidden_size=N, seed=0)).to(dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, steps, 1, generator=g, dtype=torch.float64)
    dynalysis.lyapunov_spectrum(system, x[:, :200], n_exponents=k, method=method)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    dynalysis.lyapunov_spectrum(system, x, n_exponents=k, method=method)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_kib": before, "after_kib": after}))


if __name__ == "__main__":
    main(sys.argv[1:])
