"""dynalysis: recurrent neural networks analysed as dynamical systems.

Every analysis takes a step map (`load_checkpoint` or `MapSystem`) and returns a labelled
`xarray.Dataset`; `save_results` writes it to NetCDF.

The public names are imported on first use (PEP 562 module ``__getattr__``), so ``import
dynalysis`` and ``cli.py analyze --help`` do not pay for torch, xarray and the analyses until
something needs them; ``from dynalysis import lyapunov_spectrum`` works as usual.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> private module that defines it
_EXPORTS = {
    "analyze_checkpoint": "_analyze",
    "analyze_checkpoints": "_batch",
    "find_checkpoints": "_checkpoint",
    "find_last_checkpoint": "_checkpoint",
    "load_checkpoint": "_checkpoint",
    "CheckpointError": "_errors",
    "DynalysisError": "_errors",
    "OptionError": "_errors",
    "ResultsFileError": "_errors",
    "fisher_memory_curve": "_fisher_memory",
    "find_fixed_points": "_fixed_points",
    "open_results": "_io",
    "result_groups": "_io",
    "save_results": "_io",
    "verify_results": "_io",
    "jacobian_eigenvalues": "_jacobian",
    "kaplan_yorke_dimension": "_lyapunov",
    "lyapunov_spectrum": "_lyapunov",
    "memory_kernel": "_memory",
    "memory_capacity": "_memory_capacity",
    "NumericalReliabilityWarning": "_nonnormality",
    "nonnormality": "_nonnormality",
    "open_sweep": "_sweep",
    "MapSystem": "_system",
    "ModuleSystem": "_system",
    "System": "_system",
    "task_inputs": "_inputs",
    "zero_inputs": "_validate",
}
_SUBPACKAGES = ("cli", "models", "plotting", "tasks")

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_SUBPACKAGES})


if TYPE_CHECKING:  # pragma: no cover - static analysers and IDEs see the eager imports
    from ._analyze import analyze_checkpoint
    from ._batch import analyze_checkpoints
    from ._checkpoint import find_checkpoints, find_last_checkpoint, load_checkpoint
    from ._errors import CheckpointError, DynalysisError, OptionError, ResultsFileError
    from ._fisher_memory import fisher_memory_curve
    from ._fixed_points import find_fixed_points
    from ._inputs import task_inputs
    from ._io import open_results, result_groups, save_results, verify_results
    from ._jacobian import jacobian_eigenvalues
    from ._lyapunov import kaplan_yorke_dimension, lyapunov_spectrum
    from ._memory import memory_kernel
    from ._memory_capacity import memory_capacity
    from ._nonnormality import NumericalReliabilityWarning, nonnormality
    from ._sweep import open_sweep
    from ._system import MapSystem, ModuleSystem, System
    from ._validate import zero_inputs
