"""Provenance and self-description attributes shared by every analysis result."""
from __future__ import annotations

import datetime as _dt
import json
import shlex
import sys

import numpy as np
import xarray as xr

__all__ = ["provenance_attrs", "set_var_attrs", "to_json"]


def to_json(obj) -> str:
    """JSON text of ``obj`` with tensors, arrays and numpy scalars turned into lists/numbers."""

    def default(o):
        if type(o).__module__ == "torch" and type(o).__name__ == "dtype":
            return str(o).replace("torch.", "")  # torch.float64 -> "float64"
        if hasattr(o, "tolist"):
            return o.tolist()
        if isinstance(o, (set, tuple)):
            return list(o)
        return repr(o)

    return json.dumps(obj, default=default, sort_keys=True)


def package_versions() -> dict:
    import torch

    from .. import __version__

    return {"dynalysis": __version__, "torch": torch.__version__, "xarray": xr.__version__,
            "numpy": np.__version__, "python": sys.version.split()[0]}


def provenance_attrs(analysis: str, system, options: dict, *, source: str | None = None) -> dict:
    """Global attributes for a result: what was computed, on what, with which options.

    Attributes written: ``analysis``, ``options`` (JSON), ``seed``, ``system`` (JSON of the
    system's metadata: model hyper-parameters, checkpoint path, task), ``source`` (checkpoint
    path or system name), ``history`` (UTC time + command line), ``package_versions`` (JSON),
    ``Conventions``. ``source`` describes what was analysed when ``system`` is None (a bare
    matrix, say).
    """
    if source is None:
        meta = dict(getattr(system, "metadata", {}) or {})
        source = str(meta.get("checkpoint") or meta.get("name") or type(system).__name__)
    meta = dict(getattr(system, "metadata", {}) or {})
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    command = " ".join(shlex.quote(a) for a in sys.argv) or "python"
    return {
        "Conventions": "CF-1.10",
        "analysis": analysis,
        "title": f"dynalysis {analysis}",
        "source": source,
        "history": f"{now} {command}",
        "seed": int(options.get("seed", 0) or 0),
        "options": to_json(options),
        "system": to_json(meta),
        "package_versions": to_json(package_versions()),
        "jacobian_convention": "J[i, j] = d h_t[i] / d h_{t-1}[j]",
    }


def set_var_attrs(ds: xr.Dataset, attrs: dict[str, tuple[str, str]]) -> xr.Dataset:
    """Set ``long_name`` and ``units`` from ``{name: (long_name, units)}`` on variables/coords."""
    for name, (long_name, units) in attrs.items():
        if name in ds.variables:
            ds[name].attrs.update(long_name=long_name, units=units)
    return ds
