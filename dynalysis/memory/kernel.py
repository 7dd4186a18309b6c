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
from .._core.options import check_positive_int
from .._core.provenance import provenance_attrs, set_var_attrs
from ..system import System
from .._core.inputs import as_initial_state, as_inputs
from .._core.options import resolve_dtype

__all__ = ["memory_kernel"]


def efolding_lag(norms) -> float:
    """Lag beyond which ``norms`` stays below ``peak / e`` (log-linear interpolation).

    A memory time in steps: ``−1/ln λ`` for a kernel ``λ^j``. For a kernel that fluctuates it
    is the *last* crossing, so a late bump counts as memory; NaN when the kernel is still above
    ``peak / e`` at the largest lag given (the memory is longer than ``max_lag``).

    >>> round(efolding_lag(0.9 ** np.arange(40)), 2), round(float(-1 / np.log(0.9)), 2)
    (9.49, 9.49)
    >>> efolding_lag([1.0, 0.1, 0.9, 0.1]), efolding_lag([1.0, 0.9, 0.8])
    (2.4..., nan)
    """
    k = np.asarray(norms, dtype=float)
    peak = k.max() if k.size else 0.0
    if not peak > 0:
        return float("nan")
    target = peak / np.e
    above = np.nonzero(k >= target)[0]
    j = int(above[-1]) + 1  # first lag of the final stretch below peak / e
    if j >= k.size:
        return float("nan")
    a, b = np.log(k[j - 1]), np.log(max(k[j], 1e-300))
    return float(j - 1 + (a - np.log(target)) / (a - b))


def memory_kernel(system: System, inputs, *, max_lag: int, initial_state=None,
                  dtype=torch.float64, device=None) -> xr.Dataset:
    """Sensitivity (memory) kernel ``∂y_T/∂x_{T−j}`` averaged over trajectories.

    Parameters
    ----------
    system : System
        A step map with inputs (``input_size > 0``).
    inputs : Tensor or ndarray, shape (trajectory, time, input_size)
        Driving inputs; ``T`` = their length, at least ``max_lag + 1``. The first
        ``T − max_lag − 1`` steps only bring the state to where the kernel is measured.
    max_lag : int
        Largest lag ``j``.
    initial_state : Tensor, optional
        ``(state_size,)`` or ``(trajectory, state_size)``; the system's initial state if None.
    dtype : torch.dtype or str, default float64
    device : optional

    Returns
    -------
    xarray.Dataset
        ``kernel (lag, output, input)``: mean over trajectories of ``∂y_T[o]/∂x_{T−j}[i]``;
        ``kernel_std (lag, output, input)``: spread across trajectories;
        ``kernel_norm (lag)``: mean over trajectories of the Frobenius norm ``‖K_j‖_F``.
        The output is the system's readout, or the state itself when there is none
        (attribute ``output_is_state``).

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
    """
    dtype = resolve_dtype(dtype)
    L = check_positive_int("max_lag", max_lag, minimum=0)
    if system.input_size < 1:
        raise OptionError("memory_kernel needs a system with inputs (input_size > 0); "
                          f"{type(system).__name__} has input_size=0")
    x = as_inputs(system, inputs, dtype=dtype, device=device, min_steps=L + 1)
    B, T, d = x.shape
    sys_ = system.to(dtype=dtype, device=device)
    h = as_initial_state(sys_, initial_state, B, dtype=dtype, device=x.device)
    use_readout = system.has_readout
    with torch.no_grad():
        for t in range(T - L - 1):
            h = sys_.step(h, x[:, t])
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
    if not np.isfinite(per_traj).all():
        raise OptionError("the kernel is not finite (the state diverged along the inputs)")
    ds = xr.Dataset(
        {
            "kernel": (("lag", "output", "input"), per_traj.mean(0)),
            "kernel_std": (("lag", "output", "input"), per_traj.std(0)),
            "kernel_norm": ("lag", np.linalg.norm(per_traj, axis=(2, 3)).mean(0)),
            "memory_time": ((), efolding_lag(np.linalg.norm(per_traj, axis=(2, 3)).mean(0))),
        },
        coords={"lag": np.arange(L + 1), "output": np.arange(O), "input": np.arange(d)},
    )
    set_var_attrs(ds, {
        "kernel": ("memory kernel dy_T/dx_{T-j} (mean over trajectories)", "1"),
        "kernel_std": ("standard deviation of the kernel across trajectories", "1"),
        "kernel_norm": ("Frobenius norm of the kernel at each lag (mean over trajectories)", "1"),
        "memory_time": ("lag beyond which the kernel norm stays below peak/e (NaN: beyond max_lag)", "step"),
        "lag": ("lag j (input x_{T-j} to output y_T)", "step"),
        "output": ("output dimension (state dimension when the system has no readout)", "1"),
        "input": ("input dimension", "1"),
    })
    ds.attrs.update(provenance_attrs("memory_kernel", system, dict(
        max_lag=L, dtype=str(dtype).replace("torch.", ""), steps=T, trajectories=B,
        initial_state="given" if initial_state is not None else "system")))
    ds.attrs["output_is_state"] = int(not use_readout)
    return ds
