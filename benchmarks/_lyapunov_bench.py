"""Lyapunov engine benchmarks: full spectra against the baselines, roofline, speed options.

Protocol of the issue: N hidden units, all exponents, 4 trajectories × (100 transient + 1000)
steps, float64, random N(0, 1) inputs of width 1, zero initial state.
"""
from __future__ import annotations

import math

import numpy as np
import torch

import dynalysis
from dynalysis import ModuleSystem
from dynalysis.models import build_model

from ._baselines import full_jacobian_qr, lyapynov_available, lyapynov_lce
from ._timing import Row, fastest, fmt_time, timed

SECTION = "Lyapunov"


def make_system(cell: str, N: int, **options):
    net = build_model(cell, input_size=1, hidden_size=N, seed=0, **options)
    return net, ModuleSystem(net).to(dtype=torch.float64)


def make_inputs(B: int, T: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, 1, generator=g, dtype=torch.float64)


def ours(system, inputs, **options):
    """Our engine; a QR every step unless ``reortho_every`` is given (the default is "auto")."""
    options.setdefault("reortho_every", 1)
    return dynalysis.lyapunov_spectrum(system, inputs, **options)


def primitives(B: int, S: int, k: int):
    """Callables for the roofline: the J·Q product ``(S×S)(S×k)`` batched over B, and the two
    Householder QRs of ``(B, S, k)`` torch offers (the faster one counts)."""
    g = torch.Generator().manual_seed(0)
    A = torch.randn(S, S, generator=g, dtype=torch.float64)
    Z = torch.randn(B, S, k, generator=g, dtype=torch.float64)

    def geqrf_orgqr():
        a, tau = torch.geqrf(Z)
        return torch.linalg.householder_product(a, tau)

    return {"matmul": lambda: torch.matmul(A, Z), "linalg.qr": lambda: torch.linalg.qr(Z),
            "geqrf+orgqr": geqrf_orgqr}


def full_spectrum(cell: str, N: int, *, B: int, transient: int, steps: int, base_steps: int,
                  window: int, rounds: int, use_lyapynov: bool, target_base: float,
                  target_lyap: float | None, roofline_target: bool = True) -> tuple[list[Row], dict]:
    """Ours vs the full-Jacobian baseline (and lyapynov) on one cell; plus the roofline.

    Cost per step is the same at every step, so each contender is timed on a window of steps
    (ours and lyapynov: 10 + ``window``; the baseline: ``base_steps``), all windows and the
    roofline primitives *interleaved* over ``rounds`` rounds, fastest round kept, and scaled
    to the protocol's ``transient + steps``. Ours (and lyapynov) also run the full protocol
    once, for the spectra and the end-to-end time.
    """
    net, system = make_system(cell, N)
    S = system.state_size
    T = transient + steps
    x = make_inputs(B, T)
    h0 = torch.zeros(B, S, dtype=torch.float64)
    w = min(T, 10 + window)
    lyap = use_lyapynov and target_lyap is not None and lyapynov_available()
    fns = {
        "ours": lambda: ours(system, x[:, :w], transient=10),
        "baseline": lambda: full_jacobian_qr(system, x[:, :base_steps], h0, transient=0, steps=base_steps),
        "baseline_vec": lambda: full_jacobian_qr(system, x[:, :base_steps], h0, transient=0,
                                                 steps=base_steps, vectorize=True),
        **primitives(B, S, S),
    }
    if lyap:
        fns["lyapynov"] = lambda: lyapynov_lce(net, cell, x[:, :w], h0, transient=10, n_compute=w - 10)
    t = fastest(fns, repeats=rounds)
    per = {name: t[name] / (base_steps if name.startswith("baseline") else w)
           for name in ("ours", "baseline", "baseline_vec", "lyapynov") if name in t}
    qr_name = min(("linalg.qr", "geqrf+orgqr"), key=t.get)
    roof = t["matmul"] + t[qr_name]
    t_full, ds = timed(lambda: ours(system, x, transient=transient))
    t_auto, ds_auto = timed(lambda: ours(system, x, transient=transient, reortho_every="auto"))
    auto_diff = float(np.abs(ds_auto.exponent.values - ds.exponent.values).max())
    # "auto" end to end on the whole run: its QRs at the trace steps and confidence blocks
    # depend on the run's length, so a window would not scale
    auto_txt = f"{fmt_time(t_auto)} end to end ({fmt_time(t_auto / T)}/step)"
    auto_note = (f"reortho_every='auto' (the default): one QR per {float(ds_auto.mean_reortho_interval):.1f} "
                 f"steps, largest block ln κ {float(ds_auto.max_log_condition):.1f} (limit 18.4), spectrum "
                 f"within {auto_diff:.0e} of every-step")

    case = f"{cell} N={N} (S={S}), {B}×({transient}+{steps}) steps, all {S} exponents"
    ours_txt = f"{fmt_time(per['ours'] * T)} ({fmt_time(per['ours'])}/step)"
    common = (f"per step: fastest of {rounds} interleaved rounds, scaled to {T} steps; "
              f"ours end-to-end on the full run: {fmt_time(t_full)}")
    rows = []
    ratio = per["baseline"] / per["ours"]
    rows.append(Row(SECTION, case, f"autograd.functional.jacobian + QR: {fmt_time(per['baseline'] * T)}",
                    ours_txt, ratio, f"≥ {target_base:g}×", ratio >= target_base,
                    f"{common}; baseline window {base_steps} steps × {B} trajectories"))
    rows.append(Row(SECTION, case, "same, jacobian(vectorize=True) (stronger baseline): "
                    f"{fmt_time(per['baseline_vec'] * T)}", ours_txt,
                    per["baseline_vec"] / per["ours"], "info", None,
                    "not the issue's baseline; shown so the gain is not overstated"))
    t_l = None
    if lyap:
        t_l, lce = timed(lambda: lyapynov_lce(net, cell, x, h0, transient=transient, n_compute=steps))
        diff = float(np.abs(lce.mean(0) - ds.exponent.values).max())
        r = per["lyapynov"] / per["ours"]
        ceiling = per["lyapynov"] / roof
        rows.append(Row(SECTION, case, f"lyapynov 1.0.1 LCE (numpy, analytic jac): "
                        f"{fmt_time(per['lyapynov'] * T)}", ours_txt, r, f"≥ {target_lyap:g}×",
                        r >= target_lyap,
                        f"QR every step, as lyapynov. Full runs: lyapynov {fmt_time(t_l)}, ours "
                        f"{fmt_time(t_full)}; spectra agree to {diff:.1e}. Both do a Householder QR "
                        f"of the {S}×{S} frame per step; an engine costing only this machine's "
                        f"matmul + QR would reach {ceiling:.1f}×, so {target_lyap:g}× is out of "
                        "reach of any every-step QR here"))
        ra = t_l / t_auto  # both end to end on the whole run
        rows.append(Row(SECTION, case, f"lyapynov, whole run: {fmt_time(t_l)}", auto_txt,
                        ra, f"≥ {target_lyap:g}×", ra >= target_lyap, auto_note))
    elif target_lyap is not None:
        rows.append(Row(SECTION, case, "lyapynov not installed (pip install '.[bench]')", ours_txt,
                        None, f"≥ {target_lyap:g}×", None, "row skipped"))
    if not lyap:
        rows.append(Row(SECTION, case, f"ours, QR every step: {ours_txt}", auto_txt,
                        per["ours"] * T / t_auto, "info", None, auto_note))
    frac = roof / per["ours"]
    rows.append(Row(SECTION, f"{cell} N={N}: roofline", f"matmul {fmt_time(t['matmul'])} + {qr_name} "
                    f"{fmt_time(t[qr_name])} per step (B={B}, {S}×{S})", f"{fmt_time(per['ours'])}/step",
                    frac, "≥ 40 %" if roofline_target else "info",
                    (frac >= 0.4) if roofline_target else None,
                    f"fraction of this machine's measured matmul + QR time reached; the QR is "
                    f"{t[qr_name] / roof:.0%} of it"))
    return rows, {"dataset": ds, "system": system, "inputs": x, "time": t_full,
                  "transient": transient}


def speed_options(ref: dict, *, cell: str, N: int, quick: bool, window: int, rounds: int) -> list[Row]:
    """reortho_every, n_exponents, float32 and batching against the every-step float64 run.

    Speed: windows of 10 + ``window`` steps, all variants interleaved, fastest of ``rounds``.
    Accuracy: one full-protocol run of each variant against the full every-step run.
    """
    system, x, ds_ref, tr = ref["system"], ref["inputs"], ref["dataset"], ref["transient"]
    lam = ds_ref.exponent.values
    spread = float(lam.max() - lam.min())
    S = system.state_size
    w = min(x.shape[1], 10 + window)
    variants = {"every step": {}, **{f"reortho_every={k}": {"reortho_every": k} for k in (2, 5, 10)},
                **{f"n_exponents={n} of {S}": {"n_exponents": n} for n in (S // 4, S // 16)},
                "dtype=float32": {"dtype": torch.float32}}
    t = fastest({name: (lambda o=o: ours(system, x[:, :w], transient=10, **o))
                 for name, o in variants.items()}, repeats=rounds)
    ref_txt = f"every step: {fmt_time(t['every step'] / w)}/step"
    ref_run = f"every step: {fmt_time(ref['time'] / x.shape[1])}/step (whole run)"
    rows = []
    u64 = np.finfo(np.float64).eps
    T = x.shape[1]
    for name, o in list(variants.items())[1:]:
        t_run, ds = timed(lambda o=o: ours(system, x, transient=tr, **o))
        speed = t["every step"] / t[name]
        ours_txt = f"{fmt_time(t[name] / w)}/step"
        if "reortho_every" in o:
            # end to end on the whole run: the QRs every schedule takes at the trace steps and
            # confidence blocks (every ≈ n/64 steps) would dominate a short window
            speed, ours_txt = ref["time"] / t_run, f"{fmt_time(t_run / T)}/step (whole run)"
            k = o["reortho_every"]
            d = float(np.abs(ds.exponent.values - lam).max())
            # round-off of the k-step product, relative: u e^{k·spread}; exact while ≪ 1e-3
            ok_theory = u64 * math.exp(k * spread) < 1e-8
            rows.append(Row("Lyapunov options", f"{cell} N={N}: {name}", ref_run, ours_txt, speed,
                            "|Δλ| ≤ 1e-3" if ok_theory else "info",
                            (d <= 1e-3) if ok_theory else None,
                            f"max |Δλ| = {d:.1e}; k·(λ1−λmin) = {k * spread:.2f} (theory: exact to "
                            f"round-off u·e^(k·spread))"))
        elif "n_exponents" in o:
            n = o["n_exponents"]
            d_trace = float(np.abs(ds.convergence.values - ds_ref.convergence.values[:, :n]).max())
            d_sorted = float(np.abs(ds.exponent.values - lam[:n]).max())
            rows.append(Row("Lyapunov options", f"{cell} N={N}: {name}", ref_txt, ours_txt, speed,
                            "same leading columns ≤ 1e-10", d_trace <= 1e-10,
                            f"frame columns agree to {d_trace:.1e}; sorted leading values to "
                            f"{d_sorted:.1e} (finite-time crossings of close exponents)"))
        else:
            d = float(np.abs(ds.exponent.values - lam).max())
            rows.append(Row("Lyapunov options", f"{cell} N={N}: {name}", ref_txt, ours_txt, speed,
                            "info", None, f"max |Δλ| = {d:.1e}: u32 ≈ 6e-8 per step, but these "
                            f"exponents lie within {spread:.2f} of each other, where round-off "
                            "re-splits the finite-time values (their sum is stable)"))
    # batching: time per trajectory for B = 1, 4, 16 at a smaller N
    _, small = make_system(cell, 64 if quick else 128)
    sizes = (1, 4) if quick else (1, 4, 16)
    xs = {B: make_inputs(B, 110) for B in sizes}
    tb = fastest({B: (lambda B=B: ours(small, xs[B], transient=10)) for B in sizes}, repeats=rounds)
    for B in sizes[1:]:
        rows.append(Row("Lyapunov options", f"{cell} N={small.state_size}: {B} trajectories in one batch",
                        f"1 at a time: {fmt_time(tb[1] / 110)}/step",
                        f"{fmt_time(tb[B] / B / 110)}/step per trajectory", tb[1] * B / tb[B], "info",
                        None, "one batched matmul and QR per step for all trajectories"))
    return rows
