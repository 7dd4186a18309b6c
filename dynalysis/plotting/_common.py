"""Shared figure helpers: headless matplotlib, consistent saving."""
from __future__ import annotations

from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (imported lazily: it is slow)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save(fig, out_dir, name: str) -> Path:
    """Save ``fig`` as ``out_dir/name.png`` (150 dpi) and close it."""
    out = Path(out_dir) / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=150, bbox_inches="tight")
    pyplot().close(fig)
    return out


def title_of(ds) -> str:
    """A short title naming what was analysed (the source file's name)."""
    src = str(ds.attrs.get("source", ""))
    return Path(src).name if src else ds.attrs.get("analysis", "")
