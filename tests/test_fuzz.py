"""Byte-level fuzzing of the two readers of user files: checkpoints and results files.

Each example flips bits, truncates, inserts or zeroes bytes of a real file. The reader must
either raise its one clean error (`CheckpointError` / `ResultsFileError`) or, when the damage
happens to miss everything that is read, return exactly the original content: never another
exception, never silently different numbers, never a hang.
"""
from __future__ import annotations

import faulthandler
import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dynalysis
from dynalysis import CheckpointError, ResultsFileError

SETTINGS = settings(max_examples=150, deadline=timedelta(seconds=10), derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def corruptions(draw, size: int):
    """A list of 1-4 edits ``(kind, position, payload)`` of a file of ``size`` bytes."""
    edits = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "zero"]))
        pos = draw(st.integers(0, size - 1))
        if kind == "flip":
            payload = draw(st.integers(0, 7))
        elif kind == "insert":
            payload = draw(st.binary(min_size=1, max_size=16))
        else:
            payload = draw(st.integers(1, 64))
        edits.append((kind, pos, payload))
    return edits


def corrupt(data: bytes, edits) -> bytes:
    b = bytearray(data)
    for kind, pos, payload in edits:
        pos = min(pos, max(len(b) - 1, 0))
        if kind == "flip" and b:
            b[pos] ^= 1 << payload
        elif kind == "truncate":
            del b[pos:]
        elif kind == "insert":
            b[pos:pos] = payload
        elif kind == "zero":
            b[pos:pos + payload] = bytes(len(b[pos:pos + payload]))
    return bytes(b)


@pytest.fixture(scope="module")
def watchdog():
    """A hang inside C code cannot be interrupted from Python: kill the run with a traceback."""
    faulthandler.dump_traceback_later(300, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def results_file(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
    lyap = xr.Dataset({"exponent": ("exponent_index", rng.standard_normal(4)),
                       "diverged": ("trajectory", np.array([0, 1, 0], dtype=np.int8))},
                      coords={"exponent_index": np.arange(4), "trajectory": np.arange(3)},
                      attrs={"analysis": "lyapunov", "seed": 3})
    jac = xr.Dataset({"eigenvalue": (("trajectory", "eigen_index"), z)}, coords={"trajectory": np.arange(3)})
    path = tmp_path_factory.mktemp("fuzz") / "results.nc"
    return dynalysis.save_results({"lyapunov": lyap, "jacobian": jac}, path, attrs={"system": '{"a": 1}'})


def _read_all(path: Path) -> dict:
    return {g: dynalysis.open_results(path, group=g) for g in ("lyapunov", "jacobian")}


def fuzz(data: bytes, suffix: str, read, error: type[Exception], check_unchanged) -> dict:
    """Run ``read`` on fuzzed copies of ``data``; count clean errors and unchanged reads."""
    seen = {"error": 0, "unchanged": 0}

    @SETTINGS
    @given(edits=corruptions(len(data)))
    def check(edits):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"fuzzed{suffix}"
            path.write_bytes(corrupt(data, edits))
            try:
                got = read(path)
            except error as e:
                assert str(path) in str(e) and len(str(e).splitlines()) == 1
                seen["error"] += 1
                return
            check_unchanged(got)
            seen["unchanged"] += 1

    check()
    return seen


def test_fuzzed_results_files_fail_cleanly_or_read_unchanged(results_file, watchdog):
    original = _read_all(results_file)

    def unchanged(got):
        for g, ds in original.items():
            assert got[g].identical(ds) and got[g].attrs == ds.attrs, g

    seen = fuzz(results_file.read_bytes(), ".nc", _read_all, ResultsFileError, unchanged)
    assert seen["error"] > 50  # the fuzzing does reach the reader's checks


def test_fuzzed_checkpoints_fail_cleanly_or_load_unchanged(tiny_checkpoint, watchdog):
    reference = dynalysis.load_checkpoint(tiny_checkpoint).net.state_dict()

    def unchanged(system):
        state = system.net.state_dict()
        assert state.keys() == reference.keys()
        for k, v in reference.items():
            assert torch.equal(state[k], v), k

    seen = fuzz(tiny_checkpoint.read_bytes(), ".ckpt", dynalysis.load_checkpoint, CheckpointError, unchanged)
    assert seen["error"] > 50
