"""Hardening, part 1: bad files and bad options (part 2: test_hardening_persistence.py).

Broken files are made here from the real tiny checkpoint (``conftest.tiny_checkpoint``) and a
real results file; every entry point must answer each with a one-line error naming the file.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

import dynalysis
from dynalysis import CheckpointError, OptionError, ResultsFileError
from dynalysis.pipeline.analyze import ANALYSES
from dynalysis.cli import main

from _hardening_helpers import FAST, FAST_ARGS, _one_line_error, edited_checkpoint

def _flip_middle(data: bytes) -> bytes:
    b = bytearray(data)
    b[len(b) // 2] ^= 0xFF
    return bytes(b)


def _set_cell(ckpt):
    ckpt["dynalysis"]["model"]["cell"] = "retired_cell"


def _set_format(ckpt):
    ckpt["dynalysis"]["format_version"] = 99


@pytest.fixture(scope="module")
def broken(tmp_path_factory, tiny_checkpoint) -> Path:
    """A folder of deliberately broken checkpoints and results files."""
    d = tmp_path_factory.mktemp("broken")
    good = tiny_checkpoint.read_bytes()
    (d / "truncated.ckpt").write_bytes(good[: len(good) // 3])
    (d / "bitflip.ckpt").write_bytes(_flip_middle(good))
    (d / "empty.ckpt").write_bytes(b"")
    (d / "text.ckpt").write_text("not a checkpoint\n")
    torch.save({"epoch": 3, "global_step": 10, "state_dict": {"layer.weight": torch.ones(2, 2)}},
               d / "other_project.ckpt")
    torch.save({"weight": torch.ones(2, 2), "bias": torch.zeros(2)}, d / "state_dict.ckpt")
    torch.save(torch.zeros(3), d / "tensor.ckpt")
    edited_checkpoint(tiny_checkpoint, d / "unknown_cell.ckpt", _set_cell)
    edited_checkpoint(tiny_checkpoint, d / "future_format.ckpt", _set_format)
    (d / "folder.ckpt").mkdir()
    (d / "no_checkpoints").mkdir()
    (d / "no_checkpoints" / "notes.txt").write_text("nothing here")
    ds = xr.Dataset({"value": ("x", np.full(16, 1234.5678))}, coords={"x": np.arange(16)})
    dynalysis.save_results({"lyapunov": ds}, d / "good.nc")
    raw = (d / "good.nc").read_bytes()
    needle = np.float64(1234.5678).tobytes()
    assert needle in raw
    at = raw.index(needle)
    (d / "damaged.nc").write_bytes(raw[:at] + np.float64(1234.5679).tobytes() + raw[at + 8:])
    (d / "truncated.nc").write_bytes(raw[: len(raw) // 2])
    (d / "empty.nc").write_bytes(b"")
    (d / "text.nc").write_text("time,value\n0,1\n")
    (d / "folder.nc").mkdir()
    return d


CHECKPOINT_CASES = [
    ("truncated.ckpt", "corrupt"),
    ("bitflip.ckpt", "corrupt"),
    ("empty.ckpt", "is empty"),
    ("text.ckpt", "corrupt or not a torch checkpoint"),
    ("other_project.ckpt", "not a dynalysis checkpoint"),
    ("state_dict.ckpt", "plain state_dict"),
    ("tensor.ckpt", "holds a Tensor"),
    ("unknown_cell.ckpt", "model class 'retired_cell' does not exist"),
    ("future_format.ckpt", "unsupported dynalysis record"),
    ("missing.ckpt", "no such checkpoint"),
    ("folder.ckpt", "is a directory"),
]

RESULTS_CASES = [
    ("damaged.nc", "does not match its checksum"),
    ("truncated.nc", "not a readable NetCDF file"),
    ("empty.nc", "is empty"),
    ("text.nc", "not a readable NetCDF file"),
    ("missing.nc", "does not exist"),
    ("folder.nc", "is a directory"),
]


@pytest.mark.parametrize("name, message", CHECKPOINT_CASES)
def test_bad_checkpoint_gives_one_line_error(broken, tmp_path, capsys, name, message):
    path = broken / name
    with pytest.raises(CheckpointError, match=message) as err:
        dynalysis.load_checkpoint(path)
    assert str(path) in str(err.value) and len(str(err.value).splitlines()) == 1
    out = tmp_path / "r.nc"
    text = _one_line_error(capsys, ["analyze", str(path), "--out", str(out), *FAST_ARGS])
    assert message in text and str(path) in text
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("name, message", RESULTS_CASES)
def test_bad_results_file_gives_one_line_error(broken, tmp_path, capsys, name, message):
    path = broken / name
    calls = [lambda: dynalysis.open_results(path, group="lyapunov"), lambda: dynalysis.verify_results(path)]
    if not path.is_dir():  # open_sweep reads a folder as "every .nc below it"
        calls.append(lambda: dynalysis.open_sweep(path))
    for call in calls:
        with pytest.raises(ResultsFileError, match=message) as err:
            call()
        assert str(path) in str(err.value) and len(str(err.value).splitlines()) == 1
    text = _one_line_error(capsys, ["plot", str(path), "--out", str(tmp_path / "figs")])
    assert message in text and str(path) in text


def test_damaged_results_file_readable_on_request(broken):
    ds = dynalysis.open_results(broken / "damaged.nc", group="lyapunov", verify=False)
    assert ds.value.values[0] == 1234.5679  # the damage is there to see, but only when asked for


def test_unknown_group_and_folders_without_files(broken, tmp_path, capsys):
    with pytest.raises(ResultsFileError, match="has no group 'jacobian'; groups: lyapunov"):
        dynalysis.open_results(broken / "good.nc", group="jacobian")
    with pytest.raises(CheckpointError, match="contains no .ckpt files"):
        dynalysis.find_checkpoints(broken / "no_checkpoints")
    with pytest.raises(CheckpointError, match="matches no file"):
        dynalysis.find_checkpoints(str(broken / "no_checkpoints" / "**" / "*.ckpt"))
    with pytest.raises(ResultsFileError, match="contains no .nc files"):
        dynalysis.open_sweep(broken / "no_checkpoints")
    text = _one_line_error(capsys, ["analyze", str(broken / "no_checkpoints"), "--out-dir", str(tmp_path)])
    assert "no_checkpoints contains no .ckpt files" in text


def test_debug_flag_shows_the_traceback(broken, tmp_path, capsys):
    status = main(["--debug", "analyze", str(broken / "text.ckpt"), "--out", str(tmp_path / "r.nc")])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" in err and "CheckpointError" in err


# ---------------------------------------------------------------- options and shapes, before work


OPTION_CASES = [
    (dict(steps=0), "steps must be >= 1"),
    (dict(steps=-5), "steps must be >= 1"),
    (dict(transient=-1), "transient must be >= 0"),
    (dict(steps=50, transient=50), r"steps \(50\) must exceed transient \(50\)"),
    (dict(n_trajectories=0), "n_trajectories must be >= 1"),
    (dict(n_exponents=0), "n_exponents must be >= 1"),
    (dict(n_exponents=9), "n_exponents must be >= 1 and <= 8, got 9"),
    (dict(reortho_every=0), "reortho_every must be >= 1"),
    (dict(reortho_every="sometimes"), "reortho_every must be a positive integer or 'auto'"),
    (dict(max_lag=0), "max_lag must be >= 1"),
    (dict(seed=-1), "seed must be >= 0"),
    (dict(steps=10.5), "steps must be an integer"),
    (dict(analyses="lyapunov,chaos"), "invalid analyses='chaos'; allowed values: lyapunov"),
    (dict(analyses=""), "invalid analyses"),
    (dict(split="validation"), "invalid split='validation'; allowed values: 'train', 'val', 'test'"),
    (dict(dtype="float16"), "invalid dtype='float16'; allowed values: 'float64', 'float32'"),
    (dict(jacobian_every=0), "jacobian_every must be >= 1"),
    (dict(analyses="jacobian", jacobian_every=51), r"jacobian_every \(51\) leaves no Jacobian sample"),
    (dict(fixed_point_starts=0), "fixed_point_starts must be >= 1"),
    (dict(fixed_point_conditions="noise"), "invalid fixed_point_conditions='noise'; allowed: a comma-separated "
     "list of task, zero, mean, symbols"),
    (dict(fixed_point_conditions="task,zero"), "'task' stands alone"),
    (dict(analyses="fixed_points", fixed_point_conditions="symbols"), "conditions='symbols' needs one-hot inputs"),
    (dict(analyses="memory", max_lag=60), r"max_lag \(60\) must be below the trajectory length steps=60"),
    (dict(bogus=1), "unknown option"),
]


@pytest.mark.parametrize("options, message", OPTION_CASES)
def test_bad_option_raises_before_any_analysis(tiny_checkpoint, tmp_path, monkeypatch, options, message):
    called = []
    monkeypatch.setitem(ANALYSES, "lyapunov", (lambda *a: called.append(a), "spy"))
    with pytest.raises(OptionError, match=message) as err:
        dynalysis.analyze_checkpoint(tiny_checkpoint, tmp_path / "r.nc", **{**FAST, **options})
    assert isinstance(err.value, ValueError)
    assert not called and not list(tmp_path.iterdir())


@pytest.mark.parametrize("argv, message", [  # the library's option names, as the CLI's flags
    (["--steps", "0"], "--steps must be >= 1"),
    (["--n-exponents", "100"], "--n-exponents must be >= 1 and <= 8"),
    (["--analyses", "nonsense"], "invalid --analyses='nonsense'"),
    (["--reortho-every", "often"], "--reortho-every must be a positive integer or 'auto'"),
    (["--jacobian-every", "0"], "--jacobian-every must be >= 1"),
    (["--fixed-point-starts", "0"], "--fixed-point-starts must be >= 1"),
    (["--fixed-point-conditions", "zero,noise"], "invalid --fixed-point-conditions='noise'"),
    (["--steps", "200", "--max-lag", "200", "--analyses", "memory"],
     "--max-lag (200) must be below the trajectory length --steps=200"),
])
def test_cli_bad_option_is_one_line(tiny_checkpoint, tmp_path, capsys, argv, message):
    text = _one_line_error(capsys, ["analyze", str(tiny_checkpoint), "--out", str(tmp_path / "r.nc"), *argv])
    assert message in text


@pytest.mark.parametrize("override, message", [
    (["--model.init_args.hidden_size", "-3"], "hidden_size >= 1"),
    (["--data.init_args.order", "diagonal"], "invalid order='diagonal'; allowed values: 'pixel', 'row'"),
    (["--model.init_args.optimizer", "adamw"], "invalid optimizer='adamw'"),
])
def test_invalid_training_config_values_are_one_line_errors(tmp_path, capsys, override, message):
    config = Path(__file__).resolve().parents[1] / "configs" / "wcrnn_digits.yaml"
    status = main(["fit", "--config", str(config), "--trainer.default_root_dir", str(tmp_path), *override])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and err[-1].startswith("error: ") and message in err[-1]
    assert not any("Traceback" in line for line in err) and not list(tmp_path.rglob("*.ckpt"))


def test_sweep_options_are_checked_before_any_task(tiny_checkpoint, tmp_path):
    with pytest.raises(OptionError, match="workers must be >= 0"):
        dynalysis.analyze_checkpoints(tiny_checkpoint, tmp_path, workers=-1)
    with pytest.raises(OptionError, match="invalid analyses='bogus'"):
        dynalysis.analyze_checkpoints(tiny_checkpoint, tmp_path, workers=0, analyses="bogus")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("inputs, options, message", [
    (torch.zeros(2, 30), {}, r"must have shape \(trajectory, time, input_size=8\)"),
    (torch.zeros(2, 30, 3), {}, "input width 3 but the system takes input_size=8"),
    (torch.zeros(2, 30, 8), dict(n_exponents=9), "n_exponents must be >= 1 and <= 8"),
    (torch.zeros(2, 30, 8), dict(transient=-2), "transient must be >= 0"),
    (torch.zeros(2, 30, 8), dict(transient=30), "has 30 time steps; this analysis needs at least 31"),
    (torch.full((2, 30, 8), float("nan")), dict(transient=5), "contain NaN or inf"),
])
def test_lyapunov_spectrum_checks_shapes_and_options(tiny_checkpoint, inputs, options, message):
    system = dynalysis.load_checkpoint(tiny_checkpoint)
    with pytest.raises(OptionError, match=message):
        dynalysis.lyapunov_spectrum(system, inputs, **options)
