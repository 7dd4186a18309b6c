"""ε-pseudospectra of a matrix or of a step map's linearisation (docs/science.md §6).

    σ_ε(A) = {z ∈ ℂ : σ_min(zI − A) ≤ ε} = {z : ‖(zI − A)^{-1}‖₂ ≥ 1/ε}

the set of eigenvalues of all perturbations ``A + E`` with ``‖E‖₂ ≤ ε`` (Trefethen & Embree
2005, ch. 2). For a normal ``A`` it is the union of the ε-disks around the eigenvalues; for a
non-normal one it can reach far beyond them, and its reach past the unit circle is what
allows transient growth of ``h ← A h`` (`dynalysis.transient_growth`).

Everything is computed from one complex Schur form ``A = Z T Zᴴ``: ``σ_min`` on the grid by
inverse Lanczos on ``T`` (`dynalysis.spectra._resolvent`), the ε-pseudospectral radius and
abscissa by criss-cross searches (`dynalysis.spectra._criss_cross`), the Kreiss lower bound by
a polar grid and local refinement (`dynalysis.spectra._kreiss`).
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import NumericalReliabilityWarning, OptionError
from .._core.options import check_option, check_positive_int
from .._core.result import Schema, Var, build_result
from .._core.trajectory import sort_by_modulus
from ._criss_cross import pseudospectral_abscissa, pseudospectral_radius
from ._kreiss import KREISS_METHOD, kreiss_lower_bound
from ._resolvent import schur_form, sigma_min

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["pseudospectra", "analysed_matrix", "check_matrix_options", "default_grid", "BOUNDARY_METHODS",
           "MATRIX_AT"]

MATRIX_AT = ("recurrent", "initial_state")
BOUNDARY_METHODS = ("criss-cross", "grid")
_MAX_GRID = 2000
_PAD = 0.1  # the default grid extends the box holding σ_ε by this fraction of its larger side

SIGMA_MIN_METHOD = ("inverse Lanczos (Golub-Kahan) on (zI - T)^-1, T the complex Schur factor of A, "
                    "batched over grid points; each value to rtol by the a posteriori Ritz bound")
_BOUNDARY_TEXT = {
    "criss-cross": "criss-cross searches (Burke-Lewis-Overton 2003 abscissa, Mengi-Overton 2005 radius): "
                   "global optimum, boundary crossings from Hamiltonian eigenvalues, accurate to "
                   "about 1e-12 relative; the residual variables give |sigma_min(z*) - eps| / eps",
    "grid": "largest |z| (Re z) over grid points and eigenvalues with sigma_min <= eps: a lower "
            "estimate, accurate to about the grid spacing",
}


def check_matrix_options(matrix_or_system, at, at_input) -> None:
    """Check ``at``/``at_input`` against what is analysed (raises `OptionError`, no work done)."""
    bare = isinstance(matrix_or_system, (np.ndarray, torch.Tensor, list, tuple))
    if isinstance(at, str):
        check_option("at", at, MATRIX_AT)
        if bare and at != "recurrent":
            raise OptionError(f"at={at!r} needs a System (a Jacobian is taken there); a matrix is analysed as given")
    else:
        if bare:
            raise OptionError("at= (a state) needs a System; a matrix is analysed as given")
        state = np.asarray(at.detach().cpu() if isinstance(at, torch.Tensor) else at, dtype=float)
        if state.shape != (matrix_or_system.state_size,) or not np.isfinite(state).all():
            raise OptionError(f"at must be 'recurrent', 'initial_state' or a finite state of shape "
                              f"({matrix_or_system.state_size},), got shape {state.shape}")
    if at_input is not None:
        if bare or at == "recurrent":
            raise OptionError("at_input is the constant input of a Jacobian: give it with at='initial_state' "
                              "or a state")
        x = np.asarray(at_input.detach().cpu() if isinstance(at_input, torch.Tensor) else at_input, dtype=float)
        if x.shape != (matrix_or_system.input_size,) or not np.isfinite(x).all():
            raise OptionError(f"at_input must be a finite input of shape ({matrix_or_system.input_size},), "
                              f"got shape {x.shape}")


def analysed_matrix(matrix_or_system, *, at="recurrent", at_input=None) -> tuple[np.ndarray, object, str]:
    """``(A, system or None, description)``: the matrix an analysis of ``matrix_or_system`` uses.

    A bare matrix as given; for a System its ``recurrent_matrix()`` (``at="recurrent"``) or the
    state Jacobian ``∂F/∂h`` at the initial state or at a given state, with the constant input
    ``at_input`` (zero by default). Float64 (complex128 for a complex matrix).

    >>> import dynalysis
    >>> A, _, src = analysed_matrix(dynalysis.testing.linear_map([[0.5, 1.0], [0.0, 0.2]]), at="initial_state")
    >>> A.tolist(), src
    ([[0.5, 1.0], [0.0, 0.2]], "Jacobian dF/dh at the system's initial state, input zero")
    """
    check_matrix_options(matrix_or_system, at, at_input)
    if isinstance(matrix_or_system, (np.ndarray, torch.Tensor, list, tuple)):
        A = _to_numpy(matrix_or_system)
        system, source = None, "given matrix"
    else:
        system = matrix_or_system
        if isinstance(at, str) and at == "recurrent":
            W = system.recurrent_matrix()
            if W is None:
                raise OptionError(f"at='recurrent' but {type(system).__name__} has no recurrent weight matrix "
                                  "(e.g. a gated cell); use at='initial_state' or a state (the Jacobian there)")
            A, source = _to_numpy(W), "recurrent_matrix() of the system"
        else:
            A, source = _jacobian_at(system, at, at_input)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] < 1:
        raise OptionError(f"the matrix must be square (N, N), got shape {A.shape}")
    if not np.isfinite(A).all():
        raise OptionError(f"the {source} contains NaN or inf values")
    return A, system, source


def _to_numpy(M) -> np.ndarray:
    A = np.asarray(M.detach().cpu().numpy() if isinstance(M, torch.Tensor) else M)
    return A.astype(np.complex128 if np.iscomplexobj(A) else np.float64)


def _jacobian_at(system, at, at_input) -> tuple[np.ndarray, str]:
    sys64 = system.to(dtype=torch.float64)
    if isinstance(at, str):  # "initial_state"
        h, where = sys64.initial_state(1, dtype=torch.float64), "the system's initial state"
    else:
        h, where = torch.as_tensor(at, dtype=torch.float64).reshape(1, -1), "the given state"
    x = (torch.zeros(1, system.input_size, dtype=torch.float64) if at_input is None
         else torch.as_tensor(at_input, dtype=torch.float64).reshape(1, -1))
    with torch.no_grad():
        J = sys64.jacobian(h, x)[0]
    text = "input zero" if at_input is None else "the given constant input"
    return J.cpu().numpy().astype(np.float64), f"Jacobian dF/dh at {where}, {text}"


def _check_epsilons(epsilons) -> np.ndarray:
    try:
        eps = np.unique(np.asarray(epsilons, dtype=float).reshape(-1))
    except (TypeError, ValueError):
        raise OptionError(f"epsilons must be positive numbers, got {epsilons!r}") from None
    if eps.size == 0 or not np.isfinite(eps).all() or (eps <= 0).any():
        raise OptionError(f"epsilons must be one or more finite positive numbers, got {epsilons!r}")
    return eps


def _check_grid(grid):
    """An int (points along the longer side of the default box) or ``(real, imag)`` axes."""
    if isinstance(grid, (int, np.integer)) and not isinstance(grid, bool):
        return check_positive_int("grid", grid, minimum=2, maximum=_MAX_GRID)
    if isinstance(grid, (tuple, list)) and len(grid) == 2:
        axes = []
        for name, ax in zip(("real", "imag"), grid):
            a = np.asarray(ax, dtype=float)
            if a.ndim != 1 or a.size < 2 or not np.isfinite(a).all() or (np.diff(a) <= 0).any():
                raise OptionError(f"grid {name} axis must be a finite increasing 1-D array of >= 2 values")
            axes.append(a)
        return tuple(axes)
    raise OptionError(f"grid must be an integer in [2, {_MAX_GRID}] or a pair (real values, imag values), "
                      f"got {grid!r}")


def default_grid(A: np.ndarray, n_points: int, eps_max: float) -> tuple[np.ndarray, np.ndarray]:
    """Equally spaced ``(real, imag)`` axes over a box that holds ``σ_ε(A)`` for ``ε ≤ eps_max``.

    ``σ_ε(A) ⊆ W(A) + ε-disk`` (Trefethen & Embree Thm 17.2), and the bounding box of the numerical
    range ``W(A)`` is spanned by the extreme eigenvalues of the Hermitian parts ``(A + Aᴴ)/2`` and
    ``(A − Aᴴ)/2i``; the box is widened by ``eps_max`` and then by `_PAD` of its larger side.
    The imaginary axis of a real ``A`` is symmetric about 0 (the grid is then computed on half).
    """
    h_re = np.linalg.eigvalsh((A + A.conj().T) / 2)
    h_im = np.linalg.eigvalsh((A - A.conj().T) / 2j)
    lo = complex(h_re[0] - eps_max, h_im[0] - eps_max)
    hi = complex(h_re[-1] + eps_max, h_im[-1] + eps_max)
    pad = _PAD * max(hi.real - lo.real, hi.imag - lo.imag)
    lo, hi = lo - complex(pad, pad), hi + complex(pad, pad)
    step = max(hi.real - lo.real, hi.imag - lo.imag) / (n_points - 1)
    m_re = int(np.ceil((hi.real - lo.real) / step - 1e-9)) + 1
    real = (lo.real + hi.real) / 2 + (np.arange(m_re) - (m_re - 1) / 2) * step
    if np.isrealobj(A):
        half = np.arange(int(np.ceil(max(abs(lo.imag), hi.imag) / step - 1e-9)) + 1) * step
        imag = np.concatenate([-half[:0:-1], half])
    else:
        m_im = int(np.ceil((hi.imag - lo.imag) / step - 1e-9)) + 1
        imag = (lo.imag + hi.imag) / 2 + (np.arange(m_im) - (m_im - 1) / 2) * step
    return real, imag


def _grid_sigma(T, real, imag, *, symmetric: bool, rtol: float, seed: int, device):
    """``σ_min`` on the grid ``(imag, real)``; rows of ``imag < 0`` mirrored when ``symmetric``."""
    Z = real[None, :] + 1j * imag[:, None]
    if not symmetric:
        return sigma_min(T, Z, rtol=rtol, seed=seed, device=device)
    upper = imag >= 0
    s_up, ok_up = sigma_min(T, Z[upper], rtol=rtol, seed=seed, device=device)
    row = {v: i for i, v in enumerate(imag[upper])}
    src = [row[abs(v)] for v in imag]  # σ_min(z̄I − A) = σ_min(zI − A) for a real A
    return s_up[src], ok_up[src]


SCHEMA = Schema("pseudospectra", description="epsilon-pseudospectra, pseudospectral radius/abscissa and the "
                                             "Kreiss constant of a matrix", variables={
    "sigma_min": Var(("imag", "real"), "smallest singular value of zI - A at z = real + i*imag "
                                       "(z is in the eps-pseudospectrum where sigma_min <= eps)"),
    "eigenvalue": Var(("eigen_index",), "eigenvalue of A (decreasing modulus)"),
    "spectral_radius": Var((), "spectral radius max|lambda|"),
    "spectral_abscissa": Var((), "spectral abscissa max Re lambda"),
    "pseudospectral_radius": Var(("epsilon",), "eps-pseudospectral radius max{|z| : sigma_min(zI - A) <= eps}"),
    "pseudospectral_abscissa": Var(("epsilon",), "eps-pseudospectral abscissa max{Re z : sigma_min(zI - A) <= eps}"),
    "radius_point": Var(("epsilon",), "point z of the eps-pseudospectrum where |z| is largest"),
    "abscissa_point": Var(("epsilon",), "point z of the eps-pseudospectrum where Re z is largest"),
    "radius_residual": Var(("epsilon",), "|sigma_min(z*I - A) - eps| / eps at radius_point (dense SVD check)"),
    "abscissa_residual": Var(("epsilon",), "|sigma_min(z*I - A) - eps| / eps at abscissa_point (dense SVD check)"),
    "kreiss_lower_bound": Var((), "lower bound on the Kreiss constant sup_{|z|>1} (|z|-1) ||(zI - A)^-1||_2 "
                                  "(numerical maximum; the true constant is at least this)"),
    "kreiss_point": Var((), "z where the Kreiss lower bound is attained (NaN: the limit 1 as |z| -> inf)"),
}, coords={
    "real": Var(("real",), "real part of z"),
    "imag": Var(("imag",), "imaginary part of z"),
    "epsilon": Var(("epsilon",), "perturbation size eps (2-norm)"),
    "eigen_index": Var(("eigen_index",), "eigenvalue rank (0 = largest modulus)"),
})


def pseudospectra(matrix_or_system, *, epsilons=(1e-3, 1e-2, 1e-1), grid=100, at="recurrent",
                  at_input=None, boundary_method: str = "criss-cross", rtol: float = 1e-6,
                  seed: int = 0, device=None) -> xr.Dataset:
    """ε-pseudospectra, pseudospectral radius and abscissa, and the Kreiss constant of a matrix.

    Parameters
    ----------
    matrix_or_system : array (N, N) or System
        A matrix (real or complex), or a step map whose matrix ``at`` selects.
    epsilons : sequence of float, default (1e-3, 1e-2, 1e-1)
        Perturbation sizes ``ε`` (absolute, in the 2-norm), sorted ascending in the result.
    grid : int or (real values, imag values), default 100
        An int: that many points along the longer side of a box that holds ``σ_ε`` for the
        largest ``ε`` (the numerical range widened by ``ε``, plus 10 %; `default_grid`), equal
        spacing on both axes. Or the two axes, each increasing.
    at : {"recurrent", "initial_state"} or state (S,), default "recurrent"
        Which matrix of a System: ``recurrent_matrix()`` (the linear part ``W``), or the state
        Jacobian ``∂F/∂h`` at the initial state or at a given state, e.g. a fixed point
        (`dynalysis.find_fixed_points`). Recorded in the attribute ``matrix_source``.
    at_input : array (input_size,), optional
        Constant input of that Jacobian (zero by default).
    boundary_method : {"criss-cross", "grid"}, default "criss-cross"
        How ``pseudospectral_radius``/``abscissa`` are found: the global criss-cross searches
        (``O(n³)`` per step, a few steps per ``ε``) or the grid alone (cheap, to about the
        grid spacing).
    rtol : float, default 1e-6
        Relative accuracy of each ``sigma_min`` value on the grid.
    seed : int, default 0
        Seed of the Lanczos start vector.
    device : optional
        Torch device of the batched triangular solves.

    Returns
    -------
    xarray.Dataset
        ``sigma_min (imag, real)``: ``σ_min(zI − A)`` (draw contours at ``ε``);
        ``eigenvalue (eigen_index)`` (complex, decreasing modulus); ``pseudospectral_radius``,
        ``pseudospectral_abscissa (epsilon)`` and the points attaining them
        (``radius_point``, ``abscissa_point``, complex) with ``radius_residual``,
        ``abscissa_residual`` (``|σ_min(z*) − ε|/ε`` by a dense SVD: the accuracy reached);
        scalars ``spectral_radius``, ``spectral_abscissa``, ``kreiss_lower_bound`` and
        ``kreiss_point``. Attributes ``matrix_source``, ``sigma_min_method``,
        ``boundary_method``, ``kreiss_method``, ``grid_spacing``. Read the grid axes as
        ``ds["real"]`` and ``ds["imag"]`` (``ds.real`` is xarray's real part of the Dataset).

    Warns
    -----
    NumericalReliabilityWarning
        When some grid values did not reach ``rtol``, or an ``ε`` is below ``100·u·‖A‖₂``
        (round-off level: such pseudospectra are not determined in float64).

    Notes
    -----
    ``σ_min(zI − A) = σ_min(zI − T)`` for the complex Schur form ``A = Z T Zᴴ``; each grid value
    costs a few ``O(n²)`` triangular solves. For a normal ``A``, ``σ_min(zI − A) = min_i |z − λ_i|``
    and ``ρ_ε = ρ + ε``, ``α_ε = α + ε`` exactly. Discrete-time Kreiss constant
    ``K(A) = sup_{|z|>1} (|z| − 1)‖(zI − A)^{-1}‖₂`` with ``K ≤ sup_k ‖A^k‖₂ ≤ e·n·K``; a
    numerical maximum is a lower bound, so the variable says so.

    References
    ----------
    L. N. Trefethen, M. Embree, "Spectra and Pseudospectra", Princeton (2005), ch. 2, 14-18, 39.
    J. V. Burke, A. S. Lewis, M. L. Overton, "Robust stability and a criss-cross algorithm for
    pseudospectra", IMA J. Numer. Anal. 23 (2003) 359-375.
    E. Mengi, M. L. Overton, "Algorithms for the computation of the pseudospectral radius and
    the numerical radius of a matrix", IMA J. Numer. Anal. 25 (2005) 648-669.
    T. G. Wright, "EigTool" (2002); L. N. Trefethen, "Computation of pseudospectra", Acta
    Numerica 8 (1999) 247-295.

    Examples
    --------
    >>> import numpy as np, dynalysis
    >>> J = np.array([[0.0, 1.0], [0.0, 0.0]])  # Jordan block: σ_ε is the disk of radius sqrt(ε(1+ε))
    >>> ds = dynalysis.pseudospectra(J, epsilons=[0.01], grid=41)
    >>> round(float(ds.pseudospectral_radius[0]), 10), round((0.01 * 1.01) ** 0.5, 10)
    (0.1004987562, 0.1004987562)
    >>> ds.sigma_min.dims, float(ds.kreiss_lower_bound)  # K = 1 (sup at |z| → ∞): ‖J^k‖ ≤ 1
    (('imag', 'real'), 1.0)
    """
    eps = _check_epsilons(epsilons)
    grid = _check_grid(grid)
    check_option("boundary_method", boundary_method, BOUNDARY_METHODS)
    if not (isinstance(rtol, (int, float)) and 0 < rtol < 1):
        raise OptionError(f"rtol must be a number in (0, 1), got {rtol!r}")
    A, system, source = analysed_matrix(matrix_or_system, at=at, at_input=at_input)
    n = A.shape[0]
    T, _ = schur_form(A)
    real_A = np.isrealobj(A)
    norm = float(np.linalg.norm(A, 2))
    if eps[0] < 100 * np.finfo(float).eps * norm:
        warnings.warn(f"epsilon {eps[0]:.3g} is below 100*u*||A||_2 = {100 * np.finfo(float).eps * norm:.3g}: "
                      "those pseudospectra are at round-off level in float64", NumericalReliabilityWarning,
                      stacklevel=2)
    real, imag = default_grid(A, grid, float(eps[-1])) if isinstance(grid, int) else grid
    symmetric = real_A and np.array_equal(imag, -imag[::-1])
    sig, ok = _grid_sigma(T, real, imag, symmetric=symmetric, rtol=float(rtol), seed=seed, device=device)
    if not ok.all():
        warnings.warn(f"{int((~ok).sum())} of {ok.size} grid values of sigma_min did not reach rtol={rtol:g} "
                      "(they err high)", NumericalReliabilityWarning, stacklevel=2)
    lam = sort_by_modulus(np.diag(T).copy())
    radius, r_point, absc, a_point = _boundary_extremes(T, eps, boundary_method, real, imag, sig, lam)
    kreiss, k_point = kreiss_lower_bound(T, real=real_A, seed=seed, device=device)
    data = {
        "sigma_min": sig, "eigenvalue": lam,
        "spectral_radius": float(np.abs(lam).max()), "spectral_abscissa": float(lam.real.max()),
        "pseudospectral_radius": radius, "pseudospectral_abscissa": absc,
        "radius_point": r_point, "abscissa_point": a_point,
        "radius_residual": _residual(A, r_point, eps), "abscissa_residual": _residual(A, a_point, eps),
        "kreiss_lower_bound": kreiss, "kreiss_point": k_point,
    }
    coords = {"real": real, "imag": imag, "epsilon": eps, "eigen_index": np.arange(n)}
    options = dict(epsilons=eps.tolist(), grid=grid if isinstance(grid, int) else "given",
                   boundary_method=boundary_method, rtol=float(rtol), seed=int(seed),
                   at=at if isinstance(at, str) else "given state",
                   at_input="zero" if at_input is None else "given")
    spacing = float(max(np.diff(real).max(), np.diff(imag).max()))
    return build_result(SCHEMA, data, coords, system=system, options=options,
                        source=None if system is not None else f"matrix {n}x{n}",
                        attrs={"matrix_source": source, "sigma_min_method": SIGMA_MIN_METHOD,
                               "sigma_min_rtol": float(rtol), "boundary_method": _BOUNDARY_TEXT[boundary_method],
                               "kreiss_method": KREISS_METHOD, "grid_spacing": spacing})


def _boundary_extremes(T, eps, method, real, imag, sig, lam):
    """``(radius, radius points, abscissa, abscissa points)``, each ``(len(eps),)``."""
    out = np.empty((4, eps.size), dtype=complex)
    Z = real[None, :] + 1j * imag[:, None]
    for k, e in enumerate(eps):
        if method == "criss-cross":
            r, zr, _ = pseudospectral_radius(T, float(e))
            a, za, _ = pseudospectral_abscissa(T, float(e))
        else:  # the eigenvalues are always in σ_ε: the grid can only add to them
            pts = np.concatenate([Z[sig <= e], lam])
            zr, za = pts[np.argmax(np.abs(pts))], pts[np.argmax(pts.real)]
            r, a = abs(zr), za.real
        out[:, k] = (r, zr, a, za)
    return out[0].real, out[1], out[2].real, out[3]


def _residual(A, points, eps) -> np.ndarray:
    """``|σ_min(zI − A) − ε| / ε`` at each point, by a dense SVD (independent of the Schur path)."""
    n = A.shape[0]
    s = np.array([np.linalg.svd(z * np.eye(n) - A, compute_uv=False)[-1] for z in points])
    return np.abs(s - eps) / eps
