"""Non-normality of a recurrent weight matrix (docs/science.md §3, §5; Orhan & Pitkow 2020).

The matrix is a given one, a system's `System.recurrent_matrix`, or, for cells without a single
recurrent matrix (gated cells), the linearisation ``J = ∂F/∂h`` at the initial state.

Henrici's departure from normality, from the complex Schur form ``W = Z T Zᴴ``:

    d(W) = sqrt(‖W‖_F² − Σ|λ_i|²) = ‖strictly upper part of T‖_F

exactly 0 for normal matrices, ``α√(N−1)`` for the chain ``W_ij = α δ_{i,j+1}`` and
``√(N−1)·|α−β|`` for the tridiagonal feedback chain. For strongly non-normal matrices the
eigenvalues themselves are ill-conditioned and so is any float64 value of d: the value is
recomputed from exact similarity transforms of W (transpose, reversal permutation), and when the
recomputations disagree by more than ``rtol·‖W‖_F`` the result is flagged unreliable, with a
warning that gives the eigenvector condition number and the eigenvalue-free upper bound
``sqrt(‖W‖_F² − |tr W²|)`` (exact when the spectrum is real).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import xarray as xr

from .chain_motif import chain_motif_profile, check_motif_options
from ..errors import DynalysisError, NumericalReliabilityWarning, OptionError
from .._core.divergence import DIVERGED_FLAGS, warn_diverged
from .._core.linearisation import LINEARISATION, linearisation
from .._core.options import check_option, check_positive_float, check_positive_int
from .._core.result import Schema, Var, build_result
from .._core.trajectory import sort_by_modulus

__all__ = ["nonnormality", "henrici", "MATRIX_CHOICES", "SCHEMA"]

#: which matrix of a system `nonnormality` analyses
MATRIX_CHOICES = ("auto", "recurrent", "linearisation")
_RECURRENT = "recurrent_matrix() of the system"


def henrici(W: np.ndarray) -> float:
    """Henrici departure from normality: Frobenius norm of the strictly upper Schur part.

    >>> round(henrici(np.diag([0.5, 0.5], -1)), 12)  # chain α = 0.5, N = 3: α√(N−1)
    0.707106781187
    """
    import scipy.linalg  # lazy: slow to import

    T, _ = scipy.linalg.schur(np.asarray(W, dtype=complex), output="complex")
    return float(np.linalg.norm(np.triu(T, 1)))


def _henrici_recomputations(W: np.ndarray) -> np.ndarray:
    """d of W, Wᵀ, PWP and PWᵀP (P the reversal permutation): equal in exact arithmetic."""
    P = W[::-1, ::-1]
    return np.array([henrici(W), henrici(W.T), henrici(P), henrici(P.T)])


def _eigenvector_condition(W: np.ndarray) -> float:
    """2-norm condition number of the matrix of unit eigenvectors (inf when defective)."""
    _, V = np.linalg.eig(W)
    V = V / np.linalg.norm(V, axis=0, keepdims=True)
    with np.errstate(all="ignore"):
        c = np.linalg.cond(V)
    return float(c) if np.isfinite(c) and c < 1 / np.finfo(float).eps ** 2 else float("inf")


def _is_matrix(obj) -> bool:
    return isinstance(obj, (np.ndarray, torch.Tensor, list, tuple))


def _check_matrix(W, what: str, error=OptionError) -> np.ndarray:
    """``W`` as a finite square float64 array; ``error`` names the culprit (the caller's matrix:
    `OptionError`; a matrix taken from a system: `DynalysisError`)."""
    W = W.detach().cpu().numpy() if isinstance(W, torch.Tensor) else np.asarray(W)
    if W.ndim != 2 or W.shape[0] != W.shape[1] or W.shape[0] < 1:
        raise error(f"{what} must be square (N, N), got shape {W.shape}")
    W = W.astype(np.float64)
    if not np.isfinite(W).all():
        raise error(f"{what} contains NaN or inf values")
    return W


def _power_norms(W: np.ndarray, max_power: int) -> np.ndarray:
    """``‖W^k‖₂`` for ``k = 0..max_power`` (inf once a power overflows; no SVD of a non-finite matrix)."""
    out = np.full(max_power + 1, np.inf)
    P = np.eye(W.shape[0])
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(max_power + 1):
            if not np.isfinite(P).all():
                break
            out[k] = np.linalg.norm(P, 2)
            P = W @ P
    return out


def nonnormality(matrix_or_system, *, matrix: str = "auto", rtol: float = 1e-6, max_power: int = 50,
                 motif_steps: int = 100, n_pulses: int = 16, pulse=None, pulse_into: str | None = None,
                 pulse_scale: float = 1.0, seed: int = 0) -> xr.Dataset:
    """Non-normality measures and the chain-motif profile of a recurrent weight matrix.

    Parameters
    ----------
    matrix_or_system : array (N, N) or System
        A weight matrix, or a step map whose matrix (see ``matrix``) is analysed (its own
        dynamics then drive the chain-motif pulses).
    matrix : {"auto", "recurrent", "linearisation"}, default "auto"
        For a system: ``"recurrent"`` analyses `System.recurrent_matrix` (an error when there is
        none); ``"linearisation"`` the Jacobian ``J = ∂F/∂h`` at the system's initial state with
        zero input (defined for every cell, e.g. gated ones, whose state ``(h, c)`` then gives
        an ``S × S`` matrix); ``"auto"`` the recurrent matrix when the system has one, else the
        linearisation. A bare matrix is analysed as given (only ``"auto"``). The attribute
        ``matrix_source`` says which matrix it was.
    rtol : float, default 1e-6
        Henrici values that disagree across exact similarity transforms by more than
        ``rtol·‖W‖_F`` are flagged unreliable (``henrici_reliable = 0``) with a warning.
    max_power : int, default 50
        ``power_norm`` is ``‖W^k‖₂`` for ``k = 0..max_power``.
    motif_steps, n_pulses, pulse, pulse_into, pulse_scale, seed
        Chain-motif options, see `dynalysis.nonnormal.chain_motif.check_motif_options`. A bare
        matrix is pulsed through the linear map ``h ← W h``.

    Returns
    -------
    xarray.Dataset
        Scalars: ``henrici`` (raw, Schur-based), ``henrici_normalized`` (÷ ‖W‖_F),
        ``henrici_upper_bound``, ``henrici_spread`` (range of the recomputations),
        ``henrici_reliable`` (flag), ``eigenvector_condition`` (κ₂ of the unit-eigenvector
        matrix, inf if defective), ``frobenius_norm``, ``spectral_radius`` ρ,
        ``spectral_norm`` ‖W‖₂, ``spectral_abscissa`` max Re λ, ``numerical_abscissa``
        λ_max((W+Wᵀ)/2). ``eigenvalue (eigen_index)`` (complex, decreasing modulus);
        ``power_norm (power)`` (inf once a power overflows); ``motif_profile`` and
        ``motif_profile_std (order_difference)``, over the finite pulses; ``diverged (pulse)``:
        1 where a pulse's response became NaN/inf (with a `dynalysis.DivergenceWarning`).

    Notes
    -----
    Transient growth. For the continuous flow ``ḣ = W h`` the initial growth rate of ``‖h‖``
    is the numerical abscissa ``ω(W) = λ_max((W+Wᵀ)/2)`` versus the asymptotic spectral
    abscissa ``max Re λ``. For the discrete map ``h ← W h`` (the RNN case) the one-step
    amplification is ``‖W‖₂`` versus the asymptotic rate ``ρ(W)``; ``power_norm`` traces
    ``‖W^k‖₂`` between the two (it can exceed ``ρ^k`` by orders of magnitude for non-normal W
    even when ``ρ < 1``). All four are reported. For a cell without a single recurrent matrix
    the linearisation ``J`` plays the role of ``W``: the map ``δh ← J δh`` is the dynamics of
    small perturbations of the resting state.

    References
    ----------
    P. Henrici, "Bounds for iterates, inverses, spectral variation and fields of values of
    non-normal matrices", Numer. Math. 4 (1962) 24–40.
    A. E. Orhan, X. Pitkow, "Improved memory in recurrent neural networks with sequential
    non-normal dynamics", ICLR 2020.
    K. Rajan, C. D. Harvey, D. W. Tank, "Recurrent network models of sequence generation and
    memory", Neuron 90 (2016) 128–142.
    L. N. Trefethen, M. Embree, "Spectra and Pseudospectra", Princeton (2005), ch. 14–17.

    Examples
    --------
    >>> import numpy as np, torch, dynalysis
    >>> chain = np.diag(np.full(19, 0.99), -1)      # W[i+1, i] = α, N = 20
    >>> ds = dynalysis.nonnormality(chain)
    >>> round(float(ds.henrici), 6), round(0.99 * 19 ** 0.5, 6), int(ds.henrici_reliable)
    (4.31531, 4.31531, 1)

    A map without a recurrent matrix is analysed through its linearisation at rest:

    >>> J = torch.tensor([[0.5, 2.0], [0.0, 0.5]], dtype=torch.float64)
    >>> cell = dynalysis.MapSystem(lambda h, x: torch.tanh(h @ J.T), 2)
    >>> ds = dynalysis.nonnormality(cell)
    >>> float(ds.henrici), ds.attrs["matrix_source"]
    (2.0, 'Jacobian at the initial state, zero input')
    """
    check_option("matrix", matrix, MATRIX_CHOICES)
    rtol = check_positive_float("rtol", rtol)
    max_power = check_positive_int("max_power", max_power, minimum=0)
    if _is_matrix(matrix_or_system):
        if matrix != "auto":
            raise OptionError(f"matrix={matrix!r} chooses a matrix of a system; a bare matrix is "
                              "analysed as given (matrix='auto')")
        system, W, source = None, _check_matrix(matrix_or_system, "the matrix"), "given matrix"
        N = W.shape[0]
    else:
        system = matrix_or_system
        W = None if matrix == "linearisation" else system.recurrent_matrix()
        if W is None and matrix == "recurrent":
            raise OptionError(f"matrix='recurrent': {type(system).__name__} has no single recurrent "
                              "weight matrix (e.g. a gated cell); use matrix='linearisation' or 'auto'")
        N = system.state_size if W is None else int(W.shape[0])
    motif = check_motif_options(N, system, steps=motif_steps, n_pulses=n_pulses, pulse=pulse,
                                pulse_into=pulse_into, pulse_scale=pulse_scale, seed=seed)
    if system is not None:  # every option checked: now the work
        if W is not None:
            W, source = _check_matrix(W, "the recurrent matrix", DynalysisError), _RECURRENT
        else:
            A, _ = linearisation(system, input_channel=None)
            W, source = _check_matrix(A, "the Jacobian at the initial state", DynalysisError), LINEARISATION
    N = W.shape[0]
    fro = float(np.linalg.norm(W))
    recomputed = _henrici_recomputations(W)
    d = float(recomputed[0])
    spread = float(np.ptp(recomputed))
    reliable = spread <= rtol * max(fro, np.finfo(float).tiny)
    kappa = _eigenvector_condition(W)
    bound = float(np.sqrt(max(fro ** 2 - abs(np.trace(W @ W)), 0.0)))
    if not reliable:
        warnings.warn(
            f"Henrici departure d = {d:.6g} is not reliable in float64: recomputations from exact "
            f"similarity transforms differ by {spread:.3g} (> rtol·||W||_F = {rtol * fro:.3g}); the "
            f"eigenvector condition number is {kappa:.3g}. Eigenvalue-free upper bound "
            f"sqrt(||W||_F^2 - |tr W^2|) = {bound:.6g} (exact when the spectrum is real).",
            NumericalReliabilityWarning, stacklevel=2)
    eig = sort_by_modulus(np.linalg.eigvals(W).astype(complex))
    power_norm = _power_norms(W, max_power)
    profile = chain_motif_profile(W, system, steps=motif["steps"], pulses=motif["pulses"],
                                  pulse_into=motif["pulse_into"], options=motif["options"])
    warn_diverged(profile["diverged"], what="pulses", analysis="nonnormality")
    data = {
        "henrici": d, "henrici_normalized": d / fro if fro > 0 else 0.0, "henrici_upper_bound": bound,
        "henrici_spread": spread, "henrici_reliable": reliable, "eigenvector_condition": kappa,
        "frobenius_norm": fro, "spectral_radius": float(np.abs(eig[0])),
        "spectral_norm": float(np.linalg.norm(W, 2)), "spectral_abscissa": float(eig.real.max()),
        "numerical_abscissa": float(np.linalg.eigvalsh((W + W.T) / 2)[-1]),
        "eigenvalue": eig, "power_norm": power_norm,
        "motif_profile": profile["profile"], "motif_profile_std": profile["std"],
        "diverged": profile["diverged"],
    }
    coords = {"eigen_index": np.arange(N), "power": np.arange(max_power + 1),
              "order_difference": np.arange(-(N - 1), N), "pulse": np.arange(len(profile["diverged"]))}
    options = dict(matrix=matrix, rtol=rtol, max_power=max_power, seed=int(seed), **profile["options"])
    return build_result(SCHEMA, data, coords, system=system, options=options,
                        source=None if system is not None else f"matrix {N}x{N}",
                        attrs={"matrix_source": source})


SCHEMA = Schema("nonnormality", description="Henrici departure from normality, transient growth and "
                "the chain-motif profile of the recurrent matrix (or of the linearisation at rest)", variables={
    "henrici": Var((), "Henrici departure from normality ||strictly upper Schur part||_F"),
    "henrici_normalized": Var((), "Henrici departure divided by ||W||_F"),
    "henrici_upper_bound": Var((), "eigenvalue-free upper bound sqrt(||W||_F^2 - |tr W^2|)"),
    "henrici_spread": Var((), "range of d over exact similarity transforms of W"),
    "henrici_reliable": Var((), "Henrici value determined to rtol in float64", flags=("unreliable", "reliable")),
    "eigenvector_condition": Var((), "2-norm condition number of the unit eigenvector matrix"),
    "frobenius_norm": Var((), "Frobenius norm ||W||_F"),
    "spectral_radius": Var((), "spectral radius max|lambda| (asymptotic growth per step)"),
    "spectral_norm": Var((), "spectral norm ||W||_2 (largest one-step amplification)"),
    "spectral_abscissa": Var((), "spectral abscissa max Re lambda"),
    "numerical_abscissa": Var((), "numerical abscissa lambda_max((W + W^T)/2)"),
    "eigenvalue": Var(("eigen_index",), "eigenvalue of W (decreasing modulus)"),
    "power_norm": Var(("power",), "spectral norm of the matrix power ||W^k||_2 (transient growth)"),
    "motif_profile": Var(("order_difference",), "mean weight W_ij vs peak-time order difference i - j"),
    "motif_profile_std": Var(("order_difference",), "standard deviation of the profile across pulses"),
    "diverged": Var(("pulse",), "chain-motif pulse diverged (NaN/inf response)", flags=DIVERGED_FLAGS),
}, coords={
    "eigen_index": Var(("eigen_index",), "eigenvalue rank (0 = largest modulus)"),
    "power": Var(("power",), "matrix power k"),
    "order_difference": Var(("order_difference",), "peak-time rank of the receiving unit minus the sending unit"),
    "pulse": Var(("pulse",), "chain-motif pulse index"),
})
