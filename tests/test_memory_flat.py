"""Peak memory does not grow with the number of steps (a guarantee, measured, not timed).

Each verb runs in a fresh process (`benchmarks/_memory_probe.py`): the peak is ``VmHWM`` from
``/proc/self/status`` with the high-water mark reset (``/proc/self/clear_refs``) after a
warm-up call, so neither the parent's peak (``ru_maxrss`` is inherited across fork) nor
one-time allocations count. 1 000 and 10 000 steps of 4 trajectories, WCRNN N = 64.
`memory_capacity` streams the run and updates the QR factor of its readouts' least squares
chunk by chunk (it kept every state until 2026-12: 2 MiB at 1 000 steps, 26 MiB at 10 000);
`find_fixed_points` keeps at most 4 096 driven states (its own test below).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLAT = ("lyapunov_tangent", "lyapunov_jacobian", "jacobian_eigenvalues", "memory_kernel", "memory_capacity",
        "transient_growth")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("verb", FLAT)
def test_peak_memory_is_flat_in_the_number_of_steps(verb):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-m", "benchmarks._memory_probe", verb, "1000,10000"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=600, check=True).stdout
    short, long = (json.loads(line) for line in out.strip().splitlines()[-2:])
    assert short["reset"] and long["reset"]
    # 9 000 more steps of inputs are allocated before the reset; a per-step buffer of just one
    # state (64 float64 × 4 trajectories) would add 18 MiB, and anything O(T) grows ×10. The
    # allocator's own noise is about 2 MiB.
    assert long["added_mib"] <= 2 * short["added_mib"] + 2.0, (short, long)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_fixed_point_search_memory_is_flat_in_the_number_of_steps():
    """The search keeps at most `VISITED_CAP` driven states (starts, cross-check, PCA frame);
    before, it kept every state and its PCA copy: 13 MiB at 1 000 steps, 156 MiB at 10 000."""
    test_peak_memory_is_flat_in_the_number_of_steps("find_fixed_points")
