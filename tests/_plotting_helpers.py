"""Hand-built results for the plotting tests: each builder controls the values and which
optional variables are present (the analyses' own outputs are tested elsewhere)."""
from __future__ import annotations

import json

import numpy as np
import xarray as xr

WCRNN_SYSTEM = json.dumps({"model": {"cell": "wcrnn", "epsilon": 0.1, "hidden_size": 4}})


def lyapunov_ds(n=4, trajectories=3, steps=20, *, diverged=0, units="1/step", **extra):
    lam = -np.arange(n, dtype=float) * 0.1 + 0.05
    conv = lam[None, :] + 0.5 / np.arange(1, steps + 1)[:, None]
    div = np.zeros(trajectories, np.int8)
    div[:diverged] = 1
    if diverged == trajectories:
        lam, conv = np.full(n, np.nan), np.full((steps, n), np.nan)
    ds = xr.Dataset({"exponent": ("exponent_index", lam),
                     "exponent_std": ("exponent_index", np.full(n, 0.01)),
                     "convergence": (("step", "exponent_index"), conv),
                     "diverged": ("trajectory", div),
                     "kaplan_yorke_dimension": ((), 1.5 if diverged < trajectories else np.nan)},
                    coords={"exponent_index": np.arange(n), "step": np.arange(1, steps + 1) * 5,
                            "trajectory": np.arange(trajectories)},
                    attrs={"analysis": "lyapunov", "source": "/runs/x/model.ckpt"})
    for name in ("exponent", "exponent_std", "convergence"):
        ds[name].attrs["units"] = units
    ds["step"].attrs["units"] = units.split("/")[1]
    return ds.assign(extra)


def jacobian_ds(eig, singular=None, *, diverged=None, recurrent=None, attrs=None):
    """``eig (trajectory, time, eigen_index)`` complex; singular values default to |eig|."""
    eig = np.asarray(eig, dtype=complex)
    B, T, N = eig.shape
    sv = np.sort(np.abs(eig), -1)[..., ::-1] if singular is None else np.asarray(singular, float)
    div = np.zeros(B, np.int8) if diverged is None else np.asarray(diverged, np.int8)
    data = {"eigenvalue": (("trajectory", "time", "eigen_index"), eig),
            "singular_value": (("trajectory", "time", "singular_index"), sv),
            "spectral_radius": (("trajectory", "time"), np.abs(eig).max(-1)),
            "spectral_norm": (("trajectory", "time"), sv[..., 0]),
            "diverged": ("trajectory", div)}
    if recurrent is not None:
        data["recurrent_eigenvalue"] = ("recurrent_index", np.asarray(recurrent, complex))
    ds = xr.Dataset(data, coords={"trajectory": np.arange(B), "time": np.arange(1, T + 1)},
                    attrs={"analysis": "jacobian", "source": "m.ckpt", **(attrs or {})})
    ds["time"].attrs["units"] = "step"
    return ds


def rotation_eigs(radius=0.99, angle=np.pi / 4, B=2, T=30, spread=0.004, seed=0):
    """A WCRNN-like spectrum: a tight cluster at radius·e^{±i angle} (cf. the demo's R + εW)."""
    rng = np.random.default_rng(seed)
    z = radius * np.exp(1j * angle) + spread * (rng.normal(size=(B, T, 2)) + 1j * rng.normal(size=(B, T, 2)))
    return np.concatenate([z, z.conj()], -1)


def memory_ds(capacity, *, memory_time=12.3, **extra):
    L = len(capacity)
    ds = xr.Dataset({"kernel_norm": ("lag", np.exp(-np.arange(L) / 10.0)),
                     "memory_time": ((), memory_time),
                     "capacity": ("lag", np.asarray(capacity, float)),
                     "memory_capacity": ((), float(np.sum(capacity)))},
                    coords={"lag": np.arange(L)}, attrs={"analysis": "memory", "source": "m.ckpt"})
    ds["lag"].attrs["units"] = "step"
    return ds.assign(extra)


def fixed_points_ds(*, trajectory_pc=None, time=None, directions=None):
    """Three points in a 3-D state: a stable and an unstable fixed point, an unstable slow one."""
    state = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    data = {"state": (("fixed_point", "state_dim"), state),
            "kind": ("fixed_point", np.array([0, 0, 1], np.int8)),
            "stability": ("fixed_point", np.array([0, 2, 2], np.int8)),
            "eigenvalue": (("fixed_point", "eigen_index"), np.array([[0.5, 0.2, 0.1], [1.5, 0.5, 0.1],
                                                                      [1.2, 0.3j, -0.3j]])),
            "pca_components": (("pc", "state_dim"), np.eye(3)[:2]),
            "pca_explained_variance": ("pc", np.array([3.0, 1.0])),
            "fixed_point_pc": (("fixed_point", "pc"), state[:, :2])}
    coords = {"fixed_point": np.arange(3), "pc": np.arange(2), "state_dim": np.arange(3)}
    if trajectory_pc is not None:
        data["trajectory_pc"] = (("trajectory", "time", "pc"), trajectory_pc)
        coords.update(trajectory=np.arange(trajectory_pc.shape[0]), time=time)
    if directions is not None:
        data["unstable_direction"] = (("fixed_point", "state_dim"), directions)
    return xr.Dataset(data, coords=coords, attrs={"analysis": "fixed_points", "source": "m.ckpt"})


def nonnormality_ds(**attrs):
    p = np.arange(6)
    return xr.Dataset({"henrici": ((), 2.0), "henrici_normalized": ((), 0.5), "henrici_reliable": ((), 1),
                       "eigenvector_condition": ((), 3.0), "spectral_radius": ((), 0.9),
                       "spectral_norm": ((), 1.2), "spectral_abscissa": ((), 0.9),
                       "numerical_abscissa": ((), 1.1), "power_norm": ("power", 1.2 * 0.9 ** p),
                       "motif_profile": ("order_difference", np.array([0.0, 0.1, 0.0])),
                       "motif_profile_std": ("order_difference", np.full(3, 0.01))},
                      coords={"power": p, "order_difference": [-1, 0, 1]},
                      attrs={"analysis": "nonnormality", "source": "m.ckpt", **attrs})
