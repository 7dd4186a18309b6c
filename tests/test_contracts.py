"""The contract every analysis verb keeps (STYLE.md §8), parametrised over all of them.

Returns a Dataset with the documented variables and dims, exactly those of its declared schema
(`dynalysis._core.result.SCHEMAS`); long_name/units everywhere; provenance attributes; a NetCDF
round trip; determinism under a seed; keyword-only options; a bad option is an `OptionError`
naming it, raised before the map is stepped even once; mismatched input shapes are
ValueErrors; float64 by default. The divergence policy: `test_contracts_divergence.py`.
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
from dynalysis._core.result import SCHEMAS
from dynalysis.memory.combined import memory_analysis
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
    schema: str = ""  # name in SCHEMAS (= ds.attrs["analysis"])
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
        {"n_exponents": 0}, "lyapunov"),
    "jacobian_eigenvalues": Verb(
        dynalysis.jacobian_eigenvalues,
        lambda fn, **kw: fn(tiny_system(), tiny_inputs(), **{"every": 8, **kw}),
        {"eigenvalue": ("trajectory", "time", "eigen_index"),
         "singular_value": ("trajectory", "time", "singular_index"),
         "spectral_radius": ("trajectory", "time"), "recurrent_eigenvalue": ("recurrent_index",)},
        {"every": 0}, "jacobian", seeded=False),
    "find_fixed_points": Verb(
        dynalysis.find_fixed_points,
        lambda fn, **kw: fn(tiny_system(), tiny_inputs(), **{"n_starts": 8, **kw}),
        {"state": ("fixed_point", "state_dim"), "eigenvalue": ("fixed_point", "eigen_index"),
         "stability": ("fixed_point",), "kind": ("fixed_point",), "start_q": ("start",),
         "trajectory_pc": ("trajectory", "time", "pc")},
        {"tol": -1.0}, "fixed_points"),
    "nonnormality": Verb(
        dynalysis.nonnormality,
        lambda fn, **kw: fn(tiny_system(), **{"n_pulses": 4, **kw}),
        {"henrici": (), "henrici_normalized": (), "eigenvector_condition": (), "numerical_abscissa": (),
         "spectral_abscissa": (), "power_norm": ("power",), "motif_profile": ("order_difference",)},
        {"rtol": 0.0}, "nonnormality", takes_inputs=False, math_args=1),
    "memory_kernel": Verb(
        dynalysis.memory_kernel,
        lambda fn, **kw: fn(tiny_system(), tiny_inputs(), **{"max_lag": 6, **kw}),
        {"kernel": ("lag", "output", "input"), "kernel_norm": ("lag",)},
        {"max_lag": -1}, "memory_kernel", seeded=False),
    "memory_capacity": Verb(
        dynalysis.memory_capacity,
        lambda fn, **kw: fn(tiny_system(), **{"max_lag": 6, "steps": 300, **kw}),
        {"capacity": ("lag",), "memory_capacity": ()},
        {"distribution": "cauchy"}, "memory_capacity", takes_inputs=False, math_args=1),
    "fisher_memory_curve": Verb(
        dynalysis.fisher_memory_curve,
        lambda fn, **kw: fn(np.diag(np.full(4, 0.9), -1), np.eye(5)[0], **{"max_lag": 6, **kw}),
        {"fisher_memory": ("lag",), "fisher_memory_total": ()},
        {"max_lag": -1}, "fisher_memory", seeded=False, takes_inputs=False),
    "memory_analysis": Verb(
        memory_analysis,
        lambda fn, **kw: fn(tiny_system(), tiny_inputs(), **{"max_lag": 6, **kw}),
        {"kernel": ("lag", "output", "input"), "capacity": ("lag",), "fisher_memory": ("lag",),
         "memory_time_censored": (), "capacity_diverged": ("capacity_trajectory",)},
        {"n_trajectories": 0}, "memory"),
    "pseudospectra": Verb(
        dynalysis.pseudospectra,
        lambda fn, **kw: fn(tiny_system(), **{"grid": 12, "epsilons": (1e-2, 1e-1), **kw}),
        {"sigma_min": ("imag", "real"), "pseudospectral_radius": ("epsilon",), "kreiss_lower_bound": ()},
        {"grid": 0}, "pseudospectra", takes_inputs=False, math_args=1),
    "transient_growth": Verb(
        dynalysis.transient_growth,
        lambda fn, **kw: fn(tiny_system(), **{"max_power": 12, **kw}),
        {"power_norm": ("power",), "peak_norm": (), "kreiss_lower_bound": ()},
        {"max_power": -1}, "transient_growth", seeded=False, takes_inputs=False, math_args=1),
    "covariant_lyapunov_vectors": Verb(
        dynalysis.covariant_lyapunov_vectors,
        lambda fn, **kw: fn(tiny_system(), tiny_inputs(), **{"transient": 5, "n_times": 10, **kw}),
        {"clv": ("trajectory", "time", "state", "exponent_index"), "exponent": ("exponent_index",),
         "min_subspace_angle": ("trajectory", "time"), "participation_ratio": ("trajectory", "time", "exponent_index")},
        {"n_vectors": 0}, "clv"),
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
def test_variables_and_coordinates_are_exactly_those_of_the_schema(name, results):
    ds = results[name]
    assert ds.attrs["analysis"] == VERBS[name].schema
    schema = SCHEMAS[ds.attrs["analysis"]]
    assert schema.name == VERBS[name].schema
    assert set(ds.data_vars) <= set(schema.variables), set(ds.data_vars) - set(schema.variables)
    assert schema.required() <= set(ds.data_vars), schema.required() - set(ds.data_vars)
    assert set(ds.coords) <= set(schema.coords), set(ds.coords) - set(schema.coords)
    for var in ds.variables:
        declared = schema.variables.get(var) or schema.coords[var]
        assert ds[var].dims == declared.dims, (var, ds[var].dims, declared.dims)
        assert ds[var].attrs["long_name"] == declared.long_name and ds[var].attrs["units"] == declared.units
        if declared.flags:
            assert ds[var].attrs["flag_meanings"] == " ".join(declared.flags)
            assert set(np.unique(ds[var].values)) <= set(range(len(declared.flags))), var


def test_every_schema_is_registered_under_its_own_name():
    for name, schema in SCHEMAS.items():
        assert schema.name == name
        for var in schema.variables.values():
            assert var.long_name and var.units


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
    else:
        assert attrs["source"] == "linear network W 5x5, v" and json.loads(attrs["system"]) == {}
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
               "covariant_lyapunov_vectors": {"transient": 5},
               "memory_kernel": {"max_lag": 6}, "memory_analysis": {"max_lag": 6}}[name]
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


# --- a bad option fails before the first step ------------------------------------------------
class Counting(dynalysis.System):
    """Delegates to ``inner`` and counts every evaluation of the map (step, J·Q, Jacobian)."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0
        self.state_size, self.input_size, self.output_size = inner.state_size, inner.input_size, inner.output_size
        self.metadata = dict(inner.metadata)

    def step(self, state, x):
        self.calls += 1
        return self.inner.step(state, x)

    def tangent_step(self, state, x, tangents):
        self.calls += 1
        return self.inner.tangent_step(state, x, tangents)

    def jacobian(self, state, x):
        self.calls += 1
        return self.inner.jacobian(state, x)

    def readout(self, state):
        return self.inner.readout(state)

    def initial_state(self, batch, *, dtype=None, device=None):
        return self.inner.initial_state(batch, dtype=dtype, device=device)

    def recurrent_matrix(self):
        return self.inner.recurrent_matrix()

    def to(self, *, dtype=None, device=None):
        self.inner = self.inner.to(dtype=dtype, device=device)
        return self


_SYSTEM_VERBS = {  # verb -> (call(system, **options), bad options: each must be named in the error)
    "lyapunov_spectrum": (lambda s, **kw: dynalysis.lyapunov_spectrum(s, tiny_inputs(), **{"transient": 5, **kw}),
                          [{"n_exponents": 0}, {"n_exponents": 7}, {"transient": -1}, {"transient": 40},
                           {"reortho_every": "often"}, {"trace_points": 0}, {"method": "svd"},
                           {"confidence": 1.5}, {"ci_tol": 0.0}, {"dtype": "int8"},
                           {"initial_state": torch.zeros(5)}]),
    "lyapunov_exponents": (lambda s, **kw: dynalysis.lyapunov_exponents(s, tiny_inputs(), **{"n_exponents": 2, **kw}),
                           [{"n_exponents": 0}, {"n_exponents": 7}, {"transient": -1}, {"transient": 40},
                            {"reortho_every": 0}, {"seed": -1}, {"dtype": "int8"}, {"initial_state": torch.zeros(5)}]),
    "jacobian_eigenvalues": (lambda s, **kw: dynalysis.jacobian_eigenvalues(s, tiny_inputs(), **kw),
                             [{"every": 0}, {"every": 41}, {"transient": -1}, {"dtype": "float16"},
                              {"initial_state": torch.zeros(2, 6)}]),
    "find_fixed_points": (lambda s, **kw: dynalysis.find_fixed_points(s, tiny_inputs(), **kw),
                          [{"n_starts": 0}, {"initial_fraction": 1.5}, {"start_noise": -0.1}, {"tol": -1.0},
                           {"slow_tol": 1e-14}, {"max_iter": 0}, {"trace_points": 0}, {"dedupe_tol": 0},
                           {"marginal_tol": float("nan")}, {"constant_input": "median"},
                           {"constant_input": [1.0]}, {"starts": torch.zeros(3, 5)}, {"transient": -1},
                           {"transient": 40}, {"conditions": "median"}, {"conditions": "symbols"},
                           {"conditions": [[1.0, 2.0, 3.0]]}, {"extreme_fraction": 1.5}, {"manifold_tol": 0.0},
                           {"check_steps": -1}, {"check_starts": 1.5}]),
    "nonnormality": (lambda s, **kw: dynalysis.nonnormality(s, **kw),
                     [{"matrix": "W"}, {"rtol": 0.0}, {"max_power": -1}, {"motif_steps": 0}, {"n_pulses": 0},
                      {"pulse": np.ones(5)}, {"pulse_into": "output"}, {"pulse_scale": 0.0}]),
    "memory_kernel": (lambda s, **kw: dynalysis.memory_kernel(s, tiny_inputs(), **{"max_lag": 6, **kw}),
                      [{"max_lag": -1}, {"max_lag": 40}, {"transient": -1}, {"transient": 34},
                       {"dtype": "half"}]),
    "memory_capacity": (lambda s, **kw: dynalysis.memory_capacity(s, **{"max_lag": 6, **kw}),
                        [{"max_lag": -1}, {"distribution": "cauchy"}, {"ridge": -1.0}, {"train_fraction": 1.5},
                         {"input_scale": 0.0}, {"input_channel": 2}, {"steps": 1}, {"transient": 3},
                         {"n_trajectories": 0}, {"inputs": np.zeros((2, 3, 4))}, {"washout": -1}]),
    "memory_analysis": (lambda s, **kw: memory_analysis(s, tiny_inputs(), **{"max_lag": 6, **kw}),
                        [{"max_lag": -1}, {"max_lag": 40}, {"n_trajectories": 0}, {"dtype": "int8"}]),
    "covariant_lyapunov_vectors": (
        lambda s, **kw: dynalysis.covariant_lyapunov_vectors(s, tiny_inputs(), **{"transient": 5, **kw}),
        [{"n_vectors": 7}, {"transient": -1}, {"transient": 20}, {"backward_transient": 35}, {"n_times": 0},
         {"n_times": 32}, {"n_unstable": 7}, {"max_memory": -1}, {"method": "svd"}, {"dtype": "int8"},
         {"initial_state": torch.zeros(5)}]),
}
_BAD = [(verb, bad) for verb, (_, options) in _SYSTEM_VERBS.items() for bad in options]


@pytest.mark.parametrize("verb, bad", _BAD, ids=[f"{v}-{next(iter(b))}" for v, b in _BAD])
def test_a_bad_option_is_an_option_error_naming_it_before_the_first_step(verb, bad):
    system = Counting(tiny_system())
    call, _ = _SYSTEM_VERBS[verb]
    (option,) = bad
    with pytest.raises(dynalysis.OptionError, match=option):
        call(system, **bad)
    assert system.calls == 0, f"{verb} stepped the map {system.calls} times before rejecting {option}"


# --- the analyze entries and their figures --------------------------------------------------
def _opts(**kw):
    from dynalysis.pipeline import AnalyzeOptions

    return AnalyzeOptions(**{**dict(n_trajectories=2, steps=60, transient=10, max_lag=8), **kw})


@pytest.mark.parametrize("name", ["jacobian", "fixed_points", "nonnormality", "memory", "clv"])
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


def test_nonnormality_entry_analyses_the_linearisation_of_a_map_without_a_matrix(tmp_path):
    gated_like = dynalysis.MapSystem(lambda h, x: torch.tanh(h + x[:, :1]), 3, 2, name="no W")
    ds = ANALYSES["nonnormality"][0](gated_like, tiny_inputs(2, 20), _opts())
    assert ds.attrs["matrix_source"] == "Jacobian at the initial state, zero input"
    assert float(ds.henrici) == pytest.approx(0.0, abs=1e-12)  # J = I at h = 0: normal
    back = dynalysis.open_results(dynalysis.save_results(ds, tmp_path / "n.nc"))
    assert [p.name for p in PLOTTERS["nonnormality"](back, tmp_path)] == ["nonnormality.png"]