"""neurogym environments as supervised sequence tasks, with each step's trial epoch as a label.

neurogym (Molano-Mazón et al.) writes cognitive tasks — perceptual decision making, context-
dependent integration (Mante et al. 2013), delayed match-to-sample, … — as trial generators:
``env.new_trial()`` draws a trial and leaves its observations ``env.ob (L, d)``, ground truth
``env.gt (L,)`` and periods ("epochs": fixation, stimulus, delay, decision, …, as step ranges
``env.start_ind[p] .. env.end_ind[p]``) on the environment. This adapter lays trials end to
end into sequences exactly as neurogym's own ``neurogym.Dataset`` does, from a seeded
environment, and keeps what the Dataset drops: the epoch, trial and trial conditions of every
step (`NeurogymTask.labels`), so analyses can be split by epoch.

neurogym is an optional extra: ``pip install "dynalysis[neurogym]"``.
"""
from __future__ import annotations

import json
import math
import numbers
import warnings

import numpy as np
import torch
from torch import Tensor

from ..errors import DynalysisError, OptionError
from .._core.options import check_option, check_positive_int
from ._base import SPLITS, GeneratedTask, Split, register_task

__all__ = ["NeurogymTask", "import_neurogym"]

NO_EPOCH = -1  # label of a step that lies in none of the trial's periods


def import_neurogym():
    """``import neurogym``, or a one-line `DynalysisError` naming the extra to install."""
    try:
        import neurogym
    except ImportError as error:
        raise DynalysisError("task 'neurogym' needs the optional neurogym package: "
                             "pip install \"dynalysis[neurogym]\"") from error
    return neurogym


def _make_env(env_id: str, env_options: dict):
    """A fresh environment and the object whose ``new_trial`` draws a trial (the outermost
    neurogym trial wrapper, else the `TrialEnv` under gymnasium's own wrappers)."""
    ngym = import_neurogym()
    import gymnasium as gym
    from neurogym.core import TrialEnv, TrialWrapper

    if env_id not in gym.envs.registry:
        check_option("env", env_id, ngym.envs.registration.all_envs())
    with warnings.catch_warnings():  # neurogym's metadata lacks gymnasium's render_modes
        warnings.filterwarnings("ignore", message=".*render_modes.*")
        try:
            env = ngym.make(env_id, **env_options)
        except TypeError as error:
            raise OptionError(f"invalid env_options for {env_id}: {error}") from None
    source = env
    while isinstance(source, gym.Wrapper) and not isinstance(source, TrialWrapper):
        source = source.env
    if not isinstance(source, (TrialEnv, TrialWrapper)):
        raise OptionError(f"env {env_id!r} is not a neurogym trial environment")
    return source


def _draw_trial(source) -> tuple[dict, np.ndarray, np.ndarray, dict[str, tuple[int, int]]]:
    """One trial: its info dict, ``ob (L, d)``, ``gt`` and periods ``{name: (start, end)}``."""
    env = source.unwrapped
    for table in (env.start_t, env.end_t, env.start_ind, env.end_ind):
        table.clear()  # neurogym keeps the previous trial's periods; keep only this trial's
    try:
        trial = source.new_trial()
        ob, gt = env.ob, env.gt
    except AttributeError as error:
        raise OptionError(f"env {type(env).__name__} does not generate supervised trials "
                          f"(observations and ground truth): {error}") from None
    periods = {p: (env.start_ind[p], env.end_ind[p]) for p in env.start_ind}
    return dict(trial or {}), np.asarray(ob), np.asarray(gt), periods


@register_task("neurogym")
class NeurogymTask(GeneratedTask):
    """A neurogym environment's trials, end to end in sequences of ``seq_len`` steps.

    Parameters
    ----------
    env : str, default "PerceptualDecisionMaking-v0"
        A neurogym environment id (``neurogym.all_envs()``), e.g.
        ``"ContextDecisionMaking-v0"``, ``"DelayMatchSample-v0"``.
    env_options : dict, optional
        Keyword options of the environment (primitives only, so the task can be rebuilt from
        a checkpoint), e.g. ``{"dt": 100, "timing": {"stimulus": 1000}}``.
    seq_len : int, default 100
        ``T``. Each sequence starts at a trial's first step; trials follow one another and
        the last one is cut at ``T`` (as in ``neurogym.Dataset``).
    epochs : list of str, optional
        Names of the epochs, in label order. Default: the periods of the environment's
        ``timing``, then any other period of a first probe trial. A trial with a period not
        in the list raises `OptionError`.
    n_train, n_val, n_test : int
        Number of sequences per split.
    seed : int, default 0
        Split ``s`` is drawn from an environment seeded (``env.seed``) from
        ``split_generator(seed, s)``, so splits are independent and reproducible.

    Notes
    -----
    ``inputs (n, T, d)`` float32 are the observations ``env.ob``. With a discrete action
    space of ``K`` actions, ``targets (n, T)`` int64 are ``env.gt`` (``loss =
    "cross_entropy"``, ``output_size = K``; accuracy leaves out neurogym's fixation action 0
    where the space names it); with a box action space of shape ``(k,)``, ``targets (n, T,
    k)`` float32 (``loss = "mse"``). ``target_mode = "sequence"``.

    Labels (`labels`), each ``(n, T)``: ``epoch`` int64, the index in `epoch_names` of the
    period a step lies in (a step in several periods gets the shortest of them, e.g.
    ReadySetGo's ``ready`` pulse inside ``measure``; -1 in none); ``trial`` int64, the trial's
    number within its sequence; ``trial_step`` int64, the steps since the trial began; and
    float64 per-step copies of every numeric field of neurogym's trial dict (e.g.
    ``ground_truth``, ``coh``; NaN where a trial lacks it).

    Chance baseline, on the training split: the loss of the best input-independent predictor
    that knows the step, i.e. the per-step class frequencies ``p_t`` (loss ``−mean_t Σ_c p_t(c)
    ln p_t(c)``) or the per-step target mean (loss ``mean_{t,k} Var(y_{t,k})``).

    Input conditions: ``zero`` and, per epoch, the mean input over the training steps in
    that epoch (e.g. fixation cue on, stimulus at its mean).

    References
    ----------
    M. Molano-Mazón et al., "NeuroGym: An open resource for developing and sharing
    neuroscience tasks", PsyArXiv 2022.
    V. Mante, D. Sussillo, K. V. Shenoy and W. T. Newsome, "Context-dependent computation
    by recurrent dynamics in prefrontal cortex", Nature 503 (2013) 78–84.

    Examples
    --------
    >>> import pytest; _ = pytest.importorskip("neurogym")  # the optional extra
    >>> task = NeurogymTask(env="PerceptualDecisionMaking-v0", seq_len=50, n_train=4, n_val=2,
    ...                     n_test=2)
    >>> task.epoch_names, task.input_size, task.output_size, task.loss
    (('fixation', 'stimulus', 'delay', 'decision'), 3, 3, 'cross_entropy')
    >>> labels = task.labels("train")
    >>> [task.epoch_names[e] for e in labels["epoch"][0, :3].tolist()]
    ['fixation', 'stimulus', 'stimulus']
    """

    def __init__(self, *, env: str = "PerceptualDecisionMaking-v0",
                 env_options: dict | None = None, seq_len: int = 100,
                 epochs: list[str] | None = None, n_train: int = 1000, n_val: int = 200,
                 n_test: int = 200, seed: int = 0):
        if not isinstance(env, str):
            raise OptionError(f"env must be a neurogym environment id (str), got {env!r}")
        if env_options is not None and not _is_primitive_dict(env_options):
            raise OptionError(f"env_options must be a dict of the environment's keyword options "
                              f"(numbers, strings, lists, dicts), got {env_options!r}")
        if epochs is not None and (not isinstance(epochs, (list, tuple)) or not epochs
                                   or not all(isinstance(e, str) for e in epochs)
                                   or len(set(epochs)) != len(epochs)):
            raise OptionError(f"epochs must be a list of distinct period names, got {epochs!r}")
        self.options = dict(env=env, env_options=dict(env_options or {}),
                            seq_len=check_positive_int("seq_len", seq_len),
                            epochs=None if epochs is None else list(epochs),
                            **self._size_options(n_train, n_val, n_test, seed))
        self.seq_len = self.options["seq_len"]
        source = _make_env(env, self.options["env_options"])
        source.unwrapped.seed(self.options["seed"])
        trial, ob, gt, periods = _draw_trial(source)  # probe: shapes, epoch names, fields
        import gymnasium as gym  # importable: _make_env imported neurogym

        act_space = source.action_space
        if ob.ndim != 2 or len(ob) == 0:
            raise OptionError(f"env {env!r}: observations must be (steps, features), got "
                              f"shape {ob.shape}")
        self.input_size = int(ob.shape[1])
        if isinstance(act_space, gym.spaces.Discrete):
            self.output_size, self.loss = int(act_space.n), "cross_entropy"
            names = getattr(act_space, "name", None) or {}
            self.metric_ignore_index = 0 if names.get("fixation") == 0 else None
        elif isinstance(act_space, gym.spaces.Box) and len(act_space.shape) == 1:
            self.output_size, self.loss = int(act_space.shape[0]), "mse"
        else:
            raise OptionError(f"env {env!r}: action space {act_space} is neither discrete nor "
                              f"a box of shape (k,)")
        self.target_mode = "sequence"
        declared = list(source.unwrapped.timing)
        self.epoch_names: tuple[str, ...] = tuple(
            self.options["epochs"] or declared + [p for p in periods if p not in declared])
        self.trial_fields: tuple[str, ...] = tuple(k for k, v in trial.items() if _is_number(v))
        self._labels: dict[str, dict[str, Tensor]] = {}

    # --- generation ---------------------------------------------------------------------------
    def _sample(self, n: int, generator: torch.Generator, split: str) -> Split:
        o, T = self.options, self.seq_len
        source = _make_env(o["env"], o["env_options"])
        source.unwrapped.seed(int(torch.randint(2 ** 31 - 1, (1,), generator=generator)))
        index = {name: k for k, name in enumerate(self.epoch_names)}
        inputs = np.zeros((n, T, self.input_size), dtype=np.float32)
        targets = np.zeros((n, T) if self.loss == "cross_entropy" else (n, T, self.output_size),
                           dtype=np.int64 if self.loss == "cross_entropy" else np.float32)
        epoch = np.full((n, T), NO_EPOCH, dtype=np.int64)
        trial_no = np.zeros((n, T), dtype=np.int64)
        trial_step = np.zeros((n, T), dtype=np.int64)
        fields = {k: np.full((n, T), np.nan) for k in self.trial_fields}
        for i in range(n):  # loop over sequences and trials, as neurogym's own Dataset
            t, k = 0, 0
            while t < T:
                trial, ob, gt, periods = _draw_trial(source)
                if len(ob) == 0:
                    raise OptionError(f"env {o['env']!r} drew a trial of 0 steps; check its "
                                      f"timing in env_options")
                take = min(len(ob), T - t)
                span = slice(t, t + take)
                inputs[i, span] = ob[:take]
                targets[i, span] = gt[:take]
                trial_no[i, span] = k
                trial_step[i, span] = np.arange(take)
                for name in sorted(periods, key=lambda p: periods[p][0] - periods[p][1]):
                    if name not in index:  # painted longest first, so the shortest wins
                        raise OptionError(f"env {o['env']!r} has a period {name!r} outside "
                                          f"epochs={list(self.epoch_names)}; list it in epochs")
                    a, b = (min(max(s, 0), take) for s in periods[name])
                    epoch[i, t + a:t + b] = index[name]
                for key in self.trial_fields:
                    if _is_number(trial.get(key)):
                        fields[key][i, span] = float(trial[key])
                t, k = t + take, k + 1
        self._labels[split] = {"epoch": torch.from_numpy(epoch),
                               "trial": torch.from_numpy(trial_no),
                               "trial_step": torch.from_numpy(trial_step),
                               **{key: torch.from_numpy(v) for key, v in fields.items()}}
        return Split(torch.from_numpy(inputs), torch.from_numpy(targets))

    def labels(self, split: str = "train") -> dict[str, Tensor]:
        """Per-step labels of ``split``: ``epoch``, ``trial``, ``trial_step`` and the trials'
        numeric fields, each ``(n, T)`` (see the class Notes)."""
        check_option("split", split, SPLITS)
        self.split(split)
        return dict(self._labels[split])

    # --- baselines and conditions ---------------------------------------------------------------
    @property
    def chance_loss(self) -> float:
        y = self.split("train").targets
        if self.loss == "mse":
            return float(y.double().var(0, unbiased=False).mean())
        counts = torch.nn.functional.one_hot(y, self.output_size).double().mean(0)  # (T, K)
        plogp = torch.where(counts > 0, counts * counts.clamp(min=1e-300).log(),
                            torch.zeros_like(counts))
        return float(-plogp.sum(1).mean())

    def input_conditions(self) -> dict[str, Tensor]:
        """``zero`` and the mean training input of each epoch that has steps."""
        x = self.split("train").inputs.reshape(-1, self.input_size)
        epoch = self.labels("train")["epoch"].reshape(-1)
        conditions = {"zero": torch.zeros(self.input_size)}
        for k, name in enumerate(self.epoch_names):
            rows = epoch == k
            if rows.any() and name != "zero":
                conditions[name] = x[rows].mean(0)
        return conditions


def _is_primitive_dict(value) -> bool:
    """A dict that survives a checkpoint's primitive-only task record (JSON types only)."""
    try:
        return isinstance(value, dict) and json.loads(json.dumps(value)) == value
    except (TypeError, ValueError):
        return False


def _is_number(value) -> bool:
    return (isinstance(value, (numbers.Real, np.bool_)) and not isinstance(value, str)
            and math.isfinite(float(value)))
