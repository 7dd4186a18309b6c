"""Results files: NetCDF-4 via netCDF4, atomic writes, complex values that round-trip.

Layout. A file holds one analysis in the root group, or several analyses in named groups
(``lyapunov``, ``jacobian``, ...) with shared provenance in the root's attributes: a file of
groups is an `xarray.DataTree` (``xarray.open_datatree(path)``), and each group opens with
plain ``xarray.open_dataset(path, group=NAME)``. `open_results` gives back what `save_results`
was given: one Dataset, or a DataTree of every analysis.

Complex variables are stored as real arrays with a trailing dimension ``complex`` of length 2
(coordinate ``["real", "imag"]``) and the attribute ``dynalysis_complex = 1``;
`open_results` turns them back into complex arrays. Plain xarray readers see real/imag parts.
Text variables (such as that coordinate) are stored as UTF-8 character arrays, never as
netCDF-4 variable-length strings: netCDF-C/HDF5 crash (segfault, "NetCDF: HDF error") when a
file with variable-length strings is open twice in one process and read through both handles
(Unidata/netcdf-c#2510, pydata/xarray#9093), which a user holding a plain xarray handle while
calling dynalysis would otherwise hit. Every read here goes through one netCDF4 handle per
call: checksums and data are read through the same handle, which is closed before returning.

Integrity. Every group carries ``dynalysis_checksum``: a SHA-256 of its dimensions, variables
(raw bytes as stored) and attributes (all but ``history`` and the checksum itself), computed
from the finished temporary file before it is renamed into place. `open_results` and
`verify_results` recompute it, so a file damaged on disk is an error, never silently different
numbers.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Mapping

import numpy as np
import xarray as xr

from ..errors import DynalysisError, ResultsFileError, first_line
from .checksum import CHECKSUM as _CHECKSUM
from .checksum import check_digest as _check_digest
from .checksum import plain as _plain
from .checksum import write_checksums as _write_checksums

__all__ = ["save_results", "open_results", "result_groups", "verify_results", "read_root_attrs"]

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
        if ds[name].dtype.kind in "OU":  # text: fixed-width UTF-8 characters (module notes)
            encoding[name] = {"dtype": "S1"}
        elif ds[name].size > _COMPRESS_ABOVE and ds[name].dtype.kind in "fiu":
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
            values = values.drop_vars(_COMPLEX_DIM, errors="ignore")
            values.attrs = attrs  # replace, not merge: the marker must not survive decoding
            ds[name] = values
    if _COMPLEX_DIM in ds.dims and not any(_COMPLEX_DIM in ds[v].dims for v in ds.data_vars):
        ds = ds.drop_dims(_COMPLEX_DIM)
    ds.attrs.pop(_CHECKSUM, None)  # describes the stored bytes, not this in-memory Dataset
    return ds


def save_results(results: xr.Dataset | Mapping[str, xr.Dataset], path: str | os.PathLike, *,
                 overwrite: bool = False, attrs: Mapping | None = None) -> Path:
    """Write results to NetCDF-4, atomically, with a checksum per group.

    Parameters
    ----------
    results : xarray.Dataset or mapping of name -> Dataset
        One analysis (written to the root group) or several (one group each).
    path : path-like
    overwrite : bool, default False
        Replace an existing file. Without it an existing file is never touched, even when
        another process creates it while this one writes.
    attrs : mapping, optional
        Extra global attributes for the root group (e.g. shared provenance).

    Returns
    -------
    pathlib.Path
        The written file. The data go to a hidden temporary file in the same folder first
        (``.NAME.<random>.tmp``), are checksummed and flushed to disk, and are renamed into place
        only when complete, so an interrupted write never leaves a half-written or clobbered
        result (a killed process may leave the hidden temporary file behind; delete it freely).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise ResultsFileError(f"{path} already exists; pass overwrite=True to replace it")
    groups = {None: results} if isinstance(results, xr.Dataset) else dict(results)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if None not in groups:
            root = xr.Dataset(attrs={**dict(attrs or {}), "groups": ",".join(groups)})
            _encode(root)[0].to_netcdf(tmp, mode="w", engine="netcdf4", format="NETCDF4")
        mode = "w" if None in groups else "a"
        for name, ds in groups.items():
            if name is None and attrs:
                ds = ds.assign_attrs({**attrs, **ds.attrs})
            enc_ds, enc = _encode(ds)
            enc_ds.to_netcdf(tmp, mode=mode, group=name, engine="netcdf4", format="NETCDF4", encoding=enc)
            mode = "a"
        _write_checksums(tmp)
        _fsync(tmp)
        _publish(tmp, path, overwrite=overwrite)
        _fsync(path.parent)
    except BaseException as e:
        full = isinstance(e, Exception) and _out_of_space(e, path.parent)  # before tmp is freed
        tmp.unlink(missing_ok=True)
        if full:
            raise ResultsFileError(f"no space left on {_mount_point(path.parent)} while writing {path} "
                                   "(nothing was written); free some space or write elsewhere") from None
        raise
    return path


def _out_of_space(error: Exception, folder: Path) -> bool:
    """Whether a failed write ran out of disk space: ENOSPC/EDQUOT, or the netCDF/HDF5 error
    it becomes inside the library (then the free space tells)."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if isinstance(error, DynalysisError):
        return False
    try:
        return shutil.disk_usage(folder).free < (1 << 20)
    except OSError:
        return False


def _mount_point(folder: Path) -> str:
    path = Path(os.path.abspath(folder))
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return str(path)


def _publish(tmp: Path, path: Path, *, overwrite: bool) -> None:
    """Rename ``tmp`` to ``path``; without ``overwrite`` a hard link makes "exists" atomic too."""
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise ResultsFileError(f"{path} was created by another process meanwhile; "
                               "pass overwrite=True to replace it") from None
    except OSError as e:  # file systems without hard links
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise
        if path.exists():
            raise ResultsFileError(f"{path} already exists; pass overwrite=True to replace it") from None
        os.replace(tmp, path)
        return
    tmp.unlink()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def _opened(path):
    """``(path, netCDF4.Dataset)``: the one read handle of a call, closed on exit."""
    import netCDF4

    path = _check_readable(path)
    try:
        nc = netCDF4.Dataset(path, "r")
    except Exception as e:  # netCDF/HDF5 parse errors of damaged files come in many types
        raise ResultsFileError(f"{path} is not a readable NetCDF file ({first_line(e)}); "
                               "re-run the analysis to recreate it") from None
    try:
        yield path, nc
    except DynalysisError:
        raise
    except Exception as e:
        raise ResultsFileError(f"{path} is not a readable NetCDF file ({first_line(e)}); "
                               "re-run the analysis to recreate it") from None
    finally:
        nc.close()


def _root_attrs(nc) -> dict:
    return {k: _plain(nc.getncattr(k)) for k in nc.ncattrs()}


def _verify(path: Path, nc, groups) -> dict:
    """Check the root's checksum and those of ``groups`` (None: all); return the root's attributes."""
    root = _root_attrs(nc)
    names = list(nc.groups) if groups is None else [g for g in groups if g is not None]
    for grp in [nc, *(nc.groups[g] for g in names)]:
        _check_digest(path, grp, has_checksums=_CHECKSUM in root)
    return root


def _require(path: Path, nc, required) -> None:
    missing = [g for g in dict.fromkeys(required) if g not in nc.groups]
    if missing:
        raise ResultsFileError(f"{path} is incomplete: no group {', '.join(map(repr, missing))} "
                               f"(groups: {', '.join(nc.groups) or 'none'})")


def verify_results(path: str | os.PathLike, *, groups=None) -> dict:
    """Check that a results file is readable and undamaged; return its root attributes.

    Parameters
    ----------
    path : path-like
    groups : iterable of str, optional
        Groups that must be present (e.g. the analyses a run asked for).

    Returns
    -------
    dict
        The root group's attributes.

    Raises
    ------
    ResultsFileError
        Missing, empty, unreadable or damaged (checksum mismatch) files, or missing groups.
    """
    return _verified_root_attrs(path, required=groups or ())


def read_root_attrs(path: str | os.PathLike) -> dict:
    """The root attributes of a NetCDF file, without checking checksums (who wrote it, with
    which request); `ResultsFileError` if it is not a readable NetCDF file."""
    with _opened(path) as (_, nc):
        return _root_attrs(nc)


def _verified_root_attrs(path, *, required=(), check=None, verify: bool = True) -> dict:
    """Root attributes after checking the checksums of the root and ``check`` (None: all groups).

    ``verify=False`` only reads the attributes (and checks that ``required`` groups exist).
    """
    with _opened(path) as (path, nc):
        _require(path, nc, required)
        return _verify(path, nc, check) if verify else _root_attrs(nc)


def result_groups(path: str | os.PathLike) -> list[str]:
    """Names of the analysis groups in a results file (empty for a single-analysis file)."""
    with _opened(path) as (_, nc):
        return list(nc.groups)


def _load(path: Path, nc, group: str | None) -> xr.Dataset:
    """One group (None: the root) read through the open handle ``nc``, decoded, in memory."""
    from xarray.backends import NetCDF4DataStore

    try:
        store = NetCDF4DataStore(nc, group=group)
        return _decode(xr.open_dataset(store).load())  # not closed: ``nc`` belongs to the caller
    except Exception as e:  # parse or decoding errors of damaged or foreign files
        raise ResultsFileError(f"{path} could not be read as a dynalysis results file "
                               f"({first_line(e)}); re-run the analysis to recreate it") from None


def open_results(path: str | os.PathLike, group: str | None = None, *,
                 verify: bool = True) -> xr.Dataset | xr.DataTree:
    """Open a results file written by `save_results`, loading it into memory.

    Parameters
    ----------
    path : path-like
    group : str, optional
        Analysis group to open (see `result_groups`), or ``"/"`` for the root group. By
        default: everything, as it was saved (a single analysis as a Dataset, a file of
        groups as a DataTree).
    verify : bool, default True
        Compare the stored checksums first (see the module notes); a mismatch raises.

    Returns
    -------
    xarray.Dataset or xarray.DataTree
        With complex variables restored. A DataTree holds the shared provenance in its root's
        ``attrs`` and one child per analysis (``tree["lyapunov"].dataset``).

    Raises
    ------
    ResultsFileError
        Missing, empty, unreadable or damaged files, or an unknown group; one line naming the
        file and the problem.

    Examples
    --------
    >>> import tempfile, numpy as np, xarray as xr, dynalysis
    >>> folder = tempfile.mkdtemp()
    >>> ds = xr.Dataset({"exponent": ("exponent_index", np.array([0.4, -1.6]))})
    >>> path = dynalysis.save_results({"lyapunov": ds}, f"{folder}/r.nc")
    >>> dynalysis.open_results(path, group="lyapunov").exponent.values
    array([ 0.4, -1.6])
    >>> tree = dynalysis.open_results(path)
    >>> list(tree.children), tree["lyapunov"].exponent.values.tolist()
    (['lyapunov'], [0.4, -1.6])
    """
    with _opened(path) as (path, nc):
        if group not in (None, "/") and group not in nc.groups:
            raise ResultsFileError(f"{path} has no group {group!r}; groups: {', '.join(nc.groups) or 'none'}")
        if group is not None or not nc.groups:
            name = None if group == "/" else group
            if verify:
                _verify(path, nc, [name])
            return _load(path, nc, name)
        if verify:
            _verify(path, nc, None)
        nodes = {"/": _load(path, nc, None), **{f"/{g}": _load(path, nc, g) for g in nc.groups}}
    return xr.DataTree.from_dict(nodes)


def _check_readable(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise ResultsFileError(f"{path} does not exist")
    if path.is_dir():
        raise ResultsFileError(f"{path} is a directory, not a results file")
    if path.stat().st_size == 0:
        raise ResultsFileError(f"{path} is empty; re-run the analysis to recreate it")
    return path
