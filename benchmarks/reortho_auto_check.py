#!/usr/bin/env python
"""``reortho_every="auto"`` against a QR every step on every reference case (issue 20, item 2).

    python benchmarks/reortho_auto_check.py [--quick]

For each case of `dynalysis.testing._reference_cases` (closed forms, Hénon, non-normal maps, the
Lorenz flow, every shipped cell) and each dtype (float64, float32) it runs both schedules on
the same inputs, frame and seed and prints: the largest difference of the exponents, the
every-step result's own error where a closed form or the float64 run gives one, the schedule
(`mean_reortho_interval`, `max_log_condition`), the largest difference of the sampled
results (both ends of the confidence interval and the convergence trace, on the same steps),
whether ``converged`` is the same, and whether the two agree to round-off: float64:
``|Δλ|, |Δ CI|, |Δ trace| ≤ 1e-10`` and the same ``converged``; float32: auto's error against
the float64 every-step result is at most twice the float32 every-step result's own error
(plus ``10·u₃₂``), and the same ``converged``.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import dynalysis  # noqa: E402
from dynalysis.testing._reference_cases import reference_cases  # noqa: E402

U32 = float(np.finfo(np.float32).eps)


def compare(system, x, h0, *, dtype) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        every = dynalysis.lyapunov_spectrum(system, x, initial_state=h0, reortho_every=1, dtype=dtype)
        auto = dynalysis.lyapunov_spectrum(system, x, initial_state=h0, reortho_every="auto", dtype=dtype)
    same_steps = np.array_equal(auto.step.values, every.step.values)
    sampled = max(gap(auto[v].values, every[v].values) for v in ("exponent_ci_low", "exponent_ci_high")) \
        if same_steps else float("inf")
    if same_steps:
        sampled = max(sampled, gap(auto.convergence.values, every.convergence.values))
    return {"every": every.exponent.values, "auto": auto.exponent.values,
            "interval": float(auto.mean_reortho_interval), "log_cond": float(auto.max_log_condition),
            "ci": sampled, "same_converged": bool(np.array_equal(auto.converged.values, every.converged.values))}


def gap(a, b) -> float:
    """Largest |a - b|, equal infinities (an exponent of -inf in both) counting as 0."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(invalid="ignore"):
        d = np.where((a == b) | (np.isnan(a) & np.isnan(b)), 0.0, np.abs(a - b))
    return float(np.max(d))


def check(quick: bool = False) -> list[dict]:
    rows = []
    for name, system, x, h0, exact in reference_cases(quick):
        r64 = compare(system, x, h0, dtype=torch.float64)
        d64 = gap(r64["auto"], r64["every"])
        rows.append(dict(case=name, dtype="float64", diff=d64, own=None, interval=r64["interval"],
                         log_cond=r64["log_cond"], ci=r64["ci"],
                         ok=d64 <= 1e-10 and r64["ci"] <= 1e-10 and r64["same_converged"],
                         exact=None if exact is None else gap(r64["every"], exact)))
        r32 = compare(system, x, h0, dtype=torch.float32)
        own = gap(r32["every"], r64["every"])
        err = gap(r32["auto"], r64["every"])
        rows.append(dict(case=name, dtype="float32", diff=gap(r32["auto"], r32["every"]),
                         own=own, interval=r32["interval"], log_cond=r32["log_cond"], ci=r32["ci"],
                         ok=err <= 2 * own + 10 * U32 and r32["same_converged"], exact=None, err=err))
    return rows


def table(rows: list[dict]) -> str:
    out = ["| case | dtype | max \\|λ_auto − λ_every\\| | every-step's own error | auto's error | steps per QR | "
           "max ln κ | Δ CI, Δ trace | within round-off? |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        own = "" if r["own"] is None else f"{r['own']:.1e} (vs float64)"
        if r["exact"] is not None:
            own = f"{r['exact']:.1e} (vs closed form, finite T)"
        err = f"{r['err']:.1e}" if "err" in r else ""
        out.append(f"| {r['case']} | {r['dtype']} | {r['diff']:.1e} | {own} | {err} | {r['interval']:.1f} | "
                   f"{r['log_cond']:.1f} | {r['ci']:.1e} | {'yes' if r['ok'] else '**no**'} |")
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    rows = check(args.quick)
    print(table(rows))
    bad = [r for r in rows if not r["ok"]]
    print(f"\n{len(rows)} comparisons, {len(bad)} outside round-off" + (": " + "; ".join(
        f"{r['case']} ({r['dtype']})" for r in bad) if bad else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
