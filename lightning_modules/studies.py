"""The skeleton every study in ``analyses/`` stands on.

A study is a script that trains a grid of networks with `train_run`, measures each one with
dynalysis and writes ``OUT/runs/NAME.nc`` (one per run), ``OUT/<study>.nc`` (combined),
``OUT/figures/*.png`` and ``OUT/REPORT.md``. `Study` gives all of them the same command line and
the same habits:

- ``--size`` picks one entry of the study's ``SIZES`` (``tiny`` for tests, ``small`` for this
  machine, ``paper`` for the paper's budget; adding a size is one more entry), ``--out`` the
  results folder (default ``analyses/<study>/results/<size>``);
- ``--dry-run`` prints the plan of training runs and its estimated cost, and writes nothing;
- a non-empty results folder is refused (exit 2) unless ``--overwrite`` is given;
- Lightning is quiet, one progress line per run is printed, wall time is measured, and the
  report ends with the command that reproduces it;
- `save_figure` saves every figure the same way and refuses one whose axes are not labelled.

A study reads top to bottom::

    study = Study("my_study", SIZES, plan=make_plan, script=__file__, description=__doc__)
    if not study.start():            # --dry-run: plan printed, nothing written
        return
    for run in study.plan:
        ds = measure(train_run(..., root_dir=study.checkpoint_dir(run.name)))
        study.save_run(ds, run.name)
        study.log(run, f"val_loss={...:.3f}")
    study.save_results(combined)
    study.save_figure(fig, "curves.png")
    study.write_report(body)

Examples
--------
>>> runs = [PlannedRun("a", "lr=0.1", epochs=2, n_train=100, seq_len=10, batch_size=32, hidden_size=8)]
>>> runs[0].optimizer_steps, runs[0].sequence_steps
(8, 2000)
"""
from __future__ import annotations

import argparse
import copy
import logging
import math
import shlex
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

__all__ = ["FIGURE_DPI", "PlannedRun", "Study", "quiet_lightning", "save_figure", "task_shape",
           "unlabelled_axes"]

#: resolution of every study figure
FIGURE_DPI = 120
#: the repository root (studies print commands relative to it)
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class PlannedRun:
    """One training run of a study's plan: what ``--dry-run`` prints and the cost estimate counts.

    Parameters
    ----------
    name : str
        File stem of ``runs/NAME.nc`` and of the checkpoint folder; unique within a plan.
    label : str
        What the plan and the progress lines print, e.g. ``"task=copy init=chain lr=1e-03"``.
    epochs, n_train, seq_len, batch_size, hidden_size : int
        The training budget (``epochs`` is the maximum where a run may stop early).
    spec : dict
        Whatever the study needs to do the run (cell, task and options, seeds ...).
    """

    name: str
    label: str
    epochs: int
    n_train: int
    seq_len: int
    batch_size: int
    hidden_size: int
    spec: Mapping = field(default_factory=dict, compare=False)

    @property
    def optimizer_steps(self) -> int:
        """Optimiser steps, ``epochs × ⌈n_train / batch_size⌉``."""
        return self.epochs * math.ceil(self.n_train / self.batch_size)

    @property
    def sequence_steps(self) -> int:
        """Time steps of training sequences processed, ``epochs × n_train × seq_len``."""
        return self.epochs * self.n_train * self.seq_len


def task_shape(task: str, options: Mapping) -> tuple[int, int]:
    """``(n_train, seq_len)`` of a registered task, without reading data files.

    Generated tasks state ``n_train``; the digits set is split from scikit-learn's bundled 8×8
    images; MNIST's training file holds 60 000 images, of which ``val_fraction`` is held out
    (its ``root`` may be left out or not exist: nothing is read).

    >>> task_shape("adding", dict(seq_len=30, n_train=512))
    (512, 30)
    >>> task_shape("digits", dict(order="row"))
    (1257, 8)
    """
    from dynalysis.tasks import build_task

    t = build_task(task, **({"root": ".", **options} if task == "mnist" else options))
    if "n_train" in t.options:
        n_train = int(t.options["n_train"])
    elif task == "mnist":
        n_train = 60000 - round(t.options["val_fraction"] * 60000)
    else:
        n_train = len(t.split("train").targets)
    return n_train, int(t.seq_len)


def quiet_lightning() -> None:
    """Silence Lightning's info logs and warnings (a study prints one line per run instead)."""
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="pytorch_lightning")
    warnings.filterwarnings("ignore", module="lightning_fabric")


def unlabelled_axes(fig) -> list[str]:
    """Axes of ``fig`` that show data without an x or a y label (a colorbar: without its label).

    An axis counts as labelled when it, or an axes sharing it, carries the label, so a grid
    with shared axes may label only its outer row and column.
    """
    missing = []
    for k, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison:
            continue
        title = ax.get_title() or ax.get_title(loc="left") or f"axes {k}"
        if ax.get_label() == "<colorbar>":
            if not (ax.get_xlabel() or ax.get_ylabel()):
                missing.append(f"label of the colorbar (axes {k})")
            continue
        if not (ax.lines or ax.collections or ax.images or ax.patches):
            continue
        for axis, shared in (("x", ax.get_shared_x_axes()), ("y", ax.get_shared_y_axes())):
            if not any(getattr(a, f"get_{axis}label")() for a in shared.get_siblings(ax)):
                missing.append(f"{axis} label of '{title}'")
    return missing


def save_figure(fig, path: str | Path, *, dpi: int = FIGURE_DPI) -> Path:
    """Lay out, save and close ``fig``; refuse it (closed, nothing written) if an axis is unlabelled.

    Raises
    ------
    ValueError
        Naming the axes that show data without a label.
    """
    import matplotlib.pyplot as plt

    path = Path(path)
    missing = unlabelled_axes(fig)
    if missing:
        plt.close(fig)
        raise ValueError(f"figure {path.name}: label every axis before saving; missing "
                         + ", ".join(missing))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")  # nothing clipped at the edges
    plt.close(fig)
    return path


class Study:
    """One invocation of a study: its command line, results folder, clock and report footer.

    Parameters
    ----------
    name : str
        The study's folder under ``analyses/`` and the stem of the combined results file.
    sizes : mapping
        ``{size: config}``; ``--size`` chooses one (default ``"small"``), `config` is a copy.
        Adding a size is adding an entry.
    plan : callable
        ``plan(config) -> list[PlannedRun]``: the training runs of one size, in order.
    script : path-like
        The study's script (``__file__``), for the reproducing command.
    description : str
        ``--help`` text (the script's docstring).
    argv : sequence of str, optional
        Command-line arguments (default ``sys.argv[1:]``).
    add_arguments : callable, optional
        ``add_arguments(parser)`` adds the study's own options (they land in `args`).
    measured_wall_s : mapping, optional
        ``{size: seconds}`` measured for whole runs of this study; ``--dry-run`` scales them by
        the plan's training sequence-steps to estimate the wall time of the chosen size.

    Attributes
    ----------
    args : argparse.Namespace
    size : str
    config : dict
    out : pathlib.Path
    command : str
        The command line that reproduces this run, from the repository root.
    figures : list of str
        File names saved by `save_figure`, in order.
    """

    def __init__(self, name: str, sizes: Mapping[str, Mapping], *,
                 plan: Callable[[dict], Sequence[PlannedRun]], script: str | Path,
                 description: str, argv: Sequence[str] | None = None,
                 add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
                 measured_wall_s: Mapping[str, float] | None = None):
        self._t0 = time.time()
        self.name, self._sizes, self._plan_of = name, sizes, plan
        self._measured = dict(measured_wall_s or {})
        script = Path(script).resolve()
        self._parser = p = argparse.ArgumentParser(
            prog=str(_relative(script)), description=description,
            formatter_class=argparse.RawDescriptionHelpFormatter)
        default = "small" if "small" in sizes else next(iter(sizes))
        p.add_argument("--size", choices=tuple(sizes), default=default,
                       help=f"budget of the runs (default: {default})")
        p.add_argument("--out", type=Path, default=None,
                       help=f"results folder (default: analyses/{name}/results/SIZE)")
        p.add_argument("--overwrite", action="store_true",
                       help="replace the results in a non-empty --out")
        p.add_argument("--dry-run", action="store_true",
                       help="print the plan of runs and its estimated cost; train and write nothing")
        if add_arguments is not None:
            add_arguments(p)
        argv = list(sys.argv[1:] if argv is None else argv)
        self.args = p.parse_args(argv)
        self.size = self.args.size
        self.config = copy.deepcopy(dict(sizes[self.size]))
        self.out = Path(self.args.out or script.parent / "results" / self.size)
        self.command = " ".join(shlex.quote(a) for a in [".venv/bin/python", str(_relative(script)), *argv])
        self.plan = list(plan(self.config))
        names = [r.name for r in self.plan]
        if len(set(names)) != len(names):
            raise ValueError(f"{name}: run names repeat in the plan of size {self.size}")
        self.figures: list[str] = []
        self._t_run = self._t0

    # --- before the first run -----------------------------------------------------------
    def error(self, message: str) -> NoReturn:
        """Exit with status 2 and a one-line message (a bad option), before anything is written."""
        self._parser.error(message)

    def start(self) -> bool:
        """Print the plan and return False for ``--dry-run``; otherwise prepare ``out`` and return True.

        A non-empty ``out`` is refused (exit 2) without ``--overwrite``; with it, the study's
        earlier outputs (runs, checkpoints, figures, combined file, report) are removed first.
        """
        if self.args.dry_run:
            print(self.describe_plan())
            return False
        if self.out.exists() and not self.out.is_dir():
            self.error(f"--out {self.out} is a file; pass a folder")
        if self.out.exists() and any(self.out.iterdir()):
            if not self.args.overwrite:
                self.error(f"{self.out} is not empty; pass --overwrite to replace its results "
                           "or --out to choose another folder")
            for sub in ("runs", "checkpoints", "figures"):
                shutil.rmtree(self.out / sub, ignore_errors=True)
            for f in (self.results_path, self.out / "REPORT.md"):
                f.unlink(missing_ok=True)
        (self.out / "runs").mkdir(parents=True, exist_ok=True)
        (self.out / "figures").mkdir(parents=True, exist_ok=True)
        quiet_lightning()
        return True

    def describe_plan(self) -> str:
        """The plan as text: one line per run, then the totals and the estimated wall time."""
        runs = self.plan
        width = max((len(r.name) for r in runs), default=0)
        lines = [f"{self.name}, size {self.size}: {len(runs)} training runs"]
        lines += [f"  {i:>4d}  {r.name:<{width}s}  {r.label}  N={r.hidden_size} {r.epochs} epochs × "
                  f"{r.n_train} sequences × T={r.seq_len} (batch {r.batch_size}): "
                  f"{r.optimizer_steps} optimiser steps" for i, r in enumerate(runs, 1)]
        steps = sum(r.optimizer_steps for r in runs)
        seq = sum(r.sequence_steps for r in runs)
        lines += [f"total: {steps} optimiser steps, {seq:.3g} training sequence-steps",
                  f"estimated wall time: {self._estimate(seq)}"]
        state = ("not a folder" if self.out.exists() and not self.out.is_dir() else
                 "not empty: a real run needs --overwrite" if self.out.exists() and any(self.out.iterdir())
                 else "empty or absent: a real run writes there")
        lines += [f"results folder: {self.out} ({state})", "dry run: nothing was trained or written"]
        return "\n".join(lines)

    def _estimate(self, sequence_steps: int) -> str:
        if not self._measured:
            return "unknown (no size of this study has a measured wall time)"
        wall = sum(self._measured.values())
        work = sum(r.sequence_steps for s in self._measured
                   for r in self._plan_of(copy.deepcopy(dict(self._sizes[s]))))
        seconds = wall * sequence_steps / work
        basis = ", ".join(f"{s} {w / 60:.1f} min" for s, w in self._measured.items())
        return (f"{_duration(seconds)} on one 2-core CPU (measured: {basis}; scaled by training "
                "sequence-steps, so wider networks and a GPU change it)")

    # --- during the runs ----------------------------------------------------------------
    def checkpoint_dir(self, name: str) -> Path:
        """``out/checkpoints/NAME``, emptied, so a run never resumes from a stale checkpoint."""
        d = self.out / "checkpoints" / name
        shutil.rmtree(d, ignore_errors=True)
        return d

    def save_run(self, ds, name: str) -> Path:
        """Write one run's results to ``out/runs/NAME.nc``."""
        import dynalysis

        return dynalysis.save_results(ds, self.out / "runs" / f"{name}.nc")

    def log(self, run: PlannedRun, message: str) -> None:
        """Print ``run i/n LABEL MESSAGE SECONDSs`` (seconds since the previous run ended)."""
        now = time.time()
        print(f"run {self.plan.index(run) + 1}/{len(self.plan)} {run.label} {message} "
              f"{now - self._t_run:.1f}s", flush=True)
        self._t_run = now

    # --- after the runs -----------------------------------------------------------------
    @property
    def results_path(self) -> Path:
        return self.out / f"{self.name}.nc"

    @property
    def wall_s(self) -> float:
        """Seconds since the study started."""
        return time.time() - self._t0

    def save_results(self, ds) -> Path:
        """Write the combined results to ``out/<study>.nc`` with the study, size and command."""
        import dynalysis

        ds = ds.assign_attrs(study=self.name, size=self.size, command=self.command,
                             wall_time_s=round(self.wall_s, 1))
        return dynalysis.save_results(ds, self.results_path)

    def save_figure(self, fig, name: str) -> str:
        """`save_figure` into ``out/figures/NAME``; returns ``name`` and records it in `figures`."""
        save_figure(fig, self.out / "figures" / name)
        self.figures.append(name)
        return name

    def footer(self) -> str:
        """The report's closing sections: the figures, then the command, size and wall time."""
        figures = ["## Figures", ""] + [f"![{f}](figures/{f})" for f in self.figures] + [""]
        return "\n".join((figures if self.figures else []) + [
                          "## How this was made", "", f"Command: `{self.command}`  ",
                          f"Size: `{self.size}`  ",
                          f"Wall time: {self.wall_s / 60:.1f} min ({len(self.plan)} training runs) "
                          "on the machine that ran it.", ""])

    def write_report(self, body: str) -> Path:
        """Write ``out/REPORT.md``: ``body`` and the `footer`; print where everything went."""
        path = self.out / "REPORT.md"
        path.write_text(body.rstrip("\n") + "\n\n" + self.footer())
        print(f"wrote {self.results_path}, {len(self.figures)} figures and {path} "
              f"in {self.wall_s / 60:.1f} min")
        return path


def _relative(path: Path) -> Path:
    try:
        return path.relative_to(ROOT)
    except ValueError:
        return path


def _duration(seconds: float) -> str:
    """``~45 s``, ``~12 min``, ``~5.5 h`` or ``~38 days``."""
    if seconds < 120:
        return f"~{seconds:.0f} s"
    if seconds < 7200:
        return f"~{seconds / 60:.0f} min"
    if seconds < 72 * 3600:
        return f"~{seconds / 3600:.1f} h"
    return f"~{seconds / 86400:.0f} days"
