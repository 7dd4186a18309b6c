"""The pipeline on a model this project did not write, or on input sequences of your own.

``cli.py analyze CKPT --module pkg.mod:Class --rnn encoder.rnn --readout head --inputs FILE``:
the checkpoint is loaded with `dynalysis.load_checkpoint` (``module=``), and the trajectories
are the sequences of ``FILE`` (``(trajectory, time, input)``, every sequence whole) instead
of the task data a checkpoint of ours records. ``--inputs`` alone drives one of our
checkpoints with your sequences. The inputs' SHA-256 goes into the results file
(``inputs_sha256``), so a resumed run with other inputs refuses the file instead of
skipping it.
"""
from __future__ import annotations

import dataclasses
import os

from ..errors import OptionError

__all__ = ["check_option_fields", "check_own_model", "load_system", "given_inputs", "inputs_sha256"]

_TASK_OPTIONS = ("split", "n_trajectories", "steps")


def check_option_fields(options) -> None:
    """`AnalyzeOptions.__post_init__`: the checks of each field alone (they hold for a stored
    request too, which does not record the inputs' path)."""
    from ..io.foreign import check_class_spec
    from ..io.sequences import check_inputs_path

    if options.module is not None:
        check_class_spec(options.module)
    for name in ("rnn", "readout", "inputs_variable"):
        value = getattr(options, name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise OptionError(f"invalid {name}={value!r}; allowed values: a name such as "
                              f"{'encoder.rnn' if name == 'rnn' else 'head'}")
    if options.inputs is not None:
        path = check_inputs_path(options.inputs, options.inputs_variable)
        object.__setattr__(options, "inputs", os.path.abspath(path))  # the same file in every worker


def check_own_model(options) -> None:
    """The checks across fields, made where a run starts (before any work)."""
    if options.module is None:
        given = [f"{n}={getattr(options, n)!r}" for n in ("rnn", "readout") if getattr(options, n) is not None]
        if given:
            raise OptionError(f"{' and '.join(given)} name{'s' if len(given) == 1 else ''} a submodule of "
                              "your own model; give module=pkg.mod:Class too")
    elif options.inputs is None:
        raise OptionError("a checkpoint of your own model records no task data to drive it; give "
                          "inputs=FILE, input sequences (trajectory, time, input) in a .npy, .pt or .nc file")
    if options.inputs is None:
        if options.inputs_variable is not None:
            raise OptionError("inputs_variable names a variable of the inputs= file; give inputs= too")
        return
    defaults = {f.name: f.default for f in dataclasses.fields(options)}
    changed = [n for n in _TASK_OPTIONS if getattr(options, n) != defaults[n]]
    if changed:
        raise OptionError(f"{', '.join(changed)} choose task data; with inputs= every sequence of the "
                          "file is one whole trajectory (cut the file to change them)")


def load_system(checkpoint, options):
    """The step map: a checkpoint of ours, or with ``module`` the user's model."""
    from ..io.checkpoint import load_checkpoint

    if options.module is None:
        return load_checkpoint(checkpoint)
    return load_checkpoint(checkpoint, module=options.module, rnn=options.rnn, readout=options.readout)


def inputs_sha256(options) -> str | None:
    """SHA-256 of the ``inputs`` file (None without one)."""
    from .analyze import file_sha256

    return None if options.inputs is None else file_sha256(options.inputs)


def given_inputs(options, system) -> tuple:
    """``(inputs, root attributes)`` from the ``inputs`` file, checked against the network and
    the options that need the trajectory length."""
    from ..io.sequences import load_inputs

    x = load_inputs(options.inputs, variable=options.inputs_variable, input_size=system.input_size)
    steps = int(x.shape[1])
    if steps <= options.transient:
        raise OptionError(f"inputs={options.inputs!r} has {steps} time steps, not more than "
                          f"transient={options.transient}; lower transient or give longer sequences")
    attrs = {"inputs_file": options.inputs, "inputs_sha256": inputs_sha256(options),
             "inputs_shape": list(x.shape)}
    if options.inputs_variable is not None:
        attrs["inputs_variable"] = options.inputs_variable
    return x, attrs
