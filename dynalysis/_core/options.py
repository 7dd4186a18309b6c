"""Option checks shared by every analysis: one vocabulary, checked before any work starts.

Each check raises `dynalysis.OptionError` naming the option and the allowed values.
"""
from __future__ import annotations

from ..errors import OptionError

__all__ = ["check_option", "check_positive_int", "check_reortho_every", "resolve_dtype"]

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
