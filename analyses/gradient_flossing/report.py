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
    """Claim 1 per delay (flossed learn where plain do not), headline over delays; claim 2 on
    all k flossed exponents (λ₁ and λ_k), measured on long trajectories."""
    by = {(r["lag"], r["condition"]): r for r in rows}
    lags = [lag for lag in sorted({r["lag"] for r in rows}) if (lag, "plain") in by and (lag, "flossed") in by]
    lines, full, better = [], [], []
    for lag in lags:
        p, f = by[(lag, "plain")], by[(lag, "flossed")]
        if f["successes"] == f["n"] and p["successes"] == 0:
            full.append(lag)
        if f["successes"] > p["successes"] or f["loss"][0] < 0.75 * p["loss"][0]:
            better.append(lag)
    verdict = "reproduced" if full else "partly reproduced" if better else "not reproduced"
    detail = "; ".join(f"delay {lag}: learned {by[(lag, 'flossed')]['successes']}/{by[(lag, 'flossed')]['n']} "
                       f"flossed vs {by[(lag, 'plain')]['successes']}/{by[(lag, 'plain')]['n']} plain, loss/chance "
                       f"{by[(lag, 'flossed')]['loss'][0]:.2f} vs {by[(lag, 'plain')]['loss'][0]:.2f}" for lag in lags)
    lines.append(f"- **Flossed networks learn long delays where plain ones do not:** {verdict} — {detail}. "
                 + (f"Flossing lowers the loss at delays {better}" if better else "Flossing does not lower the loss")
                 + (f"; at delays {full} every flossed run learns and no plain run does." if full else
                    "; at no delay do all flossed runs learn while every plain run fails."))
    for lag in lags:
        p, f = by[(lag, "plain")], by[(lag, "flossed")]
        near = abs(f["lam1"][0]) < 0.05 and abs(f["lam_k"]) < 0.1
        lines.append(f"- **Exponents of flossed networks sit near 0 (delay {lag}):** {'yes' if near else 'no'} — "
                     f"λ₁ = {f['lam1'][0]:+.3f} ± {f['lam1'][1]:.3f} and λ_k = {f['lam_k']:+.3f} per step flossed, "
                     f"vs λ₁ = {p['lam1'][0]:+.3f}, λ_k = {p['lam_k']:+.3f} plain (both from λ₁ = "
                     f"{f['lam1_initial']:+.3f}); criterion |λ₁| < 0.05 and |λ_k| < 0.1.")
    return lines


def text(ds: xr.Dataset, rows: list[dict], size: str, cfg: dict) -> str:
    fl = cfg["floss"]
    out = [f"# Gradient flossing (Engelken, NeurIPS 2023) — size `{size}`", "",
           "Claim (docs/science.md §6): regularising the leading finite-time Lyapunov exponents toward 0 during "
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
