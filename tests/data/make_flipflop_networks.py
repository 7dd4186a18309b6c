"""Train the two flip-flop networks that tests/test_fixed_points_old_defaults.py loads.

Run from the repository root (about half a minute of training per network on two CPU cores,
and a minute of forward simulation for the GRU's attractors)::

    python tests/data/make_flipflop_networks.py                   # train both, then the GRU's attractors
    python tests/data/make_flipflop_networks.py --attractors-only  # only the attractors, from the shipped GRU

It writes ``flipflop_gru_3bit.ckpt`` and ``flipflop_lstm_4bit.ckpt`` next to itself: the
checkpoints that the project's own training (`lightning_modules.train_run`, the settings of
the slow end-to-end tests in tests/test_fixed_points_trained.py) wrote, with only the
optimizer's moments and the Lightning loop state removed, so each file is small. What is
kept (``state_dict``, the ``dynalysis`` record of model and task, ``epoch``,
``global_step``, ``hyper_parameters``) is what `dynalysis.load_checkpoint` reads; the tests
load the files through it, the user's path.

For the GRU it also writes ``flipflop_gru_3bit_attractors.json``: the attractors of its
zero-input map that `tests/test_flipflop.py::brute_force_attractors` finds by forward
simulation from 256 states visited on the first 32 test sequences (then Newton-polished), with
their spectral radii and the checkpoint's SHA-256. The GRU's memories contract by only ~1e-4 a
step, so that simulation takes about a minute, too long for the default test suite; the test
checks each stored point against the loaded map instead (residual, stability, one per memory).
The LSTM's brute force takes seconds, so its test runs it itself.

Seeds are fixed (weights ``cell_options["seed"] = 0``, batch order ``seed = 0``, task data
the task's default seed 0): a second run on the machine that made the shipped files (CPU,
``OMP_NUM_THREADS=1``) wrote byte-identical checkpoints. Another torch or BLAS may round
differently and train a slightly different network; the tests assert only what they check
(every brute-force attractor found by the defaults, one missed by the old ones), and the
counts quoted in their docstrings are those of the shipped files.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent

#: file name -> (cell, bits): a 3-bit GRU and a 4-bit LSTM, 64 units, 40 epochs
NETWORKS = {"flipflop_gru_3bit.ckpt": ("gru", 3), "flipflop_lstm_4bit.ckpt": ("lstm", 4)}
ATTRACTORS = {"flipflop_gru_3bit.ckpt": "flipflop_gru_3bit_attractors.json"}
KEEP = ("state_dict", "dynalysis", "epoch", "global_step", "hyper_parameters", "pytorch-lightning_version")


def train(cell: str, n_bits: int, root: Path) -> Path:
    """Train one network as the slow tests do and return its ``last.ckpt``."""
    from lightning_modules import train_run

    run = train_run(cell=cell, task="flipflop", root_dir=root, hidden_size=64, cell_options={"seed": 0},
                    max_epochs=40, batch_size=32, lr=0.01, gradient_clip_val=1.0,
                    task_options=dict(n_bits=n_bits, pulse_probability=0.05, seq_len=100, n_train=512,
                                      n_val=100, n_test=100))
    print(f"{cell} {n_bits} bits: val_loss {run.metrics['val_loss']:.2e} (chance {run.chance_loss:.3f})")
    return run.checkpoint


def strip(source: Path, target: Path) -> None:
    """Save the entries of ``source`` that `dynalysis.load_checkpoint` reads into ``target``."""
    ckpt = torch.load(source, map_location="cpu", weights_only=True)
    torch.save({k: ckpt[k] for k in KEEP if k in ckpt}, target)


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_attractors(ckpt: Path, target: Path) -> None:
    """Brute-force attractors of the checkpoint's zero-input map (the test inputs' visited states)."""
    from test_flipflop import _system_and_inputs, brute_force_attractors

    system, inputs, n_bits = _system_and_inputs(ckpt)
    points, rho = brute_force_attractors(system, inputs)
    record = {"checkpoint": ckpt.name, "sha256": sha256(ckpt), "n_bits": n_bits,
              "method": "tests/test_flipflop.py::brute_force_attractors(system, inputs): 256 starts "
                        "drawn from the states visited on the first 32 test sequences, forward "
                        "simulation at zero input until every start moves < 1e-9 a step, 8 Newton "
                        "steps, end points within 1e-6 merged",
              "spectral_radius": rho.tolist(), "attractors": points.tolist()}
    target.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {target}: {len(points)} attractors, spectral radii {rho.min():.6f}..{rho.max():.6f}")


def main() -> None:
    """Train every network of `NETWORKS` and write its checkpoint next to this script, then the
    brute-force attractors of those in `ATTRACTORS`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attractors-only", action="store_true",
                        help="keep the shipped checkpoints, recompute only the attractor files")
    if not parser.parse_args().attractors_only:
        for name, (cell, n_bits) in NETWORKS.items():
            with tempfile.TemporaryDirectory() as tmp:
                strip(train(cell, n_bits, Path(tmp)), HERE / name)
            print(f"wrote {HERE / name} ({(HERE / name).stat().st_size / 1024:.0f} KiB)")
    for name, target in ATTRACTORS.items():
        write_attractors(HERE / name, HERE / target)


if __name__ == "__main__":
    sys.path[:0] = [str(HERE.parents[1]), str(HERE.parent)]  # this checkout's packages, and tests/
    main()
