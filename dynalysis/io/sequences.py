"""Input sequences from a file: ``.npy``, ``.pt`` (a tensor, or a dict of them) or ``.nc``.

What ``cli.py analyze CKPT --inputs FILE`` drives a network with: one array of shape
``(trajectory, time, input)``. Read without unpickling code (``numpy.load(allow_pickle=False)``,
``torch.load(weights_only=True)``) and checked with one-line errors.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..errors import OptionError, first_line

__all__ = ["load_inputs", "check_inputs_path", "INPUT_SUFFIXES"]

INPUT_SUFFIXES = (".npy", ".pt", ".nc")
_DIMS = ("trajectory", "time", "input")


def check_inputs_path(path, variable: str | None = None) -> Path:
    """The checks that need no reading: an existing file with a known suffix, and a variable
    name for ``.nc`` (and only for ``.nc``/``.pt``)."""
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise OptionError(f"invalid inputs={path!r}; allowed values: a file ending in "
                          f"{', '.join(INPUT_SUFFIXES)}")
    path = Path(path)
    if path.suffix not in INPUT_SUFFIXES:
        raise OptionError(f"inputs={str(path)!r} has an unknown suffix; allowed: "
                          f"{', '.join(INPUT_SUFFIXES)} holding an array (trajectory, time, input)")
    if not path.is_file():
        raise OptionError(f"inputs={str(path)!r}: no such file")
    if path.suffix == ".nc" and not variable:
        raise OptionError(f"inputs={str(path)!r} is a NetCDF file; name the variable that holds the "
                          "sequences with inputs_variable=")
    if variable is not None and path.suffix == ".npy":
        raise OptionError("inputs_variable applies to .nc and .pt files (a .npy file holds one array)")
    return path


def _pick(mapping, variable, path: Path, what: str):
    names = [str(k) for k in mapping]
    if variable is None:
        raise OptionError(f"inputs={str(path)!r} holds {what} ({', '.join(names[:8])}); name one with "
                          "inputs_variable=")
    if variable not in mapping:
        raise OptionError(f"inputs={str(path)!r} has no variable {variable!r}; it holds "
                          f"{', '.join(names[:8]) or 'none'} (inputs_variable=)")
    return mapping[variable]


def _read(path: Path, variable: str | None):
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if path.suffix == ".pt":
        obj = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(obj, dict):
            obj = _pick(obj, variable, path, "several entries")
        elif variable is not None:
            raise OptionError(f"inputs={str(path)!r} holds one {type(obj).__name__}, not a dict; "
                              "leave out inputs_variable")
        return obj
    import xarray as xr

    with xr.open_dataset(path) as ds:
        da = _pick(ds.data_vars, variable, path, "several variables")
        if set(_DIMS) <= set(da.dims):
            da = da.transpose(*_DIMS)
        return da.load().values


def load_inputs(path, *, variable: str | None = None, input_size: int | None = None) -> torch.Tensor:
    """Read input sequences ``(trajectory, time, input)`` from a file.

    Parameters
    ----------
    path : path-like
        ``.npy`` (one array), ``.pt`` (a tensor, or a dict of tensors with ``variable``) or
        ``.nc`` (the data variable ``variable``; dims named ``trajectory``, ``time``,
        ``input`` are put in that order, other names are read in their stored order).
    variable : str, optional
        Required for ``.nc``, and for a ``.pt`` dict.
    input_size : int, optional
        The network's input size, checked against the last axis.

    Returns
    -------
    torch.Tensor
        float32 or float64 as stored (other real types become float64).

    Raises
    ------
    OptionError
        An unreadable file, another shape, a non-numeric or complex array, NaN/inf values, no
        trajectory or time step, or an input size other than the network's; one line each.
    """
    path = check_inputs_path(path, variable)
    try:
        raw = _read(path, variable)
    except OptionError:
        raise
    except Exception as e:  # damaged or foreign files fail with many exception types
        raise OptionError(f"inputs={str(path)!r} cannot be read ({type(e).__name__}: "
                          f"{first_line(e)})") from None
    if not isinstance(raw, (np.ndarray, torch.Tensor)):
        raise OptionError(f"inputs={str(path)!r} holds a {type(raw).__name__}, not an array")
    x = torch.from_numpy(np.ascontiguousarray(raw)) if isinstance(raw, np.ndarray) else raw
    if x.is_complex() or x.dtype == torch.bool or not (x.is_floating_point() or x.dtype in (
            torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)):
        raise OptionError(f"inputs={str(path)!r} holds {x.dtype} values; give real numbers")
    if x.ndim != 3:
        raise OptionError(f"inputs={str(path)!r} has shape {tuple(x.shape)}; it must be 3-D: "
                          "(trajectory, time, input)")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise OptionError(f"inputs={str(path)!r} has shape {tuple(x.shape)}: no trajectory or no time step")
    if input_size is not None and x.shape[2] != input_size:
        raise OptionError(f"inputs={str(path)!r} has {x.shape[2]} inputs per step (shape "
                          f"{tuple(x.shape)}), the network takes input_size={input_size}")
    if x.dtype not in (torch.float32, torch.float64):
        x = x.to(torch.float64)
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).sum())
        raise OptionError(f"inputs={str(path)!r} holds {bad} NaN or inf values; give finite inputs")
    return x
