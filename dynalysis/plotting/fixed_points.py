"""Figures of a fixed-point result."""
from __future__ import annotations

import numpy as np

from ._common import (Figures, divergence_text, figure, footnote, legend_above, note, title_of, unit_circle,
                      write_figures)

__all__ = ["plot_fixed_points"]

# stability flag -> (colour, word, marker, filled)
_STYLE = {0: ("C2", "stable", "o", True), 1: ("C1", "marginal", "D", True),
          2: ("C3", "unstable", "o", False)}
_FIXED_SIZE, _OTHER_SIZE = 55, 14  # kind 0 (fixed point) large; slow (and any other kind) small
_MAX_TRAJECTORIES = 4  # a few trajectories, thin and light: more hide the points
_LINE_JUMP = 0.05  # connect trajectory samples only if a typical step is this small vs. the spread


def _pc_labels(ds, n_pc: int) -> list[str]:
    """``PC1 (44 % of var.)``: the share of the trajectories' variance along each axis.

    With ``pca_total_variance`` in the result the share is of the total variance; otherwise
    only the leading components' variances are stored and the share is of their sum.
    """
    var = np.asarray(ds.pca_explained_variance.values, dtype=float)
    if "pca_total_variance" in ds:
        total, of = float(ds.pca_total_variance), "of var."
    else:
        total, of = float(var.sum()), f"of top-{var.size} var."
    labels = []
    for i in range(2):
        if i < n_pc and total > 0:
            labels.append(f"PC{i + 1} ({var[i] / total:.0%} {of})")
        else:
            labels.append(f"PC{i + 1}" if i < n_pc else "")
    return labels


def _kind_words(ds) -> list[str]:
    """Names of the ``kind`` flag values (``flag_meanings``; "fixed", "slow" by default)."""
    words = str(ds.kind.attrs.get("flag_meanings", "")).split()
    return words if len(words) >= 2 else ["fixed", "slow"]


def _plane(values: np.ndarray, n_pc: int) -> tuple[np.ndarray, np.ndarray]:
    """The first two PC coordinates (zeros for the second when there is only one PC)."""
    x = values[..., 0]
    y = values[..., 1] if n_pc > 1 else np.zeros_like(x)
    return x, y


def _trajectories(ax, ds, n_pc: int) -> float:
    """Visited states as small dots (thin lines too where consecutive samples are close).

    A trajectory sampled sparsely, or one that rotates fast, jumps across the plane from one
    sample to the next; lines would draw a starburst, so only dots are drawn then. Returns
    the spread of the states (for the length of direction segments).
    """
    x, y = _plane(ds.trajectory_pc.values[:_MAX_TRAJECTORIES], n_pc)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return 1.0
    spread = float(max(np.ptp(x[ok]), np.ptp(y[ok]), 1e-12))
    t = ds.time.values if "time" in ds.coords else np.arange(x.shape[1])
    jumps = np.hypot(np.diff(x, axis=1), np.diff(y, axis=1))
    consecutive = t.size > 1 and np.all(np.diff(t) == 1)
    if consecutive and np.nanmedian(jumps) < _LINE_JUMP * spread:
        for b in range(x.shape[0]):  # few trajectories; one line each
            ax.plot(x[b], y[b], color="0.55", lw=0.5, alpha=0.45, zorder=1)
    when = np.broadcast_to(np.asarray(t, dtype=float), x.shape)[ok]
    span = float(np.ptp(when)) or 1.0
    ax.scatter(x[ok], y[ok], s=2, c=when, cmap="Greys", vmin=when.min() - 0.4 * span, vmax=when.max(),
               alpha=min(0.6, max(0.15, 1500 / ok.sum())), lw=0, zorder=1,
               label=f"visited states ({x.shape[0]} trajectories; light → dark: early → late)")
    return spread


def _unstable_directions(ax, ds, spread: float, n_pc: int, mask: np.ndarray) -> int:
    """Short segments along each point's unstable eigenvector, projected on the PC plane.

    Reads ``unstable_direction (fixed_point, state_dim)``: a real unit vector of the leading
    unstable mode (NaN rows for points without one). A direction mostly orthogonal to the
    plane projects to a short segment. Returns the number of segments drawn.
    """
    if "unstable_direction" not in ds or n_pc < 1:
        return 0
    comps = ds.pca_components.values[:2] if n_pc > 1 else ds.pca_components.values[:1]
    d = ds.unstable_direction.values @ comps.T  # (fixed_point, ≤2)
    px, py = _plane(ds.fixed_point_pc.values, n_pc)
    dx, dy = _plane(d, n_pc)
    ok = np.isfinite(dx) & np.isfinite(dy) & np.isfinite(px) & np.isfinite(py) & mask
    half = 0.08 * spread
    for n, i in enumerate(np.flatnonzero(ok)):
        ax.plot([px[i] - half * dx[i], px[i] + half * dx[i]], [py[i] - half * dy[i], py[i] + half * dy[i]],
                color="C3", lw=1.2, zorder=2, label=None if n else "unstable direction")
    return int(ok.sum())


def _conditions(ds) -> list[tuple[str | None, np.ndarray]]:
    """``[(name, mask over fixed_point)]``: one per input condition (one unnamed without them)."""
    n = ds.sizes.get("fixed_point", 0)
    if "condition" not in ds.dims or "fixed_point_condition" not in ds:
        return [(None, np.ones(n, bool))]
    which = ds.fixed_point_condition.values
    return [(str(name), which == c) for c, name in enumerate(ds.condition.values)]


def _panel(ax, ds, n_pc: int, mask: np.ndarray, name: str | None, counts: bool) -> None:
    spread = _trajectories(ax, ds, n_pc) if "trajectory_pc" in ds and n_pc else 1.0
    pc = ds.fixed_point_pc.values
    px, py = _plane(pc, n_pc) if pc.size else (np.zeros(0), np.zeros(0))
    if mask.sum() > 1:
        spread = max(spread, float(np.ptp(px[mask])))
    kind, stab = ds.kind.values, ds.stability.values
    _unstable_directions(ax, ds, spread, n_pc, mask)
    for s, (color, word, marker, filled) in _STYLE.items():
        for k, suffix in enumerate(_kind_words(ds)):
            m = (stab == s) & (kind == k) & mask
            if m.any():
                ax.scatter(px[m], py[m], s=_FIXED_SIZE if k == 0 else _OTHER_SIZE,
                           marker=marker if k == 0 else "s", facecolor=color if filled else "white",
                           edgecolor=color, lw=1.3, zorder=3,
                           label=f"{word} {suffix} points" + (f" ({int(m.sum())})" if counts else ""))
    xlabel, ylabel = _pc_labels(ds, n_pc)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if name is None:
        ax.set_title(f"fixed points — {title_of(ds)}")
    else:
        fixed = (kind == 0) & mask
        ax.set_title(f"input {name}: {int((fixed & (stab == 0)).sum())} stable, "
                     f"{int((fixed & (stab == 2)).sum())} unstable, {int(((kind == 1) & mask).sum())} slow",
                     fontsize=9)
    ax.set_aspect("equal", adjustable="datalim")
    outside = _view(ax, ds, n_pc, px, py, mask, kind, stab)
    if not mask.any():
        note(ax, "no fixed or slow point found")
    elif outside:
        ax.set_title(ax.get_title() + f"\n({outside} far outside the visited states, not shown)", fontsize=9)


def _view(ax, ds, n_pc, px, py, mask, kind, stab) -> int:
    """Limit the view to the visited states (and the stable fixed points), padded; points
    farther out (e.g. in a saturated corner where every state is nearly fixed) would shrink
    the data to a dot. Returns how many points are left out."""
    if "trajectory_pc" not in ds or not n_pc:
        return 0
    x, y = _plane(ds.trajectory_pc.values, n_pc)
    keep = mask & (kind == 0) & (stab == 0)
    xs, ys = np.concatenate([x[np.isfinite(x)], px[keep]]), np.concatenate([y[np.isfinite(y)], py[keep]])
    if not xs.size:
        return 0
    (x0, x1), (y0, y1) = (xs.min(), xs.max()), (ys.min(), ys.max())
    pad = 0.25 * max(x1 - x0, y1 - y0, 1e-12)
    x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - pad, y1 + pad
    inside = (px >= x0) & (px <= x1) & (py >= y0) & (py <= y1)
    if (inside | ~mask).all():
        return 0
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    return int((mask & ~inside).sum())


def _pca(ds, condition: str | None = None):
    n_pc = ds.sizes.get("pc", 0)
    panels = _conditions(ds)
    if condition is not None:
        panels = [p for p in panels if p[0] == condition]
    ncols = min(len(panels), 3)
    nrows = -(-len(panels) // ncols)
    from ._common import pyplot

    fig, grid = pyplot().subplots(nrows, ncols, figsize=(4.2 * ncols + 1.0, 3.9 * nrows + 1.2), squeeze=False,
                                  layout="constrained")
    axes = list(grid.ravel())
    for ax, (name, mask) in zip(axes, panels):
        _panel(ax, ds, n_pc, mask, name, counts=len(panels) == 1)
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    title = None if panels[0][0] is None else (
        f"fixed points per input condition — {title_of(ds)}" if condition is None else
        f"fixed points at input {condition} (one of {ds.sizes['condition']} conditions) — {title_of(ds)}")
    legend_above(fig, axes[:len(panels)], ncols=3, title=title)
    extra = []
    if "missed_attractors" in ds:
        missed = ds.missed_attractors.values
        if (missed > 0).any():
            extra.append(f"forward simulation reached {int(missed[missed > 0].sum())} attractor(s) the search "
                         "did not report (missed_attractors)")
    footnote(fig, "filled: stable · open: unstable (segment: its unstable direction) · diamond: marginal · "
             "small squares: slow points (q above tol; a manifold is one entry) · equal axes",
             *extra, divergence_text(ds, "driving trajectories", var="trajectory_diverged"),
             divergence_text(ds, "starts of the search"))
    return fig


def _eigenvalues(ds):
    fig, (ax,) = figure(width=7.4, height=5.0)
    ev, stab = ds.eigenvalue.values, ds.stability.values
    for s, (color, word, _, _) in reversed(_STYLE.items()):  # stable ones on top
        m = stab == s
        if m.any():
            e = ev[m].ravel()
            ax.scatter(e.real, e.imag, s=10, color=color, alpha=0.7, lw=0,
                       label=f"{word} points ({int(m.sum())}): {e.size} eigenvalues")
    unit_circle(ax)
    ax.set_title("Jacobian eigenvalues at the fixed and slow points")
    if not ev.size:
        note(ax, "no fixed or slow point found")
    legend_above(fig, [ax], ncols=2)
    return fig


def figures(ds, condition: str | None = None) -> Figures:
    """``{file stem: draw}`` of a fixed-point result (see `plot_fixed_points`); ``condition``
    is checked here, before anything is drawn."""
    if condition is not None:
        names = [str(c) for c in ds.condition.values] if "condition" in ds.dims else []
        if condition not in names:
            from ..errors import OptionError

            raise OptionError(f"invalid condition={condition!r}; allowed values: {', '.join(names) or 'none'}")
    return {"fixed_points_pca": lambda: _pca(ds, condition), "fixed_points_eigenvalues": lambda: _eigenvalues(ds)}


def plot_fixed_points(ds, out_dir, *, overwrite: bool = False, condition: str | None = None) -> list:
    """Fixed points in the PCA plane of the trajectories, and their Jacobian eigenvalues.

    Parameters
    ----------
    ds : xarray.Dataset
        A `dynalysis.find_fixed_points` result. Drawn when present: ``trajectory_pc``
        (visited states), ``unstable_direction (fixed_point, state_dim)`` (a short segment
        along each saddle's unstable eigenvector), ``pca_total_variance`` (axis labels give
        shares of the total variance rather than of the leading components').
    out_dir : path-like
    overwrite : bool, default False
        Replace existing files; otherwise `ResultsFileError` before anything is written.
    condition : str, optional
        Draw only this input condition (a name of ``ds.condition``); default: one panel each.

    Returns
    -------
    list of pathlib.Path
        ``fixed_points_pca.png`` (one panel per input condition: up to four trajectories as
        thin light lines, or small grey dots where they jump; points by stability: stable
        filled, unstable open with a short segment along the unstable direction, marginal
        diamonds, slow points small squares; axes labelled with explained variance, equal
        scale) and ``fixed_points_eigenvalues.png`` (Jacobian
        eigenvalues at every point, coloured by the point's stability, with the unit circle).
    """
    return write_figures(figures(ds, condition), out_dir, overwrite=overwrite)
