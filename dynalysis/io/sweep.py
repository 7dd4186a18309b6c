"""A sweep's results files as one lazy `xarray.Dataset` along a ``checkpoint`` dimension."""
from __future__ import annotations

import json
import os

import numpy as np
import xarray as xr

from ..errors import ResultsFileError, first_line

__all__ = ["open_sweep", "sweep_coordinates"]

ALIASES = {"lambda": ("wcrnn", "residual_scale")}  # name: (cell, model option) — docs/science.md §1's λ


def _loads(text, default):
    try:
        return json.loads(text) if isinstance(text, str) else default
    except ValueError:
        return default


def _seed_everything(config_text) -> int | None:
    import yaml

    try:
        value = (yaml.safe_load(config_text) or {}).get("seed_everything") if config_text else None
    except Exception:  # a config that does not parse is provenance, not a reason to fail
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def sweep_coordinates(root_attrs: dict) -> dict:
    """Flat hyper-parameters of one results file from its root attributes.

    Model options keep their names (``hidden_size``, ``epsilon``, ``residual_scale``, cell
    ``seed``, ...); training options too (``lr``, ``optimizer``), prefixed ``training_`` where a
    model option has the same name; the task is ``task`` (its name) and ``task_<option>``;
    plus ``epoch``, ``global_step``, ``seed_everything`` (from the run's saved config) and the
    aliases in ``ALIASES`` (``lambda`` = the WCRNN's ``residual_scale``). Dict and list values
    become JSON text.
    """
    system = _loads(root_attrs.get("system"), {})
    model = dict(system.get("model") or {})
    flat = dict(model)
    for k, v in (system.get("training") or {}).items():
        flat[f"training_{k}" if k in model else k] = v
    task = dict(system.get("task") or {})
    if task:
        flat["task"] = task.pop("name", None)
        flat.update({f"task_{k}": v for k, v in task.items()})
    flat.update(epoch=system.get("epoch"), global_step=system.get("global_step"),
                seed_everything=_seed_everything(root_attrs.get("training_config")))
    for alias, (cell, option) in ALIASES.items():
        flat[alias] = model.get(option) if model.get("cell") == cell else None
    return {k: json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v for k, v in flat.items()}


def _coordinate(values: list) -> np.ndarray:
    """One coordinate from per-file values: numbers (NaN where missing), else text ("" where missing)."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        if len(present) == len(values) and all(isinstance(v, int) for v in present):
            return np.asarray(values, dtype=np.int64)
        return np.asarray([np.nan if v is None else v for v in values], dtype=float)
    return np.asarray(["" if v is None else str(v) for v in values], dtype=object)


def open_sweep(paths, *, group: str | None = "lyapunov", verify: bool = True,
               chunks: dict | None = None) -> xr.Dataset:
    """Open many results files lazily as one Dataset along ``checkpoint``, labelled by hyper-parameters.

    Parameters
    ----------
    paths : path, glob pattern, folder, or a list of them
        Results files (``"results/**/*.nc"``; a folder means every ``.nc`` below it).
    group : str or None, default "lyapunov"
        Analysis group to read from each file (None: the root group).
    verify : bool, default True
        Check each file's checksums of the root and ``group`` first (reads the file once;
        the returned data stay lazy). A damaged file raises `ResultsFileError` naming it.
    chunks : dict, optional
        Dask chunks per file (default: one chunk per file and variable).

    Returns
    -------
    xarray.Dataset
        The group's variables with a leading ``checkpoint`` dimension, dask-backed (nothing is
        loaded until computed). Coordinates along ``checkpoint``: ``checkpoint`` (checkpoint
        path), ``results_file``, and the flattened hyper-parameters of `sweep_coordinates`
        (``hidden_size``, ``residual_scale``, ``lambda``, ``epsilon``, ``seed``, ``lr``, ``task``,
        ``epoch``, ...). Files of networks with different sizes are padded with NaN. Complex
        variables are restored as in `dynalysis.open_results`.

    Examples
    --------
    >>> sweep = dynalysis.open_sweep("results/**/*.nc")                    # doctest: +SKIP
    >>> sweep.exponent.sel(exponent_index=0).groupby("lambda").mean()      # doctest: +SKIP
    """
    from .netcdf import _decode, _verified_root_attrs
    from .paths import expand_paths

    files = [str(f) for f in expand_paths(paths, suffix=".nc", error=ResultsFileError,
                                          hint="; run `python cli.py analyze ... --out-dir` first")]
    roots = [_verified_root_attrs(f, required=[group] if group else (), check=[group], verify=verify)
             for f in files]
    try:
        ds = xr.open_mfdataset(files, group=group, combine="nested", concat_dim="checkpoint",
                               engine="netcdf4", data_vars="all", coords="minimal", compat="override",
                               join="outer", combine_attrs="drop_conflicts", chunks=chunks or {})
    except Exception as e:
        raise ResultsFileError(f"{len(files)} results files could not be combined ({first_line(e)}); "
                               "are they all dynalysis results files with a group "
                               f"{group!r}?") from None
    table = [sweep_coordinates(r) for r in roots]
    coords = {"checkpoint": ("checkpoint", np.asarray([str(r.get("source", "")) for r in roots], dtype=object)),
              "results_file": ("checkpoint", np.asarray([os.path.abspath(f) for f in files], dtype=object))}
    for key in dict.fromkeys(k for row in table for k in row):
        values = [row.get(key) for row in table]
        if any(v is not None for v in values) and key not in ds.variables and key not in coords:
            coords[key] = ("checkpoint", _coordinate(values))
    return _decode(ds.assign_coords(coords))

