"""Dynamics during training: gradient flossing and a per-epoch spectrum monitor.

Both are Lightning callbacks, so a config adds them under ``trainer.callbacks`` (see
``configs/flossing_delayed_recall.yaml``):

* `GradientFlossing` (Engelken, NeurIPS 2023) keeps the leading finite-time Lyapunov
  exponents of the network near a target (0: the product of Jacobians neither shrinks nor
  grows, so gradients neither vanish nor explode) by adding ``weight · Σ_i (λ_i − target)²`` to
  the training loss, computed by `dynalysis.lyapunov_exponents` on a short window of the
  batch's own inputs; plus flossing-only optimiser steps before training (pre-flossing) and
  every few steps during it (inter-flossing).
* `SpectrumMonitor` runs registered analyses (`dynalysis.pipeline.registry.ANALYSES`) on the
  validation inputs every few epochs and appends them, along an ``epoch`` dimension, to one
  NetCDF file; at the end of fit it draws λ₁…λ_k, the Henrici index and the memory time
  against epoch (`lightning_modules.monitor_figure`).
"""
from __future__ import annotations

import abc

from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_only

import dynalysis
from dynalysis.errors import OptionError
from dynalysis.models import RecurrentNet
from dynalysis.pipeline.options import AnalyzeOptions, parse_analyses
from dynalysis.pipeline.registry import ANALYSES

__all__ = ["TrainingLossTerm", "GradientFlossing", "SpectrumMonitor"]


def _int(name: str, value, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise OptionError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _number(name: str, value, *, positive: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and value == value \
        and abs(value) != float("inf") and (value > 0 if positive else True)
    if not ok:
        raise OptionError(f"{name} must be a finite number{' > 0' if positive else ''}, got {value!r}")
    return float(value)


class TrainingLossTerm(pl.Callback, abc.ABC):
    """A callback that adds a term to the training loss: `lightning_modules.SequenceModel`'s
    ``training_step`` adds ``loss_term(trainer, pl_module, batch, batch_idx)`` of every such
    callback (None: nothing this step) before the backward pass, inside the same forward (so
    DDP synchronises its gradients with the task loss')."""

    @abc.abstractmethod
    def loss_term(self, trainer, pl_module, batch, batch_idx) -> torch.Tensor | None:
        """The term to add to this step's training loss, or None."""


class GradientFlossing(TrainingLossTerm):
    """Regularise the leading Lyapunov exponents toward a target during training.

    Parameters
    ----------
    n_exponents : int, default 1
        Number ``k`` of leading exponents regularised (``k <= state_size``).
    target : float, default 0.0
        ``λ*`` in nats per step.
    weight : float, default 1.0
        ``w`` of the term ``w · Σ_{i≤k} (λ_i − λ*)²``.
    window : int, default 50
        Steps of the batch's inputs (its first ``window``) over which the finite-time
        exponents are computed, from the network's initial state.
    transient : int, default 0
        Steps of the window run before the average starts (``< window``).
    trajectories : int, default 16
        Rows of the batch used (the first ones).
    every_n_steps : int, default 1
        Add the term to the training loss on every n-th training step (0: never).
    pre_epochs : int, default 0
        Pre-flossing: passes over the training data with flossing-only optimiser steps before
        the first training step (not repeated when a run resumes).
    inter_every : int, default 0
        Inter-flossing: after every ``inter_every``-th optimiser step, ``inter_steps``
        flossing-only steps on the same batch (0: never).
    inter_steps : int, default 1

    Notes
    -----
    Flossing-only steps use the trainer's first optimiser (its learning rate and moments) and
    Lightning's ``gradient_clip_val`` when set; under DDP their gradients are averaged over
    processes (`Strategy.reduce`), so the replicas stay identical. The exponents come from
    `dynalysis.lyapunov_exponents` on ``dynalysis.ModuleSystem(net, live=True)``: the QR
    method, differentiated through the trajectory, the Jacobians and the QR. Logged:
    ``floss_lambda_<i>`` (i = 1..k) and ``floss_loss`` on the steps where the term is added;
    ``prefloss_lambda_<i>`` per pre-flossing step and ``interfloss_lambda_<i>`` through the
    loggers. ``history`` keeps ``(phase, step, [λ_1..λ_k])`` of every flossing evaluation.

    References
    ----------
    R. Engelken, "Gradient flossing: improving gradient descent through dynamic control of
    Jacobians", NeurIPS 2023 (arXiv 2312.17306).
    """

    def __init__(self, n_exponents: int = 1, target: float = 0.0, weight: float = 1.0, window: int = 50,
                 transient: int = 0, trajectories: int = 16, every_n_steps: int = 1, pre_epochs: int = 0,
                 inter_every: int = 0, inter_steps: int = 1):
        self.n_exponents = _int("n_exponents", n_exponents, 1)
        self.target = _number("target", target)
        self.weight = _number("weight", weight, positive=True)
        self.window = _int("window", window, 1)
        self.transient = _int("transient", transient)
        if self.transient >= self.window:
            raise OptionError(f"transient ({transient}) must be below window ({window})")
        self.trajectories = _int("trajectories", trajectories, 1)
        self.every_n_steps = _int("every_n_steps", every_n_steps)
        self.pre_epochs = _int("pre_epochs", pre_epochs)
        self.inter_every = _int("inter_every", inter_every)
        self.inter_steps = _int("inter_steps", inter_steps, 1)
        self.history: list[tuple[str, int, list[float]]] = []

    # --- the flossing loss ----------------------------------------------------------------
    def setup(self, trainer, pl_module, stage: str) -> None:
        net = getattr(pl_module, "net", None)
        if not isinstance(net, RecurrentNet):
            raise OptionError("GradientFlossing needs a LightningModule whose .net is a dynalysis.models "
                              "network (lightning_modules.SequenceModel)")
        if self.n_exponents > net.state_size:
            raise OptionError(f"GradientFlossing: n_exponents={self.n_exponents} exceeds the state size "
                              f"{net.state_size} of the network; ask for at most {net.state_size}")

    def flossing_loss(self, net: RecurrentNet, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(w · Σ (λ_i − λ*)², λ)`` on the first ``window`` steps of ``trajectories`` rows of ``x``."""
        x = x[: self.trajectories, : self.window]
        lam = dynalysis.lyapunov_exponents(dynalysis.ModuleSystem(net, live=True), x,
                                           n_exponents=self.n_exponents, transient=self.transient)
        return self.weight * ((lam - self.target) ** 2).sum(), lam

    def loss_term(self, trainer, pl_module, batch, batch_idx):
        if not self.every_n_steps or trainer.global_step % self.every_n_steps:
            return None
        loss, lam = self.flossing_loss(pl_module.net, batch[0])
        for i, value in enumerate(lam.detach(), 1):
            pl_module.log(f"floss_lambda_{i}", value, on_step=True, on_epoch=True)
        pl_module.log("floss_loss", loss.detach(), on_step=True, on_epoch=True)
        self.history.append(("train", trainer.global_step, lam.detach().tolist()))
        return loss

    # --- flossing-only steps ----------------------------------------------------------------
    def _floss_step(self, trainer, pl_module, x: torch.Tensor, phase: str, step: int) -> None:
        net = pl_module.net
        opt = trainer.optimizers[0]
        opt.zero_grad()
        with torch.enable_grad():
            loss, lam = self.flossing_loss(net, x.to(pl_module.device))
            loss.backward()
        params = [p for p in net.parameters() if p.grad is not None]
        for p in params:  # DDP: every replica takes the same step
            p.grad = trainer.strategy.reduce(p.grad, reduce_op="mean")
        if trainer.gradient_clip_val:
            torch.nn.utils.clip_grad_norm_(params, float(trainer.gradient_clip_val))
        opt.step()
        opt.zero_grad()
        lam = lam.detach()
        self.history.append((phase, step, lam.tolist()))
        for logger in trainer.loggers:
            logger.log_metrics({f"{phase}_lambda_{i}": float(v) for i, v in enumerate(lam, 1)}, step=step)

    def on_train_start(self, trainer, pl_module) -> None:
        if not self.pre_epochs or trainer.global_step > 0:  # a resumed run was pre-flossed already
            return
        n = 0
        for _ in range(self.pre_epochs):
            for batch in trainer.train_dataloader:
                self._floss_step(trainer, pl_module, batch[0], "prefloss", n)
                n += 1

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.inter_every and trainer.global_step % self.inter_every == 0:
            for _ in range(self.inter_steps):
                self._floss_step(trainer, pl_module, batch[0], "interfloss", trainer.global_step)


class SpectrumMonitor(pl.Callback):
    """Run analyses on the validation inputs every few epochs; one NetCDF file along ``epoch``.

    Parameters
    ----------
    every_n_epochs : int, default 1
    analyses : sequence of str, default ("lyapunov", "nonnormality", "memory")
        Names in `dynalysis.pipeline.registry.ANALYSES` (those of ``cli.py analyze --analyses``).
    path : str, optional
        The results file; default ``<trainer.default_root_dir>/spectrum.nc`` (the same file
        when a run resumes into a new ``version_*`` folder). The figure goes next to it with
        the suffix ``.png``.
    n_trajectories, steps, transient, n_exponents, max_lag, seed, dtype
        As in `dynalysis.pipeline.options.AnalyzeOptions` (inputs: `dynalysis.task_inputs` of
        the data module's task, ``val`` split, ``steps`` long: by default 500 or one sequence,
        whichever is longer). Checked when the callback is made.
    figure : bool, default True
        Draw the figure at the end of fit.

    Notes
    -----
    The file has one group per analysis, each with the analysis' own variables plus a leading
    ``epoch`` dimension (coordinate ``epoch``, the 0-based training epoch, and ``global_step
    (epoch)``). Appends are atomic: the complete new file is written to a hidden temporary name
    and renamed over the old one (`dynalysis.save_results`), so an interrupted run leaves the
    last complete file. A resumed run (``--ckpt_path last``) skips epochs the file already has.
    Only global rank 0 analyses and writes; the network is read through a frozen view
    (`dynalysis.ModuleSystem`) in eval mode, outside the training graph.
    """

    def __init__(self, every_n_epochs: int = 1, analyses=("lyapunov", "nonnormality", "memory"),
                 path: str | None = None, n_trajectories: int = 4, steps: int | None = None,
                 transient: int = 50, n_exponents: int | None = None, max_lag: int = 30, seed: int = 0,
                 dtype: str = "float64", figure: bool = True):
        self.every_n_epochs = _int("every_n_epochs", every_n_epochs, 1)
        self.analyses = parse_analyses(list(analyses) if not isinstance(analyses, str) else analyses)
        self.options = AnalyzeOptions(analyses=self.analyses, split="val", n_trajectories=n_trajectories,
                                      steps=steps, transient=transient, n_exponents=n_exponents,
                                      max_lag=max_lag, seed=seed, dtype=dtype)
        self.path = None if path is None else Path(path)
        self.figure = bool(figure)

    def _file(self, trainer) -> Path:
        if self.path is None:
            self.path = Path(trainer.default_root_dir) / "spectrum.nc"
        return self.path

    def setup(self, trainer, pl_module, stage: str) -> None:
        if not isinstance(getattr(pl_module, "net", None), RecurrentNet):
            raise OptionError("SpectrumMonitor needs a LightningModule whose .net is a dynalysis.models network")
        if getattr(getattr(trainer, "datamodule", None), "task", None) is None:
            raise OptionError("SpectrumMonitor needs a data module with a dynalysis task "
                              "(lightning_modules.TaskDataModule)")

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        self._record(trainer, pl_module)

    @rank_zero_only
    def _record(self, trainer, pl_module) -> None:
        from .monitor_figure import append_epoch, epochs_in

        path, epoch = self._file(trainer), int(trainer.current_epoch)
        if epoch in epochs_in(path):
            return  # written before an interruption: a resumed run does not duplicate it
        task = trainer.datamodule.task
        opts = self.options
        steps = opts.steps or max(500, task.split("val").inputs.shape[1], opts.transient + opts.max_lag + 1)
        inputs = dynalysis.task_inputs(task, split="val", n_trajectories=opts.n_trajectories, steps=steps,
                                       seed=opts.seed)
        system = dynalysis.ModuleSystem(pl_module.net)
        results = {name: ANALYSES[name].function(system, inputs, opts) for name in self.analyses}
        append_epoch(path, results, epoch=epoch, global_step=int(trainer.global_step))

    @rank_zero_only
    def on_fit_end(self, trainer, pl_module) -> None:
        from .monitor_figure import plot_training_dynamics

        path = self._file(trainer)
        if self.figure and path.exists():
            plot_training_dynamics(path, path.with_suffix(".png"))
