"""Errors a user can act on.

`DynalysisError` marks problems caused by input (files, options, shapes): the CLI prints its
message on one line and exits non-zero without a traceback. Anything else is a bug.
"""
from __future__ import annotations

__all__ = ["DynalysisError", "CheckpointError", "ResultsFileError", "OptionError", "check_option",
           "check_positive_int", "check_reortho_every", "first_line"]


class DynalysisError(Exception):
    """A user-facing error: the message names the problem and, where known, the fix."""


class CheckpointError(DynalysisError, ValueError):
    """A checkpoint file is missing, corrupt, or not a dynalysis/Lightning checkpoint."""


class ResultsFileError(DynalysisError, ValueError):
    """A results file is missing, corrupt, or would be overwritten."""


class OptionError(DynalysisError, ValueError):
    """An option has an invalid value; the message names it and the allowed values."""


def first_line(error: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type name if empty), for one-line errors."""
    text = str(error).strip()
    return text.splitlines()[0][:limit] if text else type(error).__name__


def check_option(name: str, value, allowed) -> None:
    """Raise `OptionError` unless ``value`` is one of ``allowed``.

    >>> check_option("method", "qr", ("qr", "svd"))
    >>> check_option("method", "x", ("qr",))
    Traceback (most recent call last):
    ...
    dynalysis._errors.OptionError: invalid method='x'; allowed values: 'qr'
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
