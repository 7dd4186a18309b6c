"""Option checks shared by every analysis: one vocabulary, checked before any work starts.

Each check raises `dynalysis.OptionError` naming the option and the allowed values. The
vocabulary (the same name means the same thing in every verb):

``transient``
    Steps run (state, and frame for Lyapunov exponents) before anything is measured.
``steps``
    Total length of a driven trajectory the verb generates itself, transient included.
``n_trajectories``, ``seed``, ``dtype``, ``device``, ``initial_state``
    What they say; analyses run in float64 by default.
"""
from __future__ import annotations

import math
import warnings

from ..errors import OptionError

__all__ = ["check_option", "check_positive_int", "check_positive_float", "check_fraction",
           "check_reortho_every", "renamed_option", "resolve_dtype"]

_DTYPES = {"float64": "float64", "float32": "float32", "double": "float64", "float": "float32"}


def resolve_dtype(dtype):
    """Accept a torch dtype or its name; analyses default to float64."""
    import torch  # lazy: the option checks are imported by `cli.py analyze --help`

    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float32, torch.float64):
            raise OptionError(f"invalid dtype={dtype}; allowed values: torch.float64, torch.float32")
        return dtype
    if dtype in _DTYPES:
        return getattr(torch, _DTYPES[dtype])
    raise OptionError(f"invalid dtype={dtype!r}; allowed values: 'float64', 'float32'")


def check_option(name: str, value, allowed) -> None:
    """Raise `OptionError` unless ``value`` is one of ``allowed``.

    >>> check_option("method", "qr", ("qr", "svd"))
    >>> check_option("method", "x", ("qr",))
    Traceback (most recent call last):
    ...
    dynalysis.errors.OptionError: invalid method='x'; allowed values: 'qr'
    """
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise OptionError(f"invalid {name}={value!r}; allowed values: {choices}")


def check_positive_int(name: str, value, *, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` as int if ``minimum <= value <= maximum``, else raise `OptionError`."""
    if isinstance(value, bool) or not isinstance(value, int) and not (
        hasattr(value, "__index__")
    ):
        raise OptionError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    hi = "" if maximum is None else f" and <= {maximum}"
    if value < minimum or (maximum is not None and value > maximum):
        raise OptionError(f"{name} must be >= {minimum}{hi}, got {value}")
    return value


def check_positive_float(name: str, value, *, allow_zero: bool = False) -> float:
    """Return ``value`` as float if it is a finite number > 0 (>= 0 with ``allow_zero``).

    >>> check_positive_float("tol", 1e-6)
    1e-06
    >>> check_positive_float("tol", 0)
    Traceback (most recent call last):
    ...
    dynalysis.errors.OptionError: tol must be a positive number, got 0
    """
    ok = (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
          and (value >= 0 if allow_zero else value > 0))
    if not ok:
        kind = "a number >= 0" if allow_zero else "a positive number"
        raise OptionError(f"{name} must be {kind}, got {value!r}")
    return float(value)


def check_fraction(name: str, value, *, closed: bool = False) -> float:
    """Return ``value`` as float if it lies in (0, 1) (``[0, 1]`` with ``closed``)."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and (
        0 <= value <= 1 if closed else 0 < value < 1)
    if not ok:
        interval = "[0, 1]" if closed else "(0, 1)"
        raise OptionError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def check_reortho_every(value) -> int | str:
    """``"auto"`` or a positive int (an int-like string from a command line is accepted)."""
    if isinstance(value, str):
        if value.strip().lower() == "auto":
            return "auto"
        try:
            value = int(value)
        except ValueError:
            raise OptionError(f"reortho_every must be a positive integer or 'auto', got {value!r}") from None
    return check_positive_int("reortho_every", value)


def renamed_option(old: str, old_value, new: str, new_value, *, default, analysis: str,
                   stacklevel: int = 3):
    """The value of option ``new`` when the caller may still use its former name ``old``.

    ``old_value`` is None when the old name was not given; otherwise it is used, with a
    `DeprecationWarning`, unless ``new`` was given too (`OptionError`: give one of them).
    """
    if old_value is None:
        return new_value
    if new_value is not default:
        raise OptionError(f"{analysis}: give {new}= only ({old}= is its former name), not both")
    warnings.warn(f"{analysis}: option {old}= is renamed {new}= (same meaning); {old}= will be "
                  "removed in a later version", DeprecationWarning, stacklevel=stacklevel)
    return old_value
