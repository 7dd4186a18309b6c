"""The contract every analysis verb keeps (STYLE.md §8), parametrised over all of them.

Returns a Dataset with the documented variables and dims; long_name/units everywhere;
provenance attributes; a NetCDF round trip; determinism under a seed; keyword-only options;
clear ValueErrors for invalid options and mismatched input shapes; float64 by default.
"""
from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
import torch
import xarray as xr

import dynalysis
from dynalysis.pipeline.analyze import ANALYSES
from dynalysis.models import build_model
from dynalysis.plotting import PLOTTERS


def tiny_system():
    net = build_model("wcrnn", input_size=2, hidden_size=6, output_size=3, epsilon=0.1, seed=0)
    return dynalysis.ModuleSystem(net, {"name": "tiny wcrnn", "model": net.spec()})


def tiny_inputs(trajectories=3, steps=40, width=2):
    return torch.randn(trajectories, steps, width, generator=torch.Generator().manual_seed(0))


@dataclass
class Verb:
    fn: Callable
    call: Callable  # (fn, **options) -> Dataset
    variables: dict  # name -> dims
    bad_option: dict
    seeded: bool = True
    takes_inputs: bool = True
    math_args: int = 2  # positional (math) parameters before the keyword-only options
    extra: dict = field(default_factory=dict)


VERBS = {
    "lyapunov_spectrum": Verb(
        dynalysis.lyapunov_spectrum,
        lambda fn, **kw: fn(tiny_system(), tiny_inputs(), **{"transient": 5, **kw}),
        {"exponent": ("exponent_index",), "exponent_per_trajectory": ("trajectory", "exponent_index"),
         "convergence": ("step", "exponent_index"), "kaplan_yorke_dimension": ()},
        {"n_exponents": 0}),
    "jacobian_eigenvalues": Verb(
        dynalysis.jacobian_eigenvalues,
        lambda fn, **kw: fn(tiny_system(), tiny_inputs(), **{"every": 8, **kw}),
        {"eigenvalue": ("trajectory", "time", "eigen_index"),
         "singular_value": ("trajectory", "time", "singular_index"),
         "spectral_radius": ("trajectory", "time"), "recurrent_eigenvalue": ("recurrent_index",)},
        {"every": 0}, seeded=False),
    "find_fixed_points": Verb(
        dynalysis.find_fixed_points,
        lambda fn, **kw: fn(tiny_system(), tiny_inputs(), **{"n_starts": 8, **kw}),
        {"state": ("fixed_point", "state_dim"), "eigenvalue": ("fixed_point", "eigen_index"),
         "stability": ("fixed_point",), "kind": ("fixed_point",), "start_q": ("start",),
         "trajectory_pc": ("trajectory", "time", "pc")},
        {"tol": -1.0}),
    "nonnormality": Verb(
        dynalysis.nonnormality,
        lambda fn, **kw: fn(tiny_system(), **{"n_pulses": 4, **kw}),
        {"henrici": (), "henrici_normalized": (), "eigenvector_condition": (), "numerical_abscissa": (),
         "spectral_abscissa": (), "power_norm": ("power",), "motif_profile": ("order_difference",)},
        {"rtol": 0.0}, takes_inputs=False, math_args=1),
    "memory_kernel": Verb(
        dynalysis.memory_kernel,
        lambda fn, **kw: fn(tiny_system(), tiny_inputs(), **{"max_lag": 6, **kw}),
        {"kernel": ("lag", "output", "input"), "kernel_norm": ("lag",)},
        {"max_lag": -1}, seeded=False),
    "memory_capacity": Verb(
        dynalysis.memory_capacity,
        lambda fn, **kw: fn(tiny_system(), **{"max_lag": 6, "steps": 300, **kw}),
        {"capacity": ("lag",), "memory_capacity": ()},
        {"distribution": "cauchy"}, takes_inputs=False, math_args=1),
    "fisher_memory_curve": Verb(
        dynalysis.fisher_memory_curve,
        lambda fn, **kw: fn(np.diag(np.full(4, 0.9), -1), np.eye(5)[0], **{"max_lag": 6, **kw}),
        {"fisher_memory": ("lag",), "fisher_memory_total": ()},
        {"max_lag": -1}, seeded=False, takes_inputs=False),
}


def _call(verb: Verb, **kw):
    if verb.seeded:
        kw.setdefault("seed", 0)
    return verb.call(verb.fn, **kw)


@pytest.fixture(scope="module")
def results():
    return {name: _call(verb) for name, verb in VERBS.items()}


@pytest.mark.parametrize("name", list(VERBS))
def test_returns_dataset_with_documented_variables_and_dims(name, results):
    ds = results[name]
    assert isinstance(ds, xr.Dataset)
    for var, dims in VERBS[name].variables.items():
        assert var in ds, var
        assert ds[var].dims == dims, (var, ds[var].dims)


@pytest.mark.parametrize("name", list(VERBS))
def test_every_variable_and_coordinate_has_long_name_and_units(name, results):
    ds = results[name]
    for var in ds.variables:
        assert "long_name" in ds[var].attrs and "units" in ds[var].attrs, var


@pytest.mark.parametrize("name", list(VERBS))
def test_provenance_attributes(name, results):
    attrs = results[name].attrs
    for key in ("analysis", "options", "seed", "system", "source", "history", "package_versions", "Conventions"):
        assert key in attrs, key
    options = json.loads(attrs["options"])
    assert isinstance(options, dict) and options
    assert {"torch", "xarray", "numpy", "dynalysis"} <= set(json.loads(attrs["package_versions"]))
    if name != "fisher_memory_curve":
        assert json.loads(attrs["system"])["name"] == "tiny wcrnn"
    if VERBS[name].seeded:
        assert options["seed"] == 0 and attrs["seed"] == 0


@pytest.mark.parametrize("name", list(VERBS))
def test_netcdf_round_trip(name, results, tmp_path):
    ds = results[name]
    path = dynalysis.save_results(ds, tmp_path / f"{name}.nc")
    back = dynalysis.open_results(path)
    xr.testing.assert_allclose(back, ds)
    for k, v in ds.attrs.items():
        assert str(back.attrs[k]) == str(v), k
    with xr.open_dataset(path) as plain:  # readable without dynalysis
        assert set(ds.data_vars) <= set(plain.data_vars)


@pytest.mark.parametrize("name", list(VERBS))
def test_deterministic_under_a_seed(name, results):
    again = _call(VERBS[name])
    xr.testing.assert_equal(again, results[name])
    assert {k: v for k, v in again.attrs.items() if k != "history"} == \
        {k: v for k, v in results[name].attrs.items() if k != "history"}


@pytest.mark.parametrize("name", [n for n, v in VERBS.items() if v.seeded])
def test_the_seed_matters(name, results):
    other = _call(VERBS[name], seed=1)
    assert other.attrs["seed"] == 1
    differs = [v for v in other.data_vars
               if other[v].shape == results[name][v].shape and not np.array_equal(other[v].values, results[name][v].values)]
    assert differs, "changing the seed changed nothing"


@pytest.mark.parametrize("name", list(VERBS))
def test_invalid_option_is_a_value_error_naming_it(name):
    verb = VERBS[name]
    (option,) = verb.bad_option
    with pytest.raises(ValueError, match=option):
        _call(verb, **verb.bad_option)


@pytest.mark.parametrize("name", [n for n, v in VERBS.items() if v.takes_inputs])
@pytest.mark.parametrize("inputs", [tiny_inputs(width=3), tiny_inputs()[0]], ids=["width", "ndim"])
def test_mismatched_input_shapes_are_value_errors(name, inputs):
    verb = VERBS[name]
    options = {"lyapunov_spectrum": {}, "jacobian_eigenvalues": {"every": 8}, "find_fixed_points": {"n_starts": 4},
               "memory_kernel": {"max_lag": 6}}[name]
    with pytest.raises(ValueError, match="input"):
        verb.fn(tiny_system(), inputs, **options)


@pytest.mark.parametrize("name", list(VERBS))
def test_options_are_keyword_only(name):
    params = list(inspect.signature(VERBS[name].fn).parameters.values())
    math_args = VERBS[name].math_args + (1 if name == "find_fixed_points" else 0)  # its inputs are optional
    assert all(p.kind == p.KEYWORD_ONLY for p in params[math_args:]), params


@pytest.mark.parametrize("name", [n for n in VERBS if n != "fisher_memory_curve"])
def test_float64_by_default(name, results):
    for var in results[name].data_vars:
        kind = results[name][var].dtype.kind
        if kind in "fc":
            assert results[name][var].dtype.itemsize >= 8, var


# --- the analyze entries and their figures --------------------------------------------------
def _opts(**kw):
    from dynalysis.pipeline import AnalyzeOptions

    return AnalyzeOptions(**{**dict(n_trajectories=2, steps=60, transient=10, max_lag=8), **kw})


@pytest.mark.parametrize("name", ["jacobian", "fixed_points", "nonnormality", "memory"])
def test_analyze_entries_save_together_and_plot(name, tmp_path):
    ds = ANALYSES[name][0](tiny_system(), tiny_inputs(2, 60), _opts())
    assert ds.attrs["analysis"] == name
    path = dynalysis.save_results({name: ds, "other": xr.Dataset({"x": ((), 1.0)})}, tmp_path / "r.nc")
    back = dynalysis.open_results(path, group=name)
    xr.testing.assert_allclose(back, ds)
    pngs = PLOTTERS[name](back, tmp_path / "figs")
    assert pngs
    for p in pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000


def test_nonnormality_entry_records_a_missing_recurrent_matrix(tmp_path):
    gated_like = dynalysis.MapSystem(lambda h, x: torch.tanh(h + x[:, :1]), 3, 2, name="no W")
    ds = ANALYSES["nonnormality"][0](gated_like, tiny_inputs(2, 20), _opts())
    assert int(ds.has_recurrent_matrix) == 0 and "no single recurrent" in ds.attrs["note"]
    back = dynalysis.open_results(dynalysis.save_results(ds, tmp_path / "n.nc"))
    assert PLOTTERS["nonnormality"](back, tmp_path) == []
