"""The "memory" analysis of `cli.py analyze`: kernel, capacity and Fisher curve in one Dataset."""
from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from ..errors import DivergenceWarning
from .._core.linearisation import LINEARISATION, linearisation
from .._core.options import resolve_dtype
from .._core.provenance import to_json
from .._core.result import Schema, Var, build_result
from .capacity import SCHEMA as CAPACITY_SCHEMA
from .capacity import capacity_data, check_capacity_options
from .fisher import SCHEMA as FISHER_SCHEMA
from .fisher import fisher_data
from .kernel import SCHEMA as KERNEL_SCHEMA
from .kernel import check_kernel_options, kernel_data

__all__ = ["linearisation", "memory_analysis", "SCHEMA"]


def _fisher_of_linearisation(system, max_lag: int) -> tuple[dict, dict]:
    """Fisher memory of ``(A, v)`` at rest: stationary when ``ρ(A) < 1``, else over a horizon of
    ``max_lag + 1`` steps; NaN (with a `DivergenceWarning`) when the linearisation is not finite."""
    A, v = linearisation(system)
    if not (np.isfinite(A).all() and np.isfinite(v).all()):
        warnings.warn("memory: the linearisation at the initial state is not finite (NaN/inf); the Fisher "
                      "memory is NaN", DivergenceWarning, stacklevel=3)
        data = {"fisher_memory": np.full(max_lag + 1, np.nan), "fisher_memory_total": np.nan}
        return data, {"fisher_spectral_radius": np.nan, "fisher_horizon": "not computed"}
    rho = float(np.abs(np.linalg.eigvals(A)).max())
    horizon = None if rho < 1 - 1e-9 else max_lag + 1
    data, _, _ = fisher_data(A, v, max_lag, horizon)
    return data, {"fisher_spectral_radius": rho,
                  "fisher_horizon": "stationary" if horizon is None else int(horizon)}


def memory_analysis(system, inputs, *, max_lag: int, seed: int = 0, dtype="float64",
                    n_trajectories: int = 1) -> xr.Dataset:
    """Memory kernel on ``inputs``, memory capacity, and the Fisher memory curve of the
    linearisation ``(A, v)`` (`linearisation`): stationary when ``ρ(A) < 1``, otherwise over a
    horizon of ``max_lag + 1`` steps (attribute ``fisher_horizon``).

    Returns one Dataset on the shared ``lag`` axis with the variables of `memory_kernel`,
    `memory_capacity` and `fisher_memory_curve` (`SCHEMA`); the kernel's ``diverged
    (trajectory)`` flags the driving trajectories, ``capacity_diverged (capacity_trajectory)``
    the capacity's own. Each part's options are kept in the attributes ``kernel_options``,
    ``capacity_options`` and ``fisher_options``. Every option of every part is checked before
    any work.

    Examples
    --------
    >>> import torch, dynalysis
    >>> lin = dynalysis.testing.linear_map([[0.5]], [[1.0]])
    >>> ds = memory_analysis(lin, torch.randn(2, 20, 1), max_lag=4)
    >>> ds.kernel_norm.values.round(4).tolist(), round(float(ds.fisher_memory_total), 6)
    ([1.0, 0.5, 0.25, 0.125, 0.0625], 1.0)
    """
    dtype = resolve_dtype(dtype)
    kernel = check_kernel_options(system, inputs, max_lag=max_lag, dtype=dtype)
    capacity = check_capacity_options(system, max_lag=max_lag, seed=seed, dtype=dtype,
                                      n_trajectories=n_trajectories, stacklevel=5)
    data, coords = kernel_data(system, kernel)
    cap, cap_coords = capacity_data(system, capacity, stacklevel=5)
    cap["capacity_diverged"] = cap.pop("diverged")
    fisher, fisher_attrs = _fisher_of_linearisation(system, kernel["options"]["max_lag"])
    data.update(cap)
    data.update(fisher)
    coords["capacity_trajectory"] = cap_coords["trajectory"]
    fisher_options = {"max_lag": int(max_lag), "horizon": fisher_attrs["fisher_horizon"],
                      "matrix": LINEARISATION}
    options = {"max_lag": int(max_lag), "seed": int(seed), "dtype": dtype, "n_trajectories": int(n_trajectories)}
    attrs = {"kernel_options": to_json(kernel["options"]), "capacity_options": to_json(capacity["options"]),
             "fisher_options": to_json(fisher_options), "output_is_state": int(not system.has_readout),
             "fisher_linearisation": "A = dF/dh, v = dF/dx[:, 0] at the initial state with zero input",
             **fisher_attrs}
    return build_result(SCHEMA, data, coords, system=system, options=options, attrs=attrs)


SCHEMA = Schema("memory", description="memory kernel dy_T/dx_{T-j}, linear memory capacity and the Fisher "
                "memory curve of the linearisation", variables={
    **KERNEL_SCHEMA.variables,
    **{k: v for k, v in CAPACITY_SCHEMA.variables.items() if k != "diverged"},
    "capacity_diverged": Var(("capacity_trajectory",), "capacity trajectory diverged (NaN/inf state)",
                             flags=CAPACITY_SCHEMA.variables["diverged"].flags),
    **FISHER_SCHEMA.variables,
}, coords={
    **KERNEL_SCHEMA.coords,
    "capacity_trajectory": Var(("capacity_trajectory",), "trajectory index of the capacity's own driven runs"),
})
