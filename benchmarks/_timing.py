"""Timing helpers shared by the benchmark sections: interleaved repeats, rows, environment.

The machine is shared, so every comparison times its contenders *interleaved* (A, B, A, B,
...) and keeps the fastest repeat of each (the run least disturbed by other processes);
ratios of such minima are what the table reports.
"""
from __future__ import annotations

import dataclasses
import os
import platform
import time
from typing import Callable

import torch


@dataclasses.dataclass
class Row:
    """One line of the results table."""

    section: str
    case: str
    baseline: str  # what we compare with, and its time
    ours: str  # our time
    ratio: float | None  # baseline / ours (higher is better) or as stated in `target`
    target: str
    met: bool | None  # None: informational row
    note: str = ""


def fastest(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1,
            clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Run each callable ``warmup`` times, then ``repeats`` interleaved rounds; min seconds.

    ``clock=time.process_time`` measures this process's CPU time instead of wall time: for
    single-threaded runs (``OMP_NUM_THREADS=1``) the same on a quiet machine, and much less
    disturbed by other processes competing for the cores (not by their use of caches)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = clock()
            fn()
            best[name] = min(best[name], clock() - t0)
    return best


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """``(seconds, result)`` of one call."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def environment() -> dict[str, str]:
    """What the numbers depend on: CPU, threads, torch build, load at the start."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "cpu": f"{cpu}, {os.cpu_count()} logical cores",
        "torch": f"{torch.__version__}, torch.get_num_threads() = {torch.get_num_threads()}",
        "load": "load average at start: " + ", ".join(f"{v:.2f}" for v in load),
    }


def table(rows: list[Row]) -> str:
    """Markdown table of the rows."""
    head = ("| section | case | baseline | ours | ratio | target | met? | note |\n"
            "|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}×" if r.ratio >= 0.1 else f"{r.ratio:.3g}×"
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        lines.append(f"| {r.section} | {r.case} | {r.baseline} | {r.ours} | {ratio} | "
                     f"{r.target} | {met} | {r.note} |")
    return "\n".join(lines)
