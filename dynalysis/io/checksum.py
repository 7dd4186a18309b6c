"""The per-group SHA-256 checksums of results files (see `dynalysis.io.netcdf`).

Every group carries ``dynalysis_checksum``: a SHA-256 of its dimensions, variables (raw bytes
as stored) and attributes (all but ``history`` and the checksum itself), computed through the
netCDF4 handle the caller holds, so checksums and data are read through the same handle.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..errors import ResultsFileError

__all__ = ["CHECKSUM", "group_digest", "write_checksums", "check_digest", "plain"]

CHECKSUM = "dynalysis_checksum"
UNCHECKED_ATTRS = (CHECKSUM, "history")  # history may be appended to by other tools (NCO)


def plain(value):
    """An attribute value as JSON-able Python (numpy scalars/arrays → numbers/lists)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return np.asarray(value).tolist() if isinstance(value, (np.ndarray, np.generic)) else value


def group_digest(grp) -> str:
    """SHA-256 of one netCDF4 group as stored: dims, attributes, variables (raw bytes)."""
    h = hashlib.sha256()

    def feed(obj) -> None:
        h.update(json.dumps(obj, sort_keys=True, default=str).encode())

    feed({k: plain(grp.getncattr(k)) for k in grp.ncattrs() if k not in UNCHECKED_ATTRS})
    feed({name: len(dim) for name, dim in grp.dimensions.items()})
    for name in sorted(grp.variables):
        var = grp.variables[name]
        var.set_auto_maskandscale(False)
        feed([name, list(var.dimensions), str(var.dtype),
              {k: plain(var.getncattr(k)) for k in var.ncattrs()}])
        values = np.asarray(var[...])
        if values.dtype.kind == "O":
            feed([str(v) for v in values.ravel()])
        else:
            h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()


def write_checksums(path: Path) -> None:
    """Store every group's checksum in the finished (temporary) file ``path``."""
    import netCDF4

    with netCDF4.Dataset(path, "a") as nc:
        for grp in [nc, *nc.groups.values()]:
            grp.setncattr(CHECKSUM, group_digest(grp))


def check_digest(path: Path, grp, *, has_checksums: bool) -> None:
    """Raise `ResultsFileError` unless the group ``grp`` of ``path`` matches its stored checksum
    (a file written without checksums, ``has_checksums=False``, has nothing to compare)."""
    stored = grp.getncattr(CHECKSUM) if CHECKSUM in grp.ncattrs() else None
    where = f"group {grp.path!r}" if grp.path != "/" else "root group"
    if stored is None:
        if has_checksums:
            raise ResultsFileError(f"{path}: {where} lost its checksum; the file is damaged, "
                                   "re-run the analysis to recreate it")
        return  # a file not written by save_results: nothing to compare with
    if group_digest(grp) != stored:
        raise ResultsFileError(f"{path}: {where} does not match its checksum (damaged on disk or "
                               "edited since it was written); re-run the analysis to recreate it, "
                               "or pass verify=False to read it anyway")
