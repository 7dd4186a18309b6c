"""Eigenvalues and singular values of the state Jacobian along driven trajectories.

    J_t = ∂F(h_{t-1}, x_t)/∂h_{t-1},   J_t[i, j] = ∂h_t[i] / ∂h_{t-1}[j]        (docs/science.md §5)

Sampled every ``every`` steps; the full Jacobians of one sampled step are formed for all
trajectories at once (``System.jacobian``, J·I products) and decomposed in one batched call.
"""
from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from .._core.divergence import DIVERGED_FLAGS, warn_diverged
from .._core.inputs import as_initial_state, as_inputs
from .._core.options import check_positive_int, resolve_dtype
from .._core.result import Schema, Var, build_result
from .._core.trajectory import sort_by_modulus
from ..system import System

__all__ = ["jacobian_eigenvalues", "matrix_spectrum", "SCHEMA"]


def matrix_spectrum(matrix) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (sorted by decreasing modulus) and singular values (decreasing) of a matrix.

    >>> ev, sv = matrix_spectrum(np.diag([0.5, -2.0]))
    >>> ev.real.tolist(), sv.tolist()
    ([-2.0, 0.5], [2.0, 0.5])
    """
    W = np.asarray(matrix.detach().cpu().numpy() if isinstance(matrix, torch.Tensor) else matrix,
                   dtype=np.float64)
    return sort_by_modulus(np.linalg.eigvals(W).astype(complex)), np.linalg.svd(W, compute_uv=False)


def _finite_only(fn, J: torch.Tensor, kind) -> np.ndarray:
    """``fn`` over the batch of matrices ``J``, NaN where a matrix is not finite.

    LAPACK must never see NaN/inf input: MKL's eigenvalue balancing aborts the process on it.
    """
    ok = torch.isfinite(J).all(dim=(-2, -1))
    out = np.full(J.shape[:-1], np.nan, dtype=complex if kind is complex else float)
    if ok.any():
        out[ok.cpu().numpy()] = fn(J[ok]).cpu().numpy()
    return out


def jacobian_eigenvalues(system: System, inputs, *, every: int = 10, transient: int = 0,
                         initial_state=None, dtype=torch.float64, device=None,
                         progress: bool = False) -> xr.Dataset:
    """Eigenvalues and singular values of the state Jacobian along driven trajectories.

    Parameters
    ----------
    system : System
        A step map (`dynalysis.load_checkpoint`, `dynalysis.MapSystem`, ...).
    inputs : Tensor or ndarray, shape (trajectory, time, input_size)
        Driving inputs (`dynalysis.task_inputs`, or `dynalysis.zero_inputs` for autonomous runs).
    every : int, default 10
        Sample the Jacobian every ``every`` steps after the transient (``t = transient + every,
        transient + 2·every, ...``).
    transient : int, default 0
        Steps run before sampling starts.
    initial_state : Tensor, optional
        ``(state_size,)`` or ``(trajectory, state_size)``; the system's initial state if None.
    dtype : torch.dtype or str, default float64
    device : optional
    progress : bool, default False
        Show a progress bar on stderr.

    Returns
    -------
    xarray.Dataset
        ``eigenvalue (trajectory, time, eigen_index)``: complex eigenvalues of ``J_t``, sorted
        by decreasing modulus; ``singular_value (trajectory, time, singular_index)``:
        decreasing; ``spectral_radius`` and ``spectral_norm (trajectory, time)``;
        ``diverged (trajectory)``: 1 where the state or a sampled Jacobian became NaN/inf
        (its spectra are NaN there, with a `dynalysis.DivergenceWarning`). Where the model has a recurrent weight matrix ``W`` (`System.recurrent_matrix`):
        ``recurrent_eigenvalue (recurrent_index)`` (complex) and
        ``recurrent_singular_value (recurrent_index)``; attribute ``has_recurrent_matrix``.
        Coordinate ``time`` is the step ``t`` of ``J_t = ∂h_t/∂h_{t-1}`` (1-based).

    Notes
    -----
    Eigenvalues of ``J_t`` describe the local linearisation of one step; their moduli are not
    Lyapunov exponents (those need products of Jacobians, `dynalysis.lyapunov_spectrum`), but
    eigenvalues and singular values near 1 mark directions that neither grow nor decay over one
    step, and ``‖J_t‖₂ > ρ(J_t)`` signals non-normal transient amplification.

    References
    ----------
    D. Sussillo, O. Barak, "Opening the black box", Neural Computation 25 (2013) 626–649.
    G. Dou, J. C. Principe, "Eigen analysis of recurrent networks", arXiv:2307.15679.

    Examples
    --------
    >>> import torch, dynalysis
    >>> A = torch.tensor([[0.5, 1.0], [0.0, -0.8]], dtype=torch.float64)
    >>> lin = dynalysis.MapSystem(lambda h, x: h @ A.T, 2)
    >>> ds = dynalysis.jacobian_eigenvalues(lin, dynalysis.zero_inputs(lin, 1, 20), every=5)
    >>> ds.eigenvalue.isel(trajectory=0, time=0).values.real.round(3)
    array([-0.8,  0.5])
    """
    dtype = resolve_dtype(dtype)
    every = check_positive_int("every", every)
    transient = check_positive_int("transient", transient, minimum=0)
    x = as_inputs(system, inputs, dtype=dtype, device=device, min_steps=transient + every,
                  needed_for=f"transient={transient} + every={every}")
    B, T, _ = x.shape
    sys_ = system.to(dtype=dtype, device=device)
    h = as_initial_state(sys_, initial_state, B, dtype=dtype, device=x.device)
    times = np.arange(transient + every, T + 1, every)

    eig, sv = [], []
    steps = range(1, T + 1)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="jacobian", unit="step", leave=False)
    sampled = set(times.tolist())
    with torch.no_grad():
        for t in steps:
            xt = x[:, t - 1]
            if t in sampled:
                J = sys_.jacobian(h, xt)  # (B, S, S), J[b, i, j] = ∂h_t[i]/∂h_{t-1}[j]
                eig.append(_finite_only(torch.linalg.eigvals, J, complex))
                sv.append(_finite_only(torch.linalg.svdvals, J, float))
            h = sys_.step(h, xt)
    eigenvalue = sort_by_modulus(np.stack(eig, 1))  # (B, n_times, S)
    singular = np.stack(sv, 1)
    diverged = ~np.isfinite(singular).all(axis=(1, 2)) | ~torch.isfinite(h).all(1).cpu().numpy()
    warn_diverged(diverged, analysis="jacobian_eigenvalues")
    S = system.state_size
    data = {"eigenvalue": eigenvalue, "singular_value": singular,
            "spectral_radius": np.abs(eigenvalue[..., 0]), "spectral_norm": singular[..., 0],
            "diverged": diverged}
    coords = {"trajectory": np.arange(B), "time": times, "eigen_index": np.arange(S),
              "singular_index": np.arange(S)}
    W = system.recurrent_matrix()
    if W is not None:
        data["recurrent_eigenvalue"], data["recurrent_singular_value"] = matrix_spectrum(W)
        coords["recurrent_index"] = np.arange(data["recurrent_eigenvalue"].size)
    options = dict(every=every, transient=transient, dtype=dtype, steps=T, trajectories=B,
                   initial_state="given" if initial_state is not None else "system")
    return build_result(SCHEMA, data, coords, system=system, options=options,
                        attrs={"has_recurrent_matrix": int(W is not None)})


SCHEMA = Schema("jacobian", description="eigen- and singular values of the state Jacobian along the "
                "trajectories and of the recurrent matrix", variables={
    "eigenvalue": Var(("trajectory", "time", "eigen_index"),
                      "eigenvalue of the state Jacobian J_t (sorted by decreasing modulus)"),
    "singular_value": Var(("trajectory", "time", "singular_index"),
                          "singular value of the state Jacobian J_t (decreasing)"),
    "spectral_radius": Var(("trajectory", "time"), "spectral radius max|eig(J_t)|"),
    "spectral_norm": Var(("trajectory", "time"), "spectral norm ||J_t||_2 (largest singular value)"),
    "diverged": Var(("trajectory",), "trajectory diverged (NaN/inf state or Jacobian)", flags=DIVERGED_FLAGS),
    "recurrent_eigenvalue": Var(("recurrent_index",), "eigenvalue of the recurrent weight matrix W",
                                optional=True),
    "recurrent_singular_value": Var(("recurrent_index",), "singular value of the recurrent weight matrix W",
                                    optional=True),
}, coords={
    "trajectory": Var(("trajectory",), "trajectory index"),
    "time": Var(("time",), "step t of J_t = dh_t/dh_{t-1} (1-based)", "step", time="duration"),
    "eigen_index": Var(("eigen_index",), "eigenvalue rank (0 = largest modulus)"),
    "singular_index": Var(("singular_index",), "singular value rank (0 = largest)"),
    "recurrent_index": Var(("recurrent_index",), "rank in the spectrum of W"),
})
