"""Lyapunov spectrum of a chaotic continuous-time rate network, per unit time.

τ dh/dt = −h + W tanh(h), W ~ N(0, g²/N), N = 64, g = 3: the CTRNN cell's Euler map at two
steps dt and the same vector field integrated by RK4. Per unit time the three spectra agree up
to Euler's O(dt) error, visible in the most negative exponents (−dt μ²/2 for a rate μ); per
step (the right panel) they differ by the ratio of the steps.
`python docs/figures/ctrnn_spectrum.py` writes docs/figures/ctrnn_spectrum.png (~1 min).
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import dynalysis  # noqa: E402
from dynalysis.models import build_model  # noqa: E402

N, GAIN, DURATION, TRANSIENT = 64, 3.0, 100.0, 20.0  # durations in units of τ
h0 = torch.randn(8, N, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def spectrum(dt, method):
    net = build_model("ctrnn", input_size=0, hidden_size=N, gain=GAIN, dt=dt, seed=0).double()
    flow = dynalysis.FlowSystem(net.vector_field, N, dt=dt, method=method, time_unit="τ")
    inputs = dynalysis.zero_inputs(flow, len(h0), int(DURATION / dt))
    return dynalysis.lyapunov_spectrum(flow, inputs, initial_state=h0, transient=int(TRANSIENT / dt))


runs = {"Euler, dt = 0.1 τ (the cell's map)": spectrum(0.1, "euler"),
        "Euler, dt = 0.05 τ (the cell's map)": spectrum(0.05, "euler"),
        "RK4, dt = 0.05 τ": spectrum(0.05, "rk4")}
fig, (ax, ax_step) = plt.subplots(1, 2, figsize=(9.5, 3.8), constrained_layout=True)
for (label, ds), style in zip(runs.items(), ("o", "s", "-")):
    kw = dict(ms=3.5, mfc="none", lw=1.2) if style != "-" else dict(lw=1.2, color="k")
    ax.plot(ds.exponent_index, ds.exponent, style, label=label, **kw)
    ax_step.plot(ds.exponent_index, ds.exponent * ds.attrs["time_step"], style, **kw)
units = next(iter(runs.values())).exponent.attrs["units"]
ax.set(xlabel="exponent index i", ylabel=f"λ_i  [nats {units.replace('1/', '/ ')}]",
       title=f"CTRNN N = {N}, g = {GAIN:g}: per unit time")
ax_step.set(xlabel="exponent index i", ylabel="λ_i · dt  [nats / step]", title="the same, per step")
for a in (ax, ax_step):
    a.axhline(0, color="0.6", lw=0.8)
lead = runs["RK4, dt = 0.05 τ"]
ax.text(0.97, 0.8, f"RK4: λ₁ = {float(lead.exponent[0]):.3f} / τ\n"
        f"D_KY = {float(lead.kaplan_yorke_dimension):.1f} (chaotic)", transform=ax.transAxes, ha="right",
        va="top", fontsize=8)
ax.legend(fontsize=7, loc="lower left")
out = Path(__file__).with_suffix(".png")
fig.savefig(out, dpi=130)
print(f"wrote {out}")
