"""Shared figure helpers: headless matplotlib, safe saving, labels read from the results.

Every plotter describes its figures as ``{file stem: draw}`` where ``draw()`` returns a
matplotlib Figure; `write_figures` checks every target first (nothing is written when one
would be overwritten without ``overwrite=True``), then draws and saves each figure atomically
(a temporary file in the same folder, renamed into place), so a crash never leaves a
half-written PNG behind.
"""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from ..errors import ResultsFileError, first_line

Figures = Mapping[str, Callable[[], object]]

DPI = 150
_GENERIC_MATRIX_SOURCES = ("", "recurrent_matrix() of the system")


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (imported lazily: it is slow)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


# --- writing ----------------------------------------------------------------------------------
def targets(out_dir, names) -> list[Path]:
    """The PNG paths of figure stems ``names`` in ``out_dir``."""
    return [Path(out_dir) / f"{name}.png" for name in names]


def refuse_existing(paths, *, overwrite: bool) -> None:
    """Raise `ResultsFileError` naming the files of ``paths`` that exist, unless ``overwrite``."""
    existing = [p for p in paths if os.path.lexists(p)]
    if existing and not overwrite:
        folder = existing[0].parent
        names = ", ".join(p.name for p in existing)
        raise ResultsFileError(f"figures already exist in {folder}: {names}; pass overwrite=True "
                               "to replace them")


def check_folder(out_dir) -> None:
    """Raise `ResultsFileError` when ``out_dir`` exists but is not a folder."""
    if os.path.lexists(out_dir) and not Path(out_dir).is_dir():
        raise ResultsFileError(f"{out_dir} is not a folder; give a folder for the figures")


def save(fig, path: Path) -> Path:
    """Save ``fig`` as the PNG ``path`` atomically (temporary file + rename) and close it.

    Raises `ResultsFileError` (one line, the file and the system's reason, e.g. "No space
    left on device") when the file cannot be written; nothing is left behind then.
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight")
        os.replace(tmp, path)
    except OSError as e:
        raise ResultsFileError(f"cannot write {path}: {e.strerror or first_line(e)}") from None
    finally:
        pyplot().close(fig)
        if tmp.exists():
            tmp.unlink()
    return path


def write_figures(figures: Figures, out_dir, *, overwrite: bool = False) -> list[Path]:
    """Check every target of ``figures`` first, then draw and save each; return the paths."""
    check_folder(out_dir)
    paths = targets(out_dir, figures)
    refuse_existing(paths, overwrite=overwrite)
    return [save(draw(), path) for draw, path in zip(figures.values(), paths)]


# --- what the results say about themselves -----------------------------------------------------
def title_of(ds) -> str:
    """A short title naming what was analysed (the source file's name)."""
    src = str(ds.attrs.get("source", ""))
    return Path(src).name if src else ds.attrs.get("analysis", "")


def per_time(ds, var: str, default: str = "step") -> str:
    """The time unit of a rate variable: ``"1/step"`` -> ``"step"``, ``"1/s"`` -> ``"s"``."""
    units = str(ds[var].attrs.get("units", f"1/{default}")) if var in ds.variables else f"1/{default}"
    return units.split("/", 1)[1].strip() if "/" in units else default


def time_unit(ds, var: str, default: str = "step") -> str:
    """The units of a duration variable or coordinate (``"step"`` when not recorded)."""
    units = ds[var].attrs.get("units") if var in ds.variables else None
    return str(units) if units not in (None, "", "1") else default


def plural(unit: str) -> str:
    """``"step"`` -> ``"steps"``; other units (``"s"``, ``"ms"``) as they are."""
    return "steps" if unit == "step" else unit


def diverged_count(ds, var: str = "diverged") -> tuple[int, int]:
    """``(diverged, total)`` from a divergence flag variable (``(0, 0)`` without it)."""
    if var not in ds:
        return 0, 0
    flags = np.asarray(ds[var].values).ravel()
    return int((flags != 0).sum()), int(flags.size)


def divergence_text(ds, what: str = "trajectories", var: str = "diverged") -> str | None:
    """``"all N trajectories diverged (NaN/inf)"``, ``"k of N … left out"``, or None."""
    k, n = diverged_count(ds, var)
    if not k:
        return None
    if k == n:
        return f"all {n} {what} diverged (NaN/inf)"
    return f"{k} of {n} {what} diverged (NaN/inf); left out"


def system_model(ds) -> dict:
    """The model hyper-parameters recorded in the ``system`` attribute (empty if none)."""
    try:
        meta = json.loads(ds.attrs.get("system", "{}") or "{}")
    except (TypeError, ValueError):
        return {}
    model = meta.get("model") if isinstance(meta, dict) else None
    return model if isinstance(model, dict) else {}


def matrix_description(ds) -> str:
    """What the file's "recurrent matrix" is, in words, for figure captions.

    The result's own record comes first: ``recurrent_matrix_description`` (the system's
    declaration, e.g. "R + eps*W (the Jacobian at zero pre-activation)"), then a specific
    ``matrix_source`` (e.g. "Jacobian at the initial state, zero input"). A file that only says
    "recurrent_matrix() of the system" does not tell, for a WCRNN, whether that was the coupling
    ``W`` inside the tanh (older versions) or the linearisation ``R + εW`` of its dynamics; the
    caption says so rather than guess.
    """
    described = str(ds.attrs.get("recurrent_matrix_description", "") or "").strip()
    if described:
        return described
    source = str(ds.attrs.get("matrix_source", "") or "").strip()
    if source not in _GENERIC_MATRIX_SOURCES:
        return source
    if system_model(ds).get("cell") == "wcrnn":
        return ("recurrent_matrix() of the WCRNN h ← R h + ε tanh(W h + V x + b); this file does not "
                "say whether that was the coupling W (older versions) or the linearisation R + εW "
                "(newer versions)")
    return "recurrent weight matrix of the model"


# --- drawing -----------------------------------------------------------------------------------
def note(ax, text: str) -> None:
    """A message in the middle of ``ax`` (e.g. why there is nothing to draw).

    On axes with no data the ticks go too: a 0–1 scale would suggest values that are not there.
    """
    if not ax.lines and not ax.collections and not ax.patches:
        ax.set_xticks([])
        ax.set_yticks([])
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=9,
            wrap=True, bbox=dict(boxstyle="round", facecolor="#fff3cd", edgecolor="#c9a227"))


def figure(ncols: int = 1, *, width: float = 6.0, height: float = 4.0):
    """``(fig, axes)``: one row of ``ncols`` axes, constrained layout (``axes`` a list)."""
    fig, axes = pyplot().subplots(1, ncols, figsize=(width, height), squeeze=False, layout="constrained")
    return fig, list(axes[0])


def footnote(fig, *lines: str | None) -> None:
    """Small text under the figure: numbers and notes that must not cover the data.

    Empty lines are dropped; long ones are wrapped to the figure's width.
    """
    import textwrap

    width = max(40, int(fig.get_figwidth() * 16))
    text = "\n".join(textwrap.fill(part, width) for line in lines if line for part in line.split("\n"))
    if text:
        fig.text(0.01, 0.0, text, ha="left", va="top", fontsize=7.5)


def legend_above(fig, axes, *, ncols: int = 3, title: str | None = None):
    """One legend for all ``axes``, above them (it never hides data), under ``title`` if given.

    A figure title goes here rather than in ``fig.suptitle``, which the legend would overlap.
    """
    handles, labels = [], []
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(h)
                labels.append(label)
    if not handles:
        if title:
            fig.suptitle(title, fontsize=10)
        return None
    leg = fig.legend(handles, labels, loc="outside upper center", ncols=min(ncols, len(handles)),
                     fontsize=7.5, frameon=False, title=title, title_fontsize=10)
    for handle in leg.legend_handles:
        handle.set_alpha(1)
    return leg


def finite(values) -> np.ndarray:
    """The finite entries of ``values`` (flattened)."""
    values = np.asarray(values).ravel()
    return values[np.isfinite(values)]


def value_axis(ax, values, *, axis: str = "y") -> None:
    """Log scale for positive data spanning more than a decade, else linear; plain tick labels.

    Log ticks are powers of ten; linear ticks are plain numbers without offset or
    scientific notation (a narrow log range would label its ticks ``1.08×10⁰``).
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    v = finite(values)
    positive = v[v > 0]
    set_scale = ax.set_yscale if axis == "y" else ax.set_xscale
    target = ax.yaxis if axis == "y" else ax.xaxis
    if positive.size and positive.size == v.size and positive.max() > 10 * positive.min():
        set_scale("log")
        if positive.max() < 100 * positive.min():  # under two decades: label 2× and 5× too
            target.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
            target.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        else:
            target.set_minor_formatter(NullFormatter())
    else:
        set_scale("linear")
        plain_ticks(ax, axis=axis)


def plain_ticks(ax, *, axis: str = "y") -> None:
    """Plain linear tick labels: no offset, no scientific notation."""
    from matplotlib.ticker import ScalarFormatter

    fmt = ScalarFormatter(useOffset=False)
    fmt.set_scientific(False)
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def square_limits(ax, re, im, *, pad: float = 0.08, upper_half: bool = False) -> None:
    """Equal-aspect limits around the points ``re + i·im`` (a square window, same scale).

    ``upper_half``: the window reaches at most a margin below Im λ = 0 (room to spare goes up).
    """
    lo_r, hi_r, lo_i, hi_i = np.min(re), np.max(re), np.min(im), np.max(im)
    half = max(hi_r - lo_r, hi_i - lo_i, 1e-3) * (0.5 + pad)
    cr, ci = (lo_r + hi_r) / 2, (lo_i + hi_i) / 2
    ax.set_xlim(cr - half, cr + half)
    bottom = max(ci - half, -pad * half) if upper_half else ci - half
    ax.set_ylim(bottom, bottom + 2 * half)
    ax.set_aspect("equal", adjustable="box")


def unit_circle(ax) -> None:
    """Draw the unit circle and the axes through 0 on a complex-plane axis (equal aspect)."""
    th = np.linspace(0, 2 * np.pi, 720)
    ax.plot(np.cos(th), np.sin(th), color="0.3", lw=0.8, label="unit circle |λ| = 1")
    ax.axhline(0, color="0.85", lw=0.6, zorder=0)
    ax.axvline(0, color="0.85", lw=0.6, zorder=0)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set(xlabel="Re λ", ylabel="Im λ")
