"""dynalysis: recurrent neural networks analysed as dynamical systems.

Every analysis takes a step map (`load_checkpoint`, `from_module`, `MapSystem`) and returns a
labelled `xarray.Dataset`; `save_results` writes it to NetCDF.

Public names are declared once, in the ``TYPE_CHECKING`` block below: static analysers and
IDEs read it as ordinary imports, and at run time the same block is parsed into a table of
name -> module so that each name is imported on first use (PEP 562 module ``__getattr__``,
the pattern of scientific-python's SPEC 1). ``import dynalysis`` and ``cli.py analyze --help``
therefore do not pay for torch, xarray and the analyses until something needs them.
"""
from __future__ import annotations

import ast
import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the public API (read at run time by _public_names)
    from .errors import (CheckpointError, DivergenceWarning, DynalysisError,
                         NumericalReliabilityWarning, OptionError, ResultsFileError,
                         StepMapError)
    from .errors import MissedAttractorWarning
    from .system import MapSystem, ModuleSystem, System
    from .flow import FlowSystem
    from .testing import check_system
    from .adapters import from_module
    from ._core.inputs import task_inputs, zero_inputs
    from .lyapunov.spectrum import kaplan_yorke_dimension, lyapunov_spectrum
    from .lyapunov.differentiable import lyapunov_exponents
    from .lyapunov.covariant import covariant_lyapunov_vectors
    from .spectra.jacobian import jacobian_eigenvalues
    from .spectra.pseudospectra import pseudospectra
    from .fixed_points.search import find_fixed_points
    from .nonnormal.measures import nonnormality
    from .nonnormal.transient import transient_growth
    from .memory.kernel import memory_kernel
    from .memory.capacity import memory_capacity
    from .memory.fisher import fisher_memory_curve
    from .io.netcdf import open_results, result_groups, save_results, verify_results
    from .io.checkpoint import find_checkpoints, find_last_checkpoint, load_checkpoint
    from .io.sweep import open_sweep
    from .pipeline.analyze import analyze_checkpoint
    from .pipeline.batch import analyze_checkpoints

_SUBPACKAGES = ("adapters", "cli", "errors", "fixed_points", "io", "lyapunov", "memory", "models",
                "nonnormal", "pipeline", "plotting", "spectra", "system", "tasks", "testing")


def _public_names() -> dict[str, str]:
    """``{public name: module}`` from the ``TYPE_CHECKING`` block of this file."""
    with open(__file__, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    block = next(node for node in tree.body if isinstance(node, ast.If)
                 and getattr(node.test, "id", None) == "TYPE_CHECKING")
    return {alias.asname or alias.name: "." * node.level + (node.module or "")
            for node in block.body for alias in node.names}


_EXPORTS = _public_names()
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("dynalysis")
        except PackageNotFoundError:  # running from a source tree that was never installed
            value = "0+unknown"
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    elif name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_SUBPACKAGES, "__version__"})
