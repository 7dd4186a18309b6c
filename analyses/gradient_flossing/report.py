"""REPORT.md of the gradient-flossing study: success and loss per delay and condition, the
exponents before and after training, and the verdict on the paper's claim, all computed from
the combined results (``gradient_flossing.nc``)."""
from __future__ import annotations

import numpy as np
import xarray as xr


def _runs(ds: xr.Dataset, lag: int, cond: str) -> xr.Dataset:
    return ds.isel(run=np.flatnonzero((ds.lag.values == lag) & (ds.condition.values == cond)))


def table(ds: xr.Dataset) -> list[dict]:
    """One row per (delay, condition): runs, successes, loss/chance and λ₁ (mean ± sd over seeds)."""
    rows = []
    for lag in sorted(set(ds.lag.values.tolist())):
        for cond in ("plain", "flossed"):
            r = _runs(ds, lag, cond)
            if r.sizes["run"] == 0:
                continue
            loss, lam, lam0 = r.loss_over_chance.values, r.exponent.values[:, 0], r.initial_exponent.values[:, 0]
            rows.append(dict(lag=lag, condition=cond, n=int(r.sizes["run"]), successes=int(r.success.values.sum()),
                             loss=(float(loss.mean()), float(loss.std())), lam1=(float(lam.mean()), float(lam.std())),
                             lam_k=float(r.exponent.values[:, -1].mean()), lam1_initial=float(lam0.mean()),
                             lam1_preflossed=float(np.nanmean(r.preflossed_exponent.values[:, 0]))
                             if np.isfinite(r.preflossed_exponent.values[:, 0]).any() else float("nan")))
    return rows


def _verdict(rows: list[dict]) -> list[str]:
    lags = sorted({r["lag"] for r in rows})
    by = {(r["lag"], r["condition"]): r for r in rows}
    lines = []
    longest = lags[-1]
    p, f = by.get((longest, "plain")), by.get((longest, "flossed"))
    if p and f:
        learns = f["successes"] > p["successes"]
        lines.append(f"- **Flossed networks learn the long delay ({longest} steps) where plain ones do not:** "
                     f"{'reproduced' if learns and p['successes'] == 0 else 'partly reproduced' if learns else 'not reproduced'}"
                     f" — successes {f['successes']}/{f['n']} flossed vs {p['successes']}/{p['n']} plain; "
                     f"loss/chance {f['loss'][0]:.2f} ± {f['loss'][1]:.2f} vs {p['loss'][0]:.2f} ± {p['loss'][1]:.2f}.")
        near = abs(f["lam1"][0]) < 0.05
        lines.append(f"- **Exponents of flossed networks sit near 0:** {'yes' if near else 'no'} — trained λ₁ = "
                     f"{f['lam1'][0]:+.3f} ± {f['lam1'][1]:.3f} per step flossed vs {p['lam1'][0]:+.3f} plain "
                     f"(initial {f['lam1_initial']:+.3f}); criterion |λ₁| < 0.05.")
    for lag in lags[:-1]:
        p, f = by.get((lag, "plain")), by.get((lag, "flossed"))
        if p and f:
            lines.append(f"- Control delay {lag}: successes {f['successes']}/{f['n']} flossed, "
                         f"{p['successes']}/{p['n']} plain (loss/chance {f['loss'][0]:.2f} vs {p['loss'][0]:.2f}).")
    return lines


def text(ds: xr.Dataset, rows: list[dict], size: str, cfg: dict) -> str:
    fl = cfg["floss"]
    out = [f"# Gradient flossing (Engelken, NeurIPS 2023) — size `{size}`", "",
           "Claim (SCIENCE.md §6): regularising the leading finite-time Lyapunov exponents toward 0 during "
           "training keeps the product of Jacobians well conditioned, so that gradients neither vanish nor "
           "explode, which helps tasks with long delays; with pre-flossing before training.", "",
           f"Setting: Elman tanh RNN, N = {cfg['hidden']}, W_hh ~ N(0, g²/N) with g = {cfg['gain']}; delayed "
           f"recall of a Gaussian stream, y_t = x_(t−d), sequences of d + {cfg['extra_steps']} steps, "
           f"{cfg['n_train']} training sequences, {cfg['epochs']} epochs, Adam lr {cfg['lr']}, clip {cfg['clip']}, "
           f"seeds {cfg['seeds']}. Flossing: k = {fl['n_exponents']} exponents, weight {fl['weight']}, "
           f"windows of {fl['window']} steps of {fl['trajectories']} batch rows, every step, "
           f"{fl['pre_epochs']} pre-flossing epoch(s). Success: validation loss < chance / 2. Exponents: "
           f"`lyapunov_spectrum` on 8 validation trajectories of {cfg['lyap_steps']} steps.", "",
           "| delay | condition | runs | learned | loss / chance | λ₁ trained | λ_k trained | λ₁ initial | λ₁ after pre-flossing |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        pre = "—" if np.isnan(r["lam1_preflossed"]) else f"{r['lam1_preflossed']:+.3f}"
        out.append(f"| {r['lag']} | {r['condition']} | {r['n']} | {r['successes']} | {r['loss'][0]:.3f} ± "
                   f"{r['loss'][1]:.3f} | {r['lam1'][0]:+.3f} ± {r['lam1'][1]:.3f} | {r['lam_k']:+.3f} | "
                   f"{r['lam1_initial']:+.3f} | {pre} |")
    out += ["", "Exponents in nats per step. \"λ₁ after pre-flossing\" is the callback's own finite-window "
            "estimate (short window, from the zero state), the others the long-trajectory measurement.", "",
            "## Verdict", "", *_verdict(rows), "",
            "## Beside the paper", "",
            "The paper trains tanh RNNs on delayed copy / delayed XOR tasks and reports that pre-flossing "
            "plus flossing during training lets networks learn delays that plain training does not, with the "
            "flossed exponents near 0 and better-conditioned error gradients. We have not re-extracted the "
            "paper's numbers (network sizes, delays, success rates) into this repository, so this table is "
            "set beside the qualitative claim only; the `medium` size (N = 80, delays up to 70) is defined "
            "but was not run on this CPU."]
    return "\n".join(out)
