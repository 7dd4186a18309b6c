"""The options of `analyze_checkpoint` and ``cli.py analyze``: one typed, validated object.

Each field of `AnalyzeOptions` declares, in its metadata, its help text and command-line flag;
the CLI's arguments are generated from these declarations (`AnalyzeOptions.add_arguments`),
every value is checked when the object is made (before any work), and `to_request` is what a
results file records as its ``request`` attribute (what a resumed sweep compares).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any, Mapping

from ..errors import OptionError
from .._core.options import check_option, check_positive_int, check_reortho_every
from .own_model import check_option_fields

__all__ = ["AnalyzeOptions", "FIXED_POINT_CONDITIONS", "SPLITS", "DTYPES"]

SPLITS = ("train", "val", "test")
DTYPES = ("float64", "float32")
FIXED_POINT_CONDITIONS = ("task", "zero", "mean", "symbols")
#: what a request of an earlier version, which does not name these options, ran with
_LEGACY_DEFAULTS = {"fixed_point_starts": 64, "fixed_point_conditions": "zero"}
JACOBIAN_SAMPLES = 100  # default sampling: about this many Jacobians per trajectory


def _option(default, help: str, *, type=int, metavar: str | None = None, choices=None,
            flag: str | None = None, recorded: bool = True):
    """A field with its CLI declaration: ``type`` (int, str or bool for a switch)."""
    meta = {"help": help, "type": type, "metavar": metavar, "choices": choices, "flag": flag,
            "recorded": recorded}
    return dataclasses.field(default=default, compare=recorded, metadata=meta)


def _analysis_names() -> tuple[str, ...]:
    from .registry import ANALYSES

    return tuple(ANALYSES)


def parse_analyses(analyses) -> tuple[str, ...]:
    """``None``/``"all"`` → every analysis; a comma-separated string or a list → the checked
    names, in registry order.

    >>> parse_analyses("memory, lyapunov")
    ('lyapunov', 'memory')
    """
    known = _analysis_names()
    allowed = f"allowed values: {', '.join(known)} (comma-separated) or 'all'"
    if analyses is None or analyses == "all":
        return known
    if not isinstance(analyses, (str, list, tuple)):
        raise OptionError(f"invalid analyses={analyses!r}; {allowed}")
    names = [str(a).strip() for a in (analyses.split(",") if isinstance(analyses, str) else analyses)]
    names = [a for a in names if a]
    bad = [a for a in dict.fromkeys(names) if a not in known]
    if bad or not names:
        raise OptionError(f"invalid analyses={','.join(bad) or analyses!r}; {allowed}")
    return tuple(a for a in known if a in names)


def _check_conditions(value) -> str:
    """``"zero, mean"`` → ``"zero,mean"``: each name checked against `FIXED_POINT_CONDITIONS`.

    >>> _check_conditions(" symbols, zero")
    'symbols,zero'
    """
    allowed = f"allowed: a comma-separated list of {', '.join(FIXED_POINT_CONDITIONS)}"
    if not isinstance(value, str):
        raise OptionError(f"invalid fixed_point_conditions={value!r}; {allowed}")
    names = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in names if v not in FIXED_POINT_CONDITIONS]
    if bad or not names:
        raise OptionError(f"invalid fixed_point_conditions={','.join(bad) or value!r}; {allowed}")
    if "task" in names and len(names) > 1:
        raise OptionError(f"invalid fixed_point_conditions={value!r}: 'task' stands alone; {allowed}")
    return ",".join(dict.fromkeys(names))


@dataclasses.dataclass(frozen=True, kw_only=True)
class AnalyzeOptions:
    """What `analyze_checkpoint` computes and on which inputs; checked on construction.

    Every field is keyword-only and checked before any work: a bad value raises
    `dynalysis.OptionError` naming the option and the allowed values. Options that need the
    network (``n_exponents`` against the state size, ``max_lag`` against a default trajectory
    length) are checked again by `check_run` once the checkpoint is loaded, still before the
    first analysis.

    Examples
    --------
    >>> opts = AnalyzeOptions(analyses="lyapunov,memory", steps=2000, max_lag=100)
    >>> opts.analyses, opts.jacobian_stride(2000)
    (('lyapunov', 'memory'), 19)
    >>> AnalyzeOptions(steps=50, transient=10, max_lag=50, analyses="memory")
    Traceback (most recent call last):
    ...
    dynalysis.errors.OptionError: max_lag (50) must be below the trajectory length steps=50; allowed: max_lag <= 49
    """

    analyses: tuple[str, ...] = _option(
        "all", "comma-separated subset of the analyses (default: all)", type=str, metavar="NAMES")
    split: str = _option("test", "data split driving the trajectories (default test)", type=str, choices=SPLITS)
    n_trajectories: int = _option(8, "number of driven trajectories (default 8)")
    steps: int | None = _option(
        None, "trajectory length; task sequences are concatenated in time (default: max(1000, one sequence))")
    transient: int = _option(100, "steps discarded before averaging (default 100)")
    n_exponents: int | None = _option(None, "leading Lyapunov exponents to compute (default: all)")
    reortho_every: int | str = _option(
        "auto", "re-orthonormalise the QR frame every K steps, or 'auto' (default): K from 1 to 16 chosen "
        "from the spread of the exponents so that round-off stays below sqrt(u), with a QR at every trace "
        "step and confidence block, so results equal every-step QR (K=1) to round-off", type=str,
        metavar="K|auto")
    jacobian_every: int | None = _option(
        None, f"sample the state Jacobian every K steps after the transient (default: about "
        f"{JACOBIAN_SAMPLES} samples per trajectory, K = max(1, (steps - transient) // {JACOBIAN_SAMPLES}))",
        metavar="K")
    fixed_point_starts: int = _option(128, "starts of the fixed-point search per input condition (default 128)",
                                      metavar="N")
    fixed_point_conditions: str = _option(
        "task", "constant inputs of the fixed-point search, comma-separated: task (the inputs the task holds: "
        "flip-flop zero, Tomita the pad and each symbol), zero, mean (of the driving inputs), symbols (each "
        "one-hot input of the data) (default task)", type=str, metavar="LIST")
    max_lag: int = _option(50, "largest lag of memory kernels/curves (default 50; below --steps)")
    seed: int = _option(0, "seed of random frames, starts and data choice (default 0)")
    dtype: str = _option("float64", "analysis precision (default float64)", type=str, choices=DTYPES)
    progress_bars: bool = _option(False, "show progress bars for long analyses (--out only)",
                                  type=bool, flag="--progress", recorded=False)
    # a model this project did not write, and input sequences of your own (pipeline/own_model.py)
    module: str | None = _option(
        None, "your model's class, for a checkpoint this project did not write (a Lightning .ckpt of "
        "your LightningModule, or a state_dict file of a class that needs no arguments): "
        "'package.module:Class', imported from the current folder or PYTHONPATH and rebuilt from "
        "the checkpoint's hyper_parameters; needs --inputs", type=str, metavar="PKG.MOD:CLASS")
    rnn: str | None = _option(None, "with --module: dotted name of the recurrent submodule, e.g. "
                              "encoder.rnn (default: the model's only torch RNN)", type=str, metavar="NAME")
    readout: str | None = _option(None, "with --module: dotted name of the head applied to the top "
                                  "layer's h, e.g. head (the memory analyses need one)", type=str, metavar="NAME")
    inputs: str | None = _option(
        None, "drive the network with these input sequences instead of task data: a .npy, .pt or .nc "
        "file holding (trajectory, time, input); each sequence is one whole trajectory (the file's "
        "SHA-256 is recorded)", type=str, metavar="FILE", recorded=False)
    inputs_variable: str | None = _option(None, "the variable of an --inputs .nc file (or the key of a "
                                          ".pt dict)", type=str, metavar="NAME")

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        check_option("split", self.split, SPLITS)
        check_option("dtype", self.dtype, DTYPES)
        put("fixed_point_conditions", _check_conditions(self.fixed_point_conditions))
        put("analyses", parse_analyses(self.analyses))
        put("n_trajectories", check_positive_int("n_trajectories", self.n_trajectories))
        for name in ("steps", "n_exponents", "jacobian_every"):
            if getattr(self, name) is not None:
                put(name, check_positive_int(name, getattr(self, name)))
        put("transient", check_positive_int("transient", self.transient, minimum=0))
        put("reortho_every", check_reortho_every(self.reortho_every))
        put("fixed_point_starts", check_positive_int("fixed_point_starts", self.fixed_point_starts))
        put("max_lag", check_positive_int("max_lag", self.max_lag))
        put("seed", check_positive_int("seed", self.seed, minimum=0))
        put("progress_bars", bool(self.progress_bars))
        check_option_fields(self)  # module, rnn, readout, inputs, inputs_variable
        if self.steps is not None:
            self.check_steps(self.steps)

    # ------------------------------------------------------------------ derived values
    def resolve_steps(self, sequence_length: int) -> int:
        """The trajectory length: ``steps``, else ``max(1000, sequence_length, transient + 1)``."""
        return self.steps if self.steps is not None else max(1000, int(sequence_length), self.transient + 1)

    def jacobian_stride(self, steps: int) -> int:
        """``jacobian_every``, else about `JACOBIAN_SAMPLES` samples per trajectory."""
        if self.jacobian_every is not None:
            return self.jacobian_every
        return max(1, (steps - self.transient) // JACOBIAN_SAMPLES)

    def check_steps(self, steps: int) -> None:
        """The checks that need the trajectory length (raise `OptionError`)."""
        if steps <= self.transient:
            raise OptionError(f"steps ({steps}) must exceed transient ({self.transient}); "
                              f"allowed: steps >= {self.transient + 1}")
        if "clv" in self.analyses and steps < 2 * self.transient + 1:
            raise OptionError(f"clv needs steps >= {2 * self.transient + 1} (a forward and a backward transient "
                              f"of transient={self.transient} steps), got steps={steps}; allowed: steps >= "
                              f"{2 * self.transient + 1}")
        if "memory" in self.analyses and self.max_lag >= steps:
            raise OptionError(f"max_lag ({self.max_lag}) must be below the trajectory length "
                              f"steps={steps}; allowed: max_lag <= {steps - 1}")
        if "jacobian" in self.analyses and self.transient + self.jacobian_stride(steps) > steps:
            raise OptionError(f"jacobian_every ({self.jacobian_every}) leaves no Jacobian sample in "
                              f"steps={steps} after transient={self.transient}; allowed: "
                              f"jacobian_every <= {steps - self.transient}")

    def check_run(self, system, steps: int) -> None:
        """Checks against the loaded network and the resolved trajectory length."""
        if self.n_exponents is not None:
            check_positive_int("n_exponents", self.n_exponents, maximum=system.state_size)
        self.check_steps(steps)

    def check_inputs(self, system, inputs) -> None:
        """Checks against the driving inputs: the fixed-point conditions must exist in them
        (``symbols`` needs one-hot inputs). Raises `OptionError` before any analysis runs."""
        if "fixed_points" in self.analyses and self.fixed_point_conditions != "task":
            import torch

            from ..fixed_points.conditions import resolve_conditions

            resolve_conditions(system, self.fixed_point_conditions.split(","), torch.as_tensor(inputs),
                               dtype=torch.float64, device=None)

    # ------------------------------------------------------------------ the request record
    def to_request(self) -> dict:
        """The recorded options as JSON-able primitives (``analyses`` as a list)."""
        return {f.name: (list(v) if isinstance(v, tuple) else v)
                for f in dataclasses.fields(self) if f.metadata["recorded"]
                for v in [getattr(self, f.name)]}

    @classmethod
    def from_request(cls, request: str | Mapping) -> "AnalyzeOptions":
        """The options a results file records (JSON text or dict); options it does not name
        (files of earlier versions) take their defaults, which reproduce what those versions did."""
        values = json.loads(request) if isinstance(request, str) else dict(request)
        if "fixed_point_input" in values:  # renamed: one constant input became a list of conditions
            values.setdefault("fixed_point_conditions", values.pop("fixed_point_input"))
        values = {**_LEGACY_DEFAULTS, **values}
        known = {f.name for f in dataclasses.fields(cls) if f.metadata["recorded"]}
        return cls(**{k: v for k, v in values.items() if k in known})

    def differences(self, other: "AnalyzeOptions", *, ignore=("analyses",)) -> list[str]:
        """``["steps=60 there, 70 now", ...]`` for the recorded options that differ."""
        mine, theirs = self.to_request(), other.to_request()
        return [f"{k}={theirs[k]!r} there, {v!r} now" for k, v in mine.items()
                if k not in ignore and theirs[k] != v]

    def replace(self, **changes) -> "AnalyzeOptions":
        """A copy with ``changes`` (checked again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def make(cls, options: "AnalyzeOptions | None" = None, values: Mapping | None = None) -> "AnalyzeOptions":
        """``options``, or the options given as keywords (``values``); both is an error."""
        values = dict(values or {})
        if options is not None:
            if values:
                raise OptionError(f"give options=AnalyzeOptions(...) or keyword options, not both "
                                  f"(got {', '.join(sorted(values))} too)")
            if not isinstance(options, cls):
                raise OptionError(f"options must be a dynalysis.pipeline.AnalyzeOptions, got {type(options).__name__}")
            return options
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise OptionError(f"unknown option(s) {', '.join(unknown)}; allowed: {', '.join(sorted(names))}")
        return cls(**values)

    # ------------------------------------------------------------------ the command line
    @classmethod
    def flags(cls) -> dict[str, str]:
        """``{option name: command-line flag}``, e.g. ``{"n_exponents": "--n-exponents", ...}``."""
        return {f.name: f.metadata["flag"] or "--" + f.name.replace("_", "-") for f in dataclasses.fields(cls)}

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add one argument per option to ``parser`` (what ``cli.py analyze --help`` lists)."""
        flags = cls.flags()
        for f in dataclasses.fields(cls):
            meta: dict[str, Any] = dict(f.metadata)
            help_text = meta["help"]
            if f.name == "analyses":
                help_text = f"comma-separated subset of: {', '.join(_analysis_names())} (default: all)"
            if meta["type"] is bool:
                parser.add_argument(flags[f.name], dest=f.name, action="store_true", help=help_text)
                continue
            parser.add_argument(flags[f.name], dest=f.name, type=meta["type"], default=f.default,
                                choices=meta["choices"], metavar=meta["metavar"], help=help_text)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "AnalyzeOptions":
        """The options parsed by a parser that `add_arguments` set up."""
        return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})
