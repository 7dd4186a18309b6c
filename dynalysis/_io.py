"""Results files: NetCDF-4 via netCDF4, atomic writes, complex values that round-trip.

Layout. A file holds one analysis in the root group, or several analyses in named groups
(``lyapunov``, ``jacobian``, ...) with shared provenance in the root's attributes. Each group
opens with plain ``xarray.open_dataset(path, group=NAME)``.

Complex variables are stored as real arrays with a trailing dimension ``complex`` of length 2
(coordinate ``["real", "imag"]``) and the attribute ``dynalysis_complex = 1``;
`open_results` turns them back into complex arrays. Plain xarray readers see real/imag parts.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Mapping

import numpy as np
import xarray as xr

from ._errors import ResultsFileError

__all__ = ["save_results", "open_results", "result_groups"]

_COMPLEX_DIM = "complex"
_COMPRESS_ABOVE = 1024  # elements


def _encode(ds: xr.Dataset) -> tuple[xr.Dataset, dict]:
    """Split complex variables, make attributes NetCDF-safe, choose compression."""
    ds = ds.copy()
    for name in list(ds.variables):
        var = ds[name]
        if np.iscomplexobj(var.values):
            if name in ds.coords:
                raise ResultsFileError(f"complex coordinate {name!r} cannot be saved; make it a variable")
            parts = np.stack([var.values.real, var.values.imag], axis=-1)
            ds[name] = xr.Variable(var.dims + (_COMPLEX_DIM,), parts, attrs={**var.attrs, "dynalysis_complex": 1})
    if any(_COMPLEX_DIM in ds[v].dims for v in ds.variables):
        ds = ds.assign_coords({_COMPLEX_DIM: ["real", "imag"]})
        ds[_COMPLEX_DIM].attrs.update(long_name="real and imaginary part", units="1")
    ds.attrs = _safe_attrs(ds.attrs)
    encoding = {}
    for name in ds.variables:
        ds[name].attrs = _safe_attrs(ds[name].attrs)
        if ds[name].dtype == bool:
            ds[name] = ds[name].astype("i1")
        if ds[name].size > _COMPRESS_ABOVE and ds[name].dtype.kind in "fiu":
            encoding[name] = {"zlib": True, "complevel": 4}
    return ds, encoding


def _safe_attrs(attrs: Mapping) -> dict:
    out = {}
    for k, v in attrs.items():
        if v is None:
            continue
        if isinstance(v, bool) or isinstance(v, np.bool_):
            v = int(v)
        elif isinstance(v, (dict, list, tuple)) and not (
            isinstance(v, (list, tuple)) and v and all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in v)
        ):
            v = json.dumps(v, default=str)
        elif not isinstance(v, (str, int, float, np.number, np.ndarray)):
            v = str(v)
        out[k] = v
    return out


def _decode(ds: xr.Dataset) -> xr.Dataset:
    for name in list(ds.data_vars):
        var = ds[name]
        if var.attrs.get("dynalysis_complex") and _COMPLEX_DIM in var.dims:
            values = var.sel({_COMPLEX_DIM: "real"}) + 1j * var.sel({_COMPLEX_DIM: "imag"})
            attrs = {k: v for k, v in var.attrs.items() if k != "dynalysis_complex"}
            ds[name] = values.drop_vars(_COMPLEX_DIM, errors="ignore").assign_attrs(attrs)
    if _COMPLEX_DIM in ds.dims and not any(_COMPLEX_DIM in ds[v].dims for v in ds.data_vars):
        ds = ds.drop_dims(_COMPLEX_DIM)
    return ds


def save_results(results: xr.Dataset | Mapping[str, xr.Dataset], path: str | os.PathLike, *,
                 overwrite: bool = False, attrs: Mapping | None = None) -> Path:
    """Write results to NetCDF-4, atomically.

    Parameters
    ----------
    results : xarray.Dataset or mapping of name -> Dataset
        One analysis (written to the root group) or several (one group each).
    path : path-like
    overwrite : bool, default False
        Replace an existing file. Without it an existing file is never touched.
    attrs : mapping, optional
        Extra global attributes for the root group (e.g. shared provenance).

    Returns
    -------
    pathlib.Path
        The written file. The data go to a temporary file in the same folder first and are
        renamed into place only when complete, so an interrupted write never leaves a
        half-written or clobbered result.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise ResultsFileError(f"{path} already exists; pass overwrite=True (CLI: --overwrite) to replace it")
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    groups = {None: results} if isinstance(results, xr.Dataset) else dict(results)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        root = xr.Dataset(attrs=dict(attrs or {}))
        if None not in groups:
            root.attrs["groups"] = ",".join(groups)
            enc_root, enc = _encode(root)
            enc_root.to_netcdf(tmp, mode="w", engine="netcdf4", format="NETCDF4")
        mode = "w" if None in groups else "a"
        for name, ds in groups.items():
            if name is None and attrs:
                ds = ds.assign_attrs({**attrs, **ds.attrs})
            enc_ds, enc = _encode(ds)
            enc_ds.to_netcdf(tmp, mode=mode, group=name, engine="netcdf4", format="NETCDF4", encoding=enc)
            mode = "a"
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def result_groups(path: str | os.PathLike) -> list[str]:
    """Names of the analysis groups in a results file (empty for a single-analysis file)."""
    import netCDF4

    path = _check_readable(path)
    try:
        with netCDF4.Dataset(path) as nc:
            return list(nc.groups)
    except OSError as e:
        raise ResultsFileError(f"{path} is not a readable NetCDF file ({e}); re-run the analysis to recreate it") from None


def open_results(path: str | os.PathLike, group: str | None = None) -> xr.Dataset:
    """Open a results file written by `save_results`, loading it into memory.

    Parameters
    ----------
    path : path-like
    group : str, optional
        Analysis group to open (see `result_groups`); the root group by default.

    Returns
    -------
    xarray.Dataset
        With complex variables restored.
    """
    path = _check_readable(path)
    try:
        with xr.open_dataset(path, group=group, engine="netcdf4") as ds:
            ds = ds.load()
    except OSError as e:
        if group is not None and "group" in str(e).lower():
            raise ResultsFileError(f"{path} has no group {group!r}; groups: {result_groups(path)}") from None
        raise ResultsFileError(f"{path} is not a readable NetCDF file ({e}); re-run the analysis to recreate it") from None
    except Exception as e:  # decoding errors of foreign files
        raise ResultsFileError(f"{path} could not be read as a dynalysis results file: {e}") from None
    return _decode(ds)


def _check_readable(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise ResultsFileError(f"{path} does not exist")
    if path.is_dir():
        raise ResultsFileError(f"{path} is a directory, not a results file")
    if path.stat().st_size == 0:
        raise ResultsFileError(f"{path} is empty; re-run the analysis to recreate it")
    return path
