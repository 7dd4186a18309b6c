"""Non-normality of a recurrent weight matrix (docs/science.md §3, §5; Orhan & Pitkow 2020).

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

from .chain_motif import chain_motif_profile
from ..errors import DynalysisError, NumericalReliabilityWarning, OptionError
from .._core.options import check_positive_int
from .._core.provenance import provenance_attrs, set_var_attrs
from .._core.trajectory import set_flag, sort_by_modulus

__all__ = ["nonnormality", "henrici"]


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


def _as_matrix(matrix_or_system):
    """``(W as float64 ndarray, system or None)``."""
    if isinstance(matrix_or_system, (np.ndarray, torch.Tensor, list, tuple)):
        arr = matrix_or_system
        W = arr.detach().cpu().numpy() if isinstance(arr, torch.Tensor) else np.asarray(arr)
        system = None
    else:
        system = matrix_or_system
        fn = getattr(system, "recurrent_matrix", None)
        W = None if fn is None else fn()
        if W is None:
            raise DynalysisError(f"{type(system).__name__} has no recurrent weight matrix (e.g. a gated "
                                 "cell); pass the matrix to analyse instead")
        W = W.detach().cpu().numpy() if isinstance(W, torch.Tensor) else np.asarray(W)
    if W.ndim != 2 or W.shape[0] != W.shape[1] or W.shape[0] < 1:
        raise OptionError(f"the matrix must be square (N, N), got shape {W.shape}")
    W = W.astype(np.float64)
    if not np.isfinite(W).all():
        raise OptionError("the matrix contains NaN or inf values")
    return W, system


def nonnormality(matrix_or_system, *, rtol: float = 1e-6, max_power: int = 50,
                 motif_steps: int = 100, n_pulses: int = 16, pulse=None, pulse_into: str | None = None,
                 pulse_scale: float = 1.0, seed: int = 0) -> xr.Dataset:
    """Non-normality measures and the chain-motif profile of a recurrent weight matrix.

    Parameters
    ----------
    matrix_or_system : array (N, N) or System
        A weight matrix, or a step map whose `System.recurrent_matrix` is analysed (its own
        dynamics then drive the chain-motif pulses).
    rtol : float, default 1e-6
        Henrici values that disagree across exact similarity transforms by more than
        ``rtol·‖W‖_F`` are flagged unreliable (``henrici_reliable = 0``) with a warning.
    max_power : int, default 50
        ``power_norm`` is ``‖W^k‖₂`` for ``k = 0..max_power``.
    motif_steps, n_pulses, pulse, pulse_into, pulse_scale, seed
        Chain-motif options, see `dynalysis.nonnormal.chain_motif.chain_motif_profile`. A bare matrix
        is pulsed through the linear map ``h ← W h``.

    Returns
    -------
    xarray.Dataset
        Scalars: ``henrici`` (raw, Schur-based), ``henrici_normalized`` (÷ ‖W‖_F),
        ``henrici_upper_bound``, ``henrici_spread`` (range of the recomputations),
        ``henrici_reliable`` (flag), ``eigenvector_condition`` (κ₂ of the unit-eigenvector
        matrix, inf if defective), ``frobenius_norm``, ``spectral_radius`` ρ,
        ``spectral_norm`` ‖W‖₂, ``spectral_abscissa`` max Re λ, ``numerical_abscissa``
        λ_max((W+Wᵀ)/2). ``eigenvalue (eigen_index)`` (complex, decreasing modulus);
        ``power_norm (power)``; ``motif_profile`` and ``motif_profile_std
        (order_difference)``.

    Notes
    -----
    Transient growth. For the continuous flow ``ḣ = W h`` the initial growth rate of ``‖h‖``
    is the numerical abscissa ``ω(W) = λ_max((W+Wᵀ)/2)`` versus the asymptotic spectral
    abscissa ``max Re λ``. For the discrete map ``h ← W h`` (the RNN case) the one-step
    amplification is ``‖W‖₂`` versus the asymptotic rate ``ρ(W)``; ``power_norm`` traces
    ``‖W^k‖₂`` between the two (it can exceed ``ρ^k`` by orders of magnitude for non-normal W
    even when ``ρ < 1``). All four are reported.

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
    >>> import numpy as np, dynalysis
    >>> chain = np.diag(np.full(19, 0.99), -1)      # W[i+1, i] = α, N = 20
    >>> ds = dynalysis.nonnormality(chain)
    >>> round(float(ds.henrici), 6), round(0.99 * 19 ** 0.5, 6), int(ds.henrici_reliable)
    (4.31531, 4.31531, 1)
    """
    W, system = _as_matrix(matrix_or_system)
    if not (isinstance(rtol, (int, float)) and rtol > 0):
        raise OptionError(f"rtol must be a positive number, got {rtol!r}")
    max_power = check_positive_int("max_power", max_power, minimum=0)
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
    powers = [np.eye(N)]
    for _ in range(max_power):
        powers.append(W @ powers[-1])
    power_norm = np.linalg.norm(np.stack(powers), ord=2, axis=(1, 2))
    motif = chain_motif_profile(W, system, steps=motif_steps, n_pulses=n_pulses, pulse=pulse,
                                pulse_into=pulse_into, pulse_scale=pulse_scale, seed=seed)

    ds = xr.Dataset(
        {
            "henrici": ((), d),
            "henrici_normalized": ((), d / fro if fro > 0 else 0.0),
            "henrici_upper_bound": ((), bound),
            "henrici_spread": ((), spread),
            "henrici_reliable": ((), np.int8(reliable)),
            "eigenvector_condition": ((), kappa),
            "frobenius_norm": ((), fro),
            "spectral_radius": ((), float(np.abs(eig[0]))),
            "spectral_norm": ((), float(power_norm[1]) if max_power else float(np.linalg.norm(W, 2))),
            "spectral_abscissa": ((), float(eig.real.max())),
            "numerical_abscissa": ((), float(np.linalg.eigvalsh((W + W.T) / 2)[-1])),
            "eigenvalue": ("eigen_index", eig),
            "power_norm": ("power", power_norm),
            "motif_profile": ("order_difference", motif["profile"]),
            "motif_profile_std": ("order_difference", motif["std"]),
        },
        coords={"eigen_index": np.arange(N), "power": np.arange(max_power + 1),
                "order_difference": np.arange(-(N - 1), N)},
    )
    set_var_attrs(ds, {
        "henrici": ("Henrici departure from normality ||strictly upper Schur part||_F", "1"),
        "henrici_normalized": ("Henrici departure divided by ||W||_F", "1"),
        "henrici_upper_bound": ("eigenvalue-free upper bound sqrt(||W||_F^2 - |tr W^2|)", "1"),
        "henrici_spread": ("range of d over exact similarity transforms of W", "1"),
        "henrici_reliable": ("Henrici value determined to rtol in float64", "1"),
        "eigenvector_condition": ("2-norm condition number of the unit eigenvector matrix", "1"),
        "frobenius_norm": ("Frobenius norm ||W||_F", "1"),
        "spectral_radius": ("spectral radius max|lambda| (asymptotic growth per step)", "1"),
        "spectral_norm": ("spectral norm ||W||_2 (largest one-step amplification)", "1"),
        "spectral_abscissa": ("spectral abscissa max Re lambda", "1"),
        "numerical_abscissa": ("numerical abscissa lambda_max((W + W^T)/2)", "1"),
        "eigenvalue": ("eigenvalue of W (decreasing modulus)", "1"),
        "power_norm": ("spectral norm of the matrix power ||W^k||_2 (transient growth)", "1"),
        "motif_profile": ("mean weight W_ij vs peak-time order difference i - j", "1"),
        "motif_profile_std": ("standard deviation of the profile across pulses", "1"),
        "eigen_index": ("eigenvalue rank (0 = largest modulus)", "1"),
        "power": ("matrix power k", "1"),
        "order_difference": ("peak-time rank of the receiving unit minus the sending unit", "1"),
    })
    set_flag(ds, "henrici_reliable", ("unreliable", "reliable"))
    ds.attrs.update(provenance_attrs("nonnormality", system if system is not None else _MatrixSource(N),
                                     dict(rtol=rtol, max_power=max_power, seed=int(seed), **motif["options"])))
    ds.attrs["matrix_source"] = "recurrent_matrix() of the system" if system is not None else "given matrix"
    return ds


class _MatrixSource:
    """Provenance stand-in when a bare matrix is analysed."""

    def __init__(self, n: int):
        self.metadata = {"name": f"matrix {n}x{n}"}
