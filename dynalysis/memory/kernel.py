"""Memory kernel: how strongly the output at T depends on the input j steps earlier.

For a linear RNN ``h_t = A h_{t-1} + B x_t``, ``y_t = C h_t`` the output is a convolution
``y_T = Σ_j K_j x_{T−j}`` with kernel ``K_j = C A^j B`` (Emami et al. 2021, docs/science.md §4).
For any step map the sensitivity kernel

    K_j = ∂y_T / ∂x_{T−j}          (output × input, per trajectory)

generalises it; averaged over trajectories it equals ``C A^j B`` exactly on a linear RNN.
Computed in reverse mode with one backward pass for all outputs: the last ``max_lag + 1``
steps are run on ``O`` copies of the batch, copy ``o`` contributes only output ``o`` to the
scalar that is differentiated, so its input gradient is row ``o`` of every ``K_j``.
"""
from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from ..errors import OptionError
from .._core.divergence import DIVERGED_FLAGS, finite_mean, warn_diverged
from .._core.inputs import as_initial_state, as_inputs
from .._core.options import check_positive_int, resolve_dtype
from .._core.result import Schema, Var, build_result
from .._core.trajectory import run_final
from ..system import System

__all__ = ["memory_kernel", "efolding_lag", "SCHEMA"]


def efolding_lag(norms) -> tuple[float, bool]:
    """``(τ, censored)``: the lag beyond which ``norms`` stays below ``peak / e`` (log-linear
    interpolation), and whether it is only known to be at least the window.

    A memory time in steps: ``−1/ln λ`` for a kernel ``λ^j``. For a kernel that fluctuates it
    is the *last* crossing, so a late bump counts as memory. The window ``0..L`` shows that the
    kernel stays below ``peak / e`` only if at least its last two lags are below: when the kernel
    is still at or above ``peak / e`` at lag ``L − 1`` the crossing is at or beyond the edge of
    the window, so the memory time is *censored*: ``(L, True)``, read "at least L steps" (a
    crossing interpolated inside the last lag, e.g. 49.6 in a 50-lag window, is not evidence
    that the kernel stays below). ``(nan, False)`` when no norm is positive and finite.

    >>> tau, censored = efolding_lag(0.9 ** np.arange(40))
    >>> round(tau, 2), round(float(-1 / np.log(0.9)), 2), censored
    (9.49, 9.49, False)
    >>> efolding_lag([1.0, 0.1, 0.9, 0.1, 0.05])     # a late bump counts
    (2.4..., False)
    >>> efolding_lag([1.0, 0.9, 0.8]), efolding_lag([1.0, 0.9, 0.3])   # at the edge: at least 2
    ((2.0, True), (2.0, True))
    """
    k = np.asarray(norms, dtype=float)
    L = k.size - 1
    peak = k.max() if k.size and np.isfinite(k).all() else np.nan
    if not peak > 0:
        return float("nan"), False
    target = peak / np.e
    j = int(np.nonzero(k >= target)[0][-1]) + 1  # first lag of the final stretch below peak / e
    if j >= L:
        return float(L), True
    a, b = np.log(k[j - 1]), np.log(max(k[j], 1e-300))
    return float(j - 1 + (a - np.log(target)) / (a - b)), False


def check_kernel_options(system: System, inputs, *, max_lag: int, transient: int | None = None,
                         initial_state=None, dtype=torch.float64, device=None) -> dict:
    """Checked arguments of `memory_kernel` (nothing is run): the inputs cut to
    ``transient + max_lag + 1`` steps, the initial state and the options to record."""
    dtype = resolve_dtype(dtype)
    L = check_positive_int("max_lag", max_lag, minimum=0)
    if system.input_size < 1:
        raise OptionError("memory_kernel needs a system with inputs (input_size > 0); "
                          f"{type(system).__name__} has input_size=0")
    if transient is not None:
        transient = check_positive_int("transient", transient, minimum=0)
    x = as_inputs(system, inputs, dtype=dtype, device=device, min_steps=L + 1 + (transient or 0),
                  needed_for=f"max_lag={L} + 1" + (f" + transient={transient}" if transient else ""))
    if transient is None:
        transient = x.shape[1] - L - 1
    x = x[:, :transient + L + 1]
    h = as_initial_state(system, initial_state, x.shape[0], dtype=dtype, device=x.device)
    options = dict(max_lag=L, transient=transient, dtype=dtype, steps=x.shape[1], trajectories=x.shape[0],
                   initial_state="given" if initial_state is not None else "system")
    return {"x": x, "h": h, "dtype": dtype, "device": device, "options": options}


def kernel_data(system: System, checked: dict) -> tuple[dict, dict]:
    """``(data, coords)`` of the kernel result from `check_kernel_options`' output (the work)."""
    x, h, L = checked["x"], checked["h"], checked["options"]["max_lag"]
    B, T, d = x.shape
    sys_ = system.to(dtype=checked["dtype"], device=checked["device"])
    h = h.to(dtype=checked["dtype"])
    use_readout = system.has_readout
    h = run_final(sys_, x[:, :T - L - 1], h)[0]  # the burn-in (not finite: the kernel's own flag says so)
    O = system.output_size if use_readout else system.state_size
    tail = x[:, T - L - 1:].repeat(O, 1, 1).requires_grad_(True)  # (O·B, L+1, d): x_{T−L} .. x_T
    with torch.enable_grad():
        state = h.repeat(O, 1)
        for t in range(L + 1):
            state = sys_.step(state, tail[:, t])
        y = (sys_.readout(state) if use_readout else state).reshape(O, B, O)
        picked = torch.diagonal(y, dim1=0, dim2=2)  # (B, O): copy o keeps output o
        (grad,) = torch.autograd.grad(picked.sum(), tail)
    # grad[o·B + b, i] = ∂y_T[b, o]/∂x_{T−L+i}[b]; lag j = L − i
    per_traj = grad.reshape(O, B, L + 1, d).flip(2).permute(1, 2, 0, 3).detach().cpu().numpy()
    final = state.detach().reshape(O, B, -1)[0].cpu().numpy()
    diverged = ~np.isfinite(per_traj).all((1, 2, 3)) | ~np.isfinite(final).all(1)
    warn_diverged(diverged, analysis="memory_kernel", stacklevel=4)
    with np.errstate(invalid="ignore", over="ignore"):
        norms = np.linalg.norm(np.where(np.isfinite(per_traj), per_traj, 0.0), axis=(2, 3))
    kernel_norm = finite_mean(norms, diverged)
    tau, censored = efolding_lag(kernel_norm)
    data = {"kernel": finite_mean(per_traj, diverged), "kernel_std": finite_mean(per_traj, diverged, std=True),
            "kernel_norm": kernel_norm, "memory_time": tau, "memory_time_censored": censored,
            "diverged": diverged}
    coords = {"lag": np.arange(L + 1), "output": np.arange(O), "input": np.arange(d), "trajectory": np.arange(B)}
    return data, coords


def memory_kernel(system: System, inputs, *, max_lag: int, transient: int | None = None,
                  initial_state=None, dtype=torch.float64, device=None) -> xr.Dataset:
    """Sensitivity (memory) kernel ``∂y_T/∂x_{T−j}`` averaged over trajectories.

    Parameters
    ----------
    system : System
        A step map with inputs (``input_size > 0``).
    inputs : Tensor or ndarray, shape (trajectory, time, input_size)
        Driving inputs, at least ``transient + max_lag + 1`` steps.
    max_lag : int
        Largest lag ``j``.
    transient : int, optional
        Steps run before the kernel window (they only bring the state to where the kernel is
        measured); the kernel is measured at ``T = transient + max_lag + 1`` over the inputs
        ``x_{T−max_lag} .. x_T``. Default: every step of ``inputs`` before the last
        ``max_lag + 1``.
    initial_state : Tensor, optional
        ``(state_size,)`` or ``(trajectory, state_size)``; the system's initial state if None.
    dtype : torch.dtype or str, default float64
    device : optional

    Returns
    -------
    xarray.Dataset
        ``kernel (lag, output, input)``: mean over finite trajectories of
        ``∂y_T[o]/∂x_{T−j}[i]``; ``kernel_std (lag, output, input)``: spread across them;
        ``kernel_norm (lag)``: mean over them of the Frobenius norm ``‖K_j‖_F``;
        ``memory_time``: the lag beyond which ``kernel_norm`` stays below its peak / e
        (`efolding_lag`) and ``memory_time_censored`` (flag: 1 = the kernel has not decayed
        within the window, the memory time is at least ``max_lag``, and ``memory_time`` is then
        ``max_lag``); ``diverged (trajectory)``: 1 where the state or the kernel became NaN/inf
        (left out of the means, with a `dynalysis.DivergenceWarning`; everything is NaN when
        all diverged). The output is the system's readout, or the state itself when there is
        none (attribute ``output_is_state``).

    Notes
    -----
    Linear RNN: ``K_j = C A^j B``. For a non-linear map ``K_j = D_T J_T ⋯ J_{T−j+1} ∂F/∂x``
    along the trajectory (``D_T`` the readout Jacobian), so it depends on the inputs.

    References
    ----------
    E. Emami, A. Safavi, A. Fletcher, "Implicit bias of linear RNNs", ICML 2021.

    Examples
    --------
    >>> import torch, dynalysis
    >>> A, B = torch.tensor([[0.5]], dtype=torch.float64), torch.tensor([[2.0]], dtype=torch.float64)
    >>> lin = dynalysis.MapSystem(lambda h, x: h @ A.T + x @ B.T, 1, 1)
    >>> ds = dynalysis.memory_kernel(lin, torch.randn(2, 10, 1), max_lag=3)
    >>> ds.kernel.values.ravel().tolist()                       # 2 · 0.5**j
    [2.0, 1.0, 0.5, 0.25]
    >>> float(ds.memory_time), int(ds.memory_time_censored)     # 0.5^j < 1/e from j = 2 on
    (1.4426..., 0)
    """
    checked = check_kernel_options(system, inputs, max_lag=max_lag, transient=transient,
                                   initial_state=initial_state, dtype=dtype, device=device)
    data, coords = kernel_data(system, checked)
    return build_result(SCHEMA, data, coords, system=system, options=checked["options"],
                        attrs={"output_is_state": int(not system.has_readout)})


LAG = Var(("lag",), "lag j (input x_{T-j} to output y_T; signal s_{t-k} read from h_t)", "step", time="duration")

SCHEMA = Schema("memory_kernel", description="memory kernel dy_T/dx_{T-j}", variables={
    "kernel": Var(("lag", "output", "input"), "memory kernel dy_T/dx_{T-j} (mean over finite trajectories)"),
    "kernel_std": Var(("lag", "output", "input"), "standard deviation of the kernel across trajectories"),
    "kernel_norm": Var(("lag",), "Frobenius norm of the kernel at each lag (mean over finite trajectories)"),
    "memory_time": Var((), "lag beyond which the kernel norm stays below peak/e (max_lag when censored)",
                       "step", time="duration"),
    "memory_time_censored": Var((), "the kernel norm has not fallen below peak/e within the window: the "
                                    "memory time is at least max_lag", flags=("within_window", "at_least_window")),
    "diverged": Var(("trajectory",), "trajectory diverged (NaN/inf state or kernel)", flags=DIVERGED_FLAGS),
}, coords={
    "lag": LAG,
    "output": Var(("output",), "output dimension (state dimension when the system has no readout)"),
    "input": Var(("input",), "input dimension"),
    "trajectory": Var(("trajectory",), "trajectory index"),
})
