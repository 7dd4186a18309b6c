"""One declarative schema per analysis and one `build_result` that turns arrays into a Dataset.

Every analysis declares what its result holds::

    SCHEMA = Schema("lyapunov", variables={
        "exponent": Var(("exponent_index",), "Lyapunov exponent", "1/step", time="rate"),
        "diverged": Var(("trajectory",), "trajectory diverged", "1", flags=("finite", "diverged")),
    }, coords={"exponent_index": Var(("exponent_index",), "exponent rank (0 = largest)", "1")})

and returns ``build_result(SCHEMA, data, coords, system=..., options=...)``. The builder checks
the data against the schema (no undeclared variable, every required one present, dims as
declared), sets ``long_name``/``units`` and CF flag attributes, converts per-step quantities to
per-unit-time ones for continuous-time systems, and adds the provenance attributes shared by
every result (`provenance_attrs`). `SCHEMAS` maps every analysis name (``ds.attrs["analysis"]``,
the results-file group name for the five analyses of ``cli.py analyze``) to its schema; the
contract test reads it, so a variable cannot be added without its description.

Time units. Analyses compute in steps of the map. A system with ``time_step = dt`` (a flow
integrated with step ``dt``) reports in its ``time_unit``: variables declared ``time="rate"``
(per step, e.g. exponents) are divided by ``dt`` and get units ``1/<time_unit>``; those
declared ``time="duration"`` (in steps, e.g. a memory time) are multiplied by ``dt`` and get
units ``<time_unit>``. The attributes ``time_step`` and ``time_unit`` record the conversion.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Iterator, Mapping

import numpy as np
import xarray as xr

from .provenance import provenance_attrs

__all__ = ["Var", "Schema", "build_result", "SCHEMAS"]

_TIME_KINDS = (None, "rate", "duration")


@dataclasses.dataclass(frozen=True)
class Var:
    """Declaration of one variable or coordinate of an analysis result.

    Parameters
    ----------
    dims : tuple of str
        Dimension names, in order (``()`` for a scalar).
    long_name : str
        What the variable is, in words (CF ``long_name``).
    units : str
        CF units in steps (``"1"`` dimensionless, ``"1/step"``, ``"step"``, ...).
    flags : tuple of str, optional
        Meanings of the integer values 0, 1, ... of a flag variable (CF ``flag_meanings``).
    time : {None, "rate", "duration"}
        How the value scales with the time step of a continuous-time system (module notes).
    optional : bool
        The variable may be absent (e.g. only when the system has a recurrent matrix).
    """

    dims: tuple[str, ...]
    long_name: str
    units: str = "1"
    flags: tuple[str, ...] | None = None
    time: str | None = None
    optional: bool = False

    def __post_init__(self):
        if self.time not in _TIME_KINDS:
            raise ValueError(f"Var.time must be one of {_TIME_KINDS}, got {self.time!r}")
        if isinstance(self.dims, str):
            raise TypeError("Var.dims must be a tuple of dimension names, not a string")


@dataclasses.dataclass(frozen=True)
class Schema:
    """The variables and coordinates of one analysis' result (``name`` is its group name)."""

    name: str
    variables: Mapping[str, Var]
    coords: Mapping[str, Var] = dataclasses.field(default_factory=dict)
    description: str = ""

    def required(self) -> set[str]:
        return {k for k, v in self.variables.items() if not v.optional}


class _SchemaRegistry(Mapping):
    """``{analysis name: Schema}``, each imported from its family module on first use."""

    def __init__(self, table: Mapping[str, str]):
        self._table = dict(table)

    def __getitem__(self, name: str) -> Schema:
        module, attr = self._table[name].rsplit(":", 1)
        return getattr(importlib.import_module(module, __package__), attr)

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


#: The schema of every analysis, by analysis name (``ds.attrs["analysis"]``; for the five
#: analyses of a results file this is also its group name). Adding an analysis: one line here.
SCHEMAS: Mapping[str, Schema] = _SchemaRegistry({
    "lyapunov": "..lyapunov.spectrum:SCHEMA",
    "jacobian": "..spectra.jacobian:SCHEMA",
    "fixed_points": "..fixed_points.search:SCHEMA",
    "nonnormality": "..nonnormal.measures:SCHEMA",
    "memory": "..memory.combined:SCHEMA",
    "memory_kernel": "..memory.kernel:SCHEMA",
    "memory_capacity": "..memory.capacity:SCHEMA",
    "fisher_memory": "..memory.fisher:SCHEMA",
    "pseudospectra": "..spectra.pseudospectra:SCHEMA",
    "transient_growth": "..nonnormal.transient:SCHEMA",
    "clv": "..lyapunov.covariant:SCHEMA",
})


def _time_scale(system) -> tuple[float | None, str]:
    dt = getattr(system, "time_step", None)
    return (None if dt is None else float(dt)), str(getattr(system, "time_unit", "step") or "step")


def _units(var: Var, dt: float | None, time_unit: str) -> str:
    if dt is None or var.time is None:
        return var.units
    if var.time == "rate":
        return var.units.replace("1/step", f"1/{time_unit}")
    return var.units.replace("step", time_unit)


def _var_attrs(var: Var, dt: float | None, time_unit: str) -> dict:
    attrs = dict(long_name=var.long_name, units=_units(var, dt, time_unit))
    if var.flags:
        attrs.update(flag_values=np.arange(len(var.flags), dtype=np.int8), flag_meanings=" ".join(var.flags))
    return attrs


def build_result(schema: Schema, data: Mapping[str, object], coords: Mapping[str, object] | None = None,
                 *, system=None, options: Mapping | None = None, source: str | None = None,
                 attrs: Mapping | None = None) -> xr.Dataset:
    """The result Dataset of ``schema`` from arrays, with descriptions and provenance.

    Parameters
    ----------
    schema : Schema
    data : mapping of name -> array-like
        Values of the schema's variables (dims as declared).
    coords : mapping of name -> array-like, optional
        Coordinate values (each along the dimension of its own name unless declared otherwise).
    system : System, optional
        What was analysed: its metadata goes into the provenance, its ``time_step`` and
        ``time_unit`` decide the time units. None for a bare matrix (give ``source``).
    options : mapping, optional
        The analysis' options as used (JSON-serialisable; torch dtypes are written by name).
    source : str, optional
        Description of what was analysed when there is no system (e.g. ``"matrix 20x20"``).
    attrs : mapping, optional
        Further global attributes (analysis-specific notes).

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    ValueError
        Data that do not match the schema (a bug in the analysis, not a user error).
    """
    unknown = set(data) - set(schema.variables)
    missing = schema.required() - set(data)
    if unknown or missing:
        raise ValueError(f"{schema.name} result does not match its schema: undeclared "
                         f"{sorted(unknown)}, missing {sorted(missing)}")
    dt, time_unit = _time_scale(system)
    factor = {None: 1.0, "rate": 1.0 if dt is None else 1.0 / dt, "duration": 1.0 if dt is None else dt}
    variables = {}
    for name, value in data.items():
        var = schema.variables[name]
        value = np.asarray(value)
        if value.ndim != len(var.dims):
            raise ValueError(f"{schema.name}.{name} has {value.ndim} dims, schema says {var.dims}")
        if var.flags:
            value = value.astype(np.int8)
        if var.time is not None and dt is not None:
            value = value * factor[var.time]
        variables[name] = xr.Variable(var.dims, value, attrs=_var_attrs(var, dt, time_unit))
    coord_vars = {}
    for name, value in (coords or {}).items():
        var = schema.coords.get(name)
        if var is None:
            raise ValueError(f"{schema.name} result has undeclared coordinate {name!r}")
        value = np.asarray(value)
        if var.time is not None and dt is not None:
            value = value * factor[var.time]
        coord_vars[name] = xr.Variable(var.dims or (name,), value, attrs=_var_attrs(var, dt, time_unit))
    ds = xr.Dataset(variables, coords=coord_vars)  # attrs set on the Variables: ds[name] per variable cost ~0.1 ms
    ds.attrs.update(provenance_attrs(schema.name, system, dict(options or {}), source=source))
    ds.attrs["time_unit"] = time_unit
    if getattr(system, "has_recurrent_matrix", False) and getattr(system, "recurrent_matrix_description", ""):
        ds.attrs["recurrent_matrix_description"] = system.recurrent_matrix_description  # plot labels
    if dt is not None:
        ds.attrs["time_step"] = dt
    if attrs:
        ds.attrs.update(attrs)
    return ds
