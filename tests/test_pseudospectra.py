"""ε-pseudospectra, pseudospectral radius/abscissa and the Kreiss lower bound (docs/science.md §6).

Closed forms first: a normal matrix's σ_min is the distance to the spectrum (ρ_ε = ρ + ε,
α_ε = α + ε); the 2×2 Jordan block's ε-pseudospectrum is the disk of radius sqrt(ε(1 + ε));
the Kreiss constant of [[0, a], [0, 0]] maximises a scalar function. Then agreement with dense
SVDs, the Kreiss inequalities, systems as sources, and the result contract.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar

import dynalysis
from dynalysis.errors import NumericalReliabilityWarning, OptionError, ResultsFileError
from dynalysis.plotting import PLOTTERS
from dynalysis.spectra.pseudospectra import SCHEMA, default_grid


def complex_normal(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``Q diag(λ) Qᴴ`` with a random unitary ``Q``: ``(A, λ)``."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n)))
    lam = 0.6 * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    return Q @ np.diag(lam) @ Q.conj().T, lam


def real_normal(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Real normal 5×5: two scaled rotations and one real eigenvalue, orthogonally mixed."""
    rng = np.random.default_rng(seed)
    blocks, lam = [], []
    for r, th in ((0.8, 0.7), (0.5, 2.0)):
        blocks.append(r * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]]))
        lam += [r * np.exp(1j * th), r * np.exp(-1j * th)]
    D = np.zeros((5, 5))
    D[:2, :2], D[2:4, 2:4], D[4, 4] = blocks[0], blocks[1], -0.3
    lam.append(-0.3)
    Q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    return Q @ D @ Q.T, np.array(lam)


def dense_sigma_min(A: np.ndarray, Z: np.ndarray) -> np.ndarray:
    n = A.shape[0]
    return np.array([np.linalg.svd(z * np.eye(n) - A, compute_uv=False)[-1] for z in Z.ravel()]).reshape(Z.shape)


def grid_points(ds) -> np.ndarray:
    return ds["real"].values[None, :] + 1j * ds["imag"].values[:, None]


@pytest.mark.parametrize("make", [lambda: complex_normal(6, 0), lambda: real_normal(1)], ids=["complex", "real"])
def test_normal_matrix_sigma_min_is_the_distance_to_the_spectrum(make):
    A, lam = make()
    ds = dynalysis.pseudospectra(A, epsilons=[1e-2, 0.3], grid=31, rtol=1e-12)
    Z = grid_points(ds)
    expected = np.abs(Z[..., None] - lam).min(-1)  # σ_ε = union of ε-disks
    np.testing.assert_allclose(ds.sigma_min.values, expected, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("make", [lambda: complex_normal(6, 2), lambda: real_normal(3)], ids=["complex", "real"])
def test_normal_matrix_radius_and_abscissa_are_rho_and_alpha_plus_eps(make):
    A, lam = make()
    eps = np.array([1e-4, 1e-2, 0.3, 2.0])
    ds = dynalysis.pseudospectra(A, epsilons=eps, grid=21)
    np.testing.assert_allclose(ds.pseudospectral_radius.values, np.abs(lam).max() + eps, rtol=1e-11)
    np.testing.assert_allclose(ds.pseudospectral_abscissa.values, lam.real.max() + eps, rtol=1e-11, atol=1e-12)
    assert (ds.radius_residual.values < 1e-8).all() and (ds.abscissa_residual.values < 1e-8).all()
    np.testing.assert_allclose(np.abs(ds.radius_point.values), ds.pseudospectral_radius.values, rtol=1e-12)
    np.testing.assert_allclose(float(ds.spectral_radius), np.abs(lam).max(), rtol=1e-12)


@pytest.mark.parametrize("lam", [0.3, 0.5 + 0.5j, -0.9])
def test_jordan_block_2x2_pseudospectrum_is_a_disk_of_radius_sqrt_eps_one_plus_eps(lam):
    # σ_min((z − λ)I − N) = (sqrt(1 + 4|z − λ|²) − 1)/2 = ε  ⇔  |z − λ| = sqrt(ε(1 + ε))
    J = np.array([[lam, 1.0], [0.0, lam]], dtype=complex if isinstance(lam, complex) else float)
    eps = np.array([1e-6, 1e-2, 0.3])
    ds = dynalysis.pseudospectra(J, epsilons=eps, grid=21)
    d = np.sqrt(eps * (1 + eps))
    np.testing.assert_allclose(ds.pseudospectral_radius.values, abs(lam) + d, rtol=1e-10)
    np.testing.assert_allclose(ds.pseudospectral_abscissa.values, np.real(lam) + d, rtol=1e-10)
    Z = grid_points(ds)
    np.testing.assert_allclose(ds.sigma_min.values, (np.sqrt(1 + 4 * np.abs(Z - lam) ** 2) - 1) / 2,
                               rtol=1e-6, atol=1e-15)


@pytest.mark.parametrize("name", ["jordan", "random", "complex"])
def test_sigma_min_equals_a_dense_svd_on_a_small_grid(name):
    rng = np.random.default_rng(4)
    A = {"jordan": 0.5 * np.eye(6) + np.diag(np.ones(5), 1),
         "random": rng.standard_normal((12, 12)) / 3 + np.diag(np.full(11, 1.5), 1),
         "complex": rng.standard_normal((7, 7)) + 1j * rng.standard_normal((7, 7))}[name]
    real, imag = np.linspace(-2, 2.5, 9), np.linspace(-1.5, 2.0, 7)
    ds = dynalysis.pseudospectra(A, epsilons=[0.1], grid=(real, imag), rtol=1e-12)
    np.testing.assert_allclose(ds.sigma_min.values, dense_sigma_min(A, grid_points(ds)), rtol=1e-9)


def test_criss_cross_finds_the_global_extremes_that_a_fine_grid_approaches_from_below():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((10, 10)) / np.sqrt(10) + np.diag(np.ones(9), 1)
    cc = dynalysis.pseudospectra(A, epsilons=[1e-3, 1e-1], grid=30)
    fine = dynalysis.pseudospectra(A, epsilons=[1e-3, 1e-1], grid=201, boundary_method="grid")
    h = fine.attrs["grid_spacing"]
    for var in ("pseudospectral_radius", "pseudospectral_abscissa"):
        exact, approx = cc[var].values, fine[var].values
        assert (approx <= exact + 1e-12).all() and (approx >= exact - 2 * h).all(), var
    assert (cc.radius_residual.values < 1e-8).all() and (cc.abscissa_residual.values < 1e-8).all()


@pytest.mark.parametrize("a", [3.0, 10.0, 100.0])
def test_kreiss_constant_of_a_2x2_nilpotent_matrix(a):
    # ‖(zI − A)^{-1}‖ = (a/r² + sqrt(a²/r⁴ + 4/r²))/2 at |z| = r: K = max_r (r − 1)(a + sqrt(a² + 4r²))/(2r²)
    res = minimize_scalar(lambda r: -(r - 1) * (a + math.sqrt(a * a + 4 * r * r)) / (2 * r * r),
                          bounds=(1.0, 1e3), method="bounded", options={"xatol": 1e-12})
    ds = dynalysis.pseudospectra(np.array([[0.0, a], [0.0, 0.0]]), epsilons=[0.1], grid=11)
    K = float(ds.kreiss_lower_bound)
    assert K <= -res.fun * (1 + 1e-12)
    assert K == pytest.approx(-res.fun, rel=1e-9)
    assert abs(complex(ds.kreiss_point)) == pytest.approx(res.x, rel=1e-4)


def test_kreiss_constant_is_one_for_a_contracting_normal_matrix_and_infinite_beyond_the_unit_disk():
    A, lam = complex_normal(5, 6)
    A = A / np.abs(lam).max() * 0.9
    ds = dynalysis.pseudospectra(A, epsilons=[0.1], grid=11)
    assert float(ds.kreiss_lower_bound) == 1.0 and np.isnan(complex(ds.kreiss_point))
    ds = dynalysis.pseudospectra(A / 0.9 * 1.1, epsilons=[0.1], grid=11)
    assert math.isinf(float(ds.kreiss_lower_bound))


@pytest.mark.parametrize("lam, n", [(0.5, 3), (0.9, 5), (-0.8 + 0.1j, 4)])
def test_kreiss_inequalities_for_jordan_blocks(lam, n):
    J = lam * np.eye(n) + np.diag(np.ones(n - 1), 1)
    K = float(dynalysis.pseudospectra(J, epsilons=[0.1], grid=11).kreiss_lower_bound)
    peak = max(np.linalg.norm(np.linalg.matrix_power(J, k), 2) for k in range(1500))  # decayed by then
    assert 1.0 <= K <= peak <= math.e * n * K


def test_system_sources_recurrent_matrix_and_jacobians():
    A = np.array([[0.5, 2.0, 0.0], [0.0, 0.4, 1.0], [0.1, 0.0, -0.3]])
    eps = [1e-2, 0.2]
    ref = dynalysis.pseudospectra(A, epsilons=eps, grid=25)
    lin = dynalysis.pseudospectra(dynalysis.testing.linear_map(A), epsilons=eps, grid=25, at="initial_state")
    np.testing.assert_allclose(lin.sigma_min.values, ref.sigma_min.values, rtol=1e-12)
    np.testing.assert_allclose(lin.pseudospectral_radius.values, ref.pseudospectral_radius.values, rtol=1e-12)
    assert lin.attrs["matrix_source"].startswith("Jacobian dF/dh at the system's initial state")

    from dynalysis.models import build_model

    net = build_model("elman", input_size=2, hidden_size=5, output_size=1, seed=0)
    system = dynalysis.ModuleSystem(net, {"name": "elman"})
    W = system.recurrent_matrix().detach().double().numpy()
    ds = dynalysis.pseudospectra(system, epsilons=eps, grid=15)
    assert ds.attrs["matrix_source"] == "recurrent_matrix() of the system"
    np.testing.assert_allclose(ds.pseudospectral_radius.values,
                               dynalysis.pseudospectra(W, epsilons=eps, grid=15).pseudospectral_radius.values,
                               rtol=1e-12)

    rnn = dynalysis.testing.tanh_rnn(6, gain=1.2, input_size=2, seed=3)
    h, x = torch.linspace(-0.5, 0.5, 6, dtype=torch.float64), torch.tensor([0.3, -1.0], dtype=torch.float64)
    J = torch.func.jacrev(lambda s: rnn.step(s[None], x[None])[0])(h).numpy()
    at_state = dynalysis.pseudospectra(rnn, epsilons=eps, grid=15, at=h, at_input=x)
    distance = np.abs(at_state.eigenvalue.values[:, None] - np.linalg.eigvals(J)[None, :])
    assert distance.min(1).max() < 1e-12 and distance.min(0).max() < 1e-12
    assert at_state.attrs["matrix_source"] == "Jacobian dF/dh at the given state, the given constant input"


def counting_system(state_size: int = 3, input_size: int = 1):
    calls = {"n": 0}

    def step(h, x):
        calls["n"] += 1
        return 0.5 * h

    return dynalysis.MapSystem(step, state_size, input_size), calls


@pytest.mark.parametrize("options, match", [
    ({"epsilons": [-1.0]}, "epsilons"), ({"epsilons": []}, "epsilons"), ({"epsilons": "x"}, "epsilons"),
    ({"grid": 1}, "grid"), ({"grid": "x"}, "grid"), ({"grid": (np.array([0.0, 0.0]), np.array([0.0, 1.0]))}, "grid"),
    ({"boundary_method": "newton"}, "boundary_method"), ({"rtol": 0.0}, "rtol"),
    ({"at": "fixed_point"}, "at"), ({"at": np.zeros(2)}, "at"),
    ({"at": "initial_state", "at_input": np.zeros(3)}, "at_input"), ({"at_input": np.zeros(1)}, "at_input"),
    ({}, "recurrent"),  # MapSystem has no recurrent matrix: the default at= cannot be used
])
def test_bad_options_raise_option_error_before_any_step(options, match):
    system, calls = counting_system()
    with pytest.raises(OptionError, match=match):
        dynalysis.pseudospectra(system, **options)
    assert calls["n"] == 0


@pytest.mark.parametrize("matrix, options, match", [
    (np.eye(3), {"at": "initial_state"}, "needs a System"), (np.ones((2, 3)), {}, "square"),
    (np.array([[np.nan]]), {}, "NaN"),
])
def test_bad_matrices_and_matrix_options(matrix, options, match):
    with pytest.raises(OptionError, match=match):
        dynalysis.pseudospectra(matrix, **options)


def test_eps_at_round_off_level_warns():
    with pytest.warns(NumericalReliabilityWarning, match="round-off"):
        dynalysis.pseudospectra(np.diag([0.5, 0.2]), epsilons=[1e-18, 0.1], grid=11)


def test_default_grid_holds_the_largest_pseudospectrum_and_is_symmetric_for_real_matrices():
    A = np.array([[0.2, 3.0], [0.0, -0.1]])
    real, imag = default_grid(A, 60, 0.5)
    np.testing.assert_array_equal(imag, -imag[::-1])
    ds = dynalysis.pseudospectra(A, epsilons=[0.5], grid=60)
    s = ds.sigma_min.values
    edge = np.concatenate([s[0], s[-1], s[:, 0], s[:, -1]])
    assert (edge > 0.5).all()  # the outermost contour closes inside the box
    assert float(ds.pseudospectral_radius[0]) < max(abs(real).max(), abs(imag).max())


def test_result_contract_and_netcdf_round_trip(tmp_path):
    A = np.array([[0.9, 1.0], [0.0, 0.8]])
    ds = dynalysis.pseudospectra(A, epsilons=[1e-3, 1e-1], grid=21)
    assert set(SCHEMA.required()) <= set(ds.data_vars)
    for name in ds.variables:
        assert ds[name].attrs.get("long_name") and "units" in ds[name].attrs, name
    assert "lower bound" in ds.kreiss_lower_bound.attrs["long_name"]
    for key in ("matrix_source", "sigma_min_method", "boundary_method", "kreiss_method", "grid_spacing"):
        assert key in ds.attrs
    assert json.loads(ds.attrs["options"])["epsilons"] == [1e-3, 1e-1]
    path = tmp_path / "ps.nc"
    dynalysis.save_results(ds, path)
    back = dynalysis.open_results(path)
    for name in ds.data_vars:
        np.testing.assert_array_equal(back[name].values, ds[name].values)
    assert back.radius_point.dtype.kind == "c" and back.attrs["matrix_source"] == "given matrix"


def test_figure_is_written_and_not_overwritten(tmp_path):
    ds = dynalysis.pseudospectra(np.array([[0.9, 1.0], [0.0, 0.8]]), epsilons=[1e-3, 1e-1], grid=21)
    (png,) = PLOTTERS["pseudospectra"](ds, tmp_path)
    assert png.name == "pseudospectra.png" and png.stat().st_size > 10_000
    with pytest.raises(ResultsFileError, match="already exist"):
        PLOTTERS["pseudospectra"](ds, tmp_path)
    assert PLOTTERS["pseudospectra"](ds, tmp_path, overwrite=True) == [png]
    assert PLOTTERS["pseudospectra"](ds.drop_vars("sigma_min"), tmp_path / "other") == []
