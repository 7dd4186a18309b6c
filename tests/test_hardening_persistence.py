"""Hardening, part 2: diverging dynamics, nothing lost or clobbered, determinism, training
resumes (part 1, bad files and options: test_hardening.py)."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

import dynalysis
from dynalysis import OptionError, ResultsFileError
from dynalysis.pipeline.analyze import ANALYSES
from dynalysis.cli import main

from _hardening_helpers import FAST, FAST_ARGS, _scale_residual, edited_checkpoint


# ---------------------------------------------------------------- diverging dynamics


def test_diverging_trajectories_are_flagged_not_averaged():
    """Logistic map x -> 4x(1-x): λ = ln 2 on [0, 1]; a start at 1.5 escapes to -inf."""
    logistic = dynalysis.MapSystem(lambda h, x: 4 * h * (1 - h), 1)
    starts = torch.tensor([[0.2], [0.3], [1.5]], dtype=torch.float64)
    with pytest.warns(RuntimeWarning, match="1 of 3 trajectories diverged"):
        ds = dynalysis.lyapunov_spectrum(logistic, dynalysis.zero_inputs(logistic, 3, 3000),
                                         initial_state=starts, transient=50)
    assert ds.diverged.values.tolist() == [0, 0, 1]
    finite = ds.exponent_per_trajectory.values[:2, 0]
    assert np.all(np.isfinite(finite)) and not np.isfinite(ds.exponent_per_trajectory.values[2, 0])
    assert ds.exponent.values[0] == pytest.approx(finite.mean(), rel=1e-12)
    assert ds.exponent.values[0] == pytest.approx(np.log(2), abs=0.03)


def test_all_diverged_gives_nan_never_a_finite_looking_number():
    doubling = dynalysis.MapSystem(lambda h, x: 3.0 * h + 1.0, 2)
    with pytest.warns(RuntimeWarning, match="2 of 2 trajectories diverged"):
        ds = dynalysis.lyapunov_spectrum(doubling, dynalysis.zero_inputs(doubling, 2, 1000),
                                         initial_state=torch.ones(2, dtype=torch.float64))
    assert ds.diverged.values.tolist() == [1, 1]
    assert np.isnan(ds.exponent.values).all() and np.isnan(float(ds.kaplan_yorke_dimension))


def test_supercritical_network_is_flagged_and_the_file_still_written(tiny_checkpoint, tmp_path):
    """A WCRNN with residual λ = 3 overflows float64 within ~650 steps."""
    ckpt = edited_checkpoint(tiny_checkpoint, tmp_path / "super.ckpt", _scale_residual(3.0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = dynalysis.analyze_checkpoint(ckpt, tmp_path / "r.nc", analyses="lyapunov,nonnormality",
                                           steps=800, transient=10, n_trajectories=3)
    assert any("3 of 3 trajectories diverged" in str(w.message) for w in caught)
    lyap = dynalysis.open_results(out, group="lyapunov")
    assert lyap.diverged.values.tolist() == [1, 1, 1] and np.isnan(lyap.exponent.values).all()
    assert set(dynalysis.result_groups(out)) == {"lyapunov", "nonnormality"}


def test_an_analysis_failing_on_one_network_does_not_lose_the_others(tiny_checkpoint, tmp_path, monkeypatch):
    def broken_analysis(system, inputs, opts):
        raise OptionError("the kernel is not finite (the state diverged along the inputs)")

    monkeypatch.setitem(ANALYSES, "failing", (broken_analysis, "always fails"))
    with pytest.warns(RuntimeWarning, match="analysis 'failing' failed"):
        out = dynalysis.analyze_checkpoint(tiny_checkpoint, tmp_path / "r.nc", **{**FAST, "analyses": "lyapunov,failing"})
    assert dynalysis.result_groups(out) == ["lyapunov"]
    attrs = dynalysis.verify_results(out)
    assert "the kernel is not finite" in attrs["failed_analyses"]
    # resuming counts the recorded failure as done: the file is complete, not redone
    (outcome,) = dynalysis.analyze_checkpoints(tiny_checkpoint, tmp_path / "sweep", workers=0, progress=False,
                                               **{**FAST, "analyses": "lyapunov,failing"})
    assert outcome.status == "done" and outcome.warnings
    (again,) = dynalysis.analyze_checkpoints(tiny_checkpoint, tmp_path / "sweep", workers=0, progress=False,
                                             **{**FAST, "analyses": "lyapunov,failing"})
    assert again.status == "skipped"
    monkeypatch.setitem(ANALYSES, "lyapunov", (broken_analysis, "fails too"))
    with pytest.raises(dynalysis.DynalysisError, match="every analysis failed"):
        dynalysis.analyze_checkpoint(tiny_checkpoint, tmp_path / "r2.nc", **{**FAST, "analyses": "lyapunov,failing"})
    assert not (tmp_path / "r2.nc").exists()


# ---------------------------------------------------------------- nothing lost or clobbered


def _dataset(value: float) -> xr.Dataset:
    return xr.Dataset({"value": ("x", np.full(4, value))}, coords={"x": np.arange(4)})


def test_interrupted_write_leaves_no_file_and_the_old_one_intact(tmp_path, monkeypatch):
    import dynalysis.io.netcdf as io

    path = dynalysis.save_results({"a": _dataset(1.0)}, tmp_path / "r.nc")
    before = path.read_bytes()

    def interrupted(tmp):
        raise KeyboardInterrupt

    monkeypatch.setattr(io, "_write_checksums", interrupted)
    for target, overwrite in ((path, True), (tmp_path / "new.nc", False)):
        with pytest.raises(KeyboardInterrupt):
            dynalysis.save_results({"a": _dataset(2.0)}, target, overwrite=overwrite)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.nc"]  # no new.nc, no temporary


def test_a_file_created_meanwhile_is_not_clobbered(tmp_path, monkeypatch):
    import dynalysis.io.netcdf as io

    path = tmp_path / "r.nc"
    real = io._write_checksums

    def racing_writer(tmp):  # another process publishes the same result while this one writes
        real(tmp)
        path.write_bytes(b"the other process's result")

    monkeypatch.setattr(io, "_write_checksums", racing_writer)
    with pytest.raises(ResultsFileError, match="created by another process meanwhile"):
        dynalysis.save_results({"a": _dataset(1.0)}, path)
    assert path.read_bytes() == b"the other process's result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.nc"]


def test_results_files_are_readable_by_the_group(tmp_path):
    path = dynalysis.save_results(_dataset(1.0), tmp_path / "r.nc")
    assert path.stat().st_mode & 0o077 == 0o666 & ~_umask() & 0o077


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.fixture
def three_checkpoints(tmp_path, tiny_checkpoint) -> Path:
    runs = tmp_path / "runs"
    for name, scale in (("a", 0.9), ("b", 1.0), ("c", 1.1)):
        (runs / name).mkdir(parents=True)
        edited_checkpoint(tiny_checkpoint, runs / name / "model.ckpt", _scale_residual(scale))
    return runs


def _damage_data(path: Path) -> None:
    """Flip one bit of a stored exponent (small, so stored uncompressed): still a NetCDF file of
    ours, no longer matching its checksum."""
    value = dynalysis.open_results(path, group="lyapunov").exponent.values[0]
    raw = bytearray(path.read_bytes())
    at = bytes(raw).find(np.float64(value).tobytes())
    assert at > 0
    raw[at] ^= 0x01
    path.write_bytes(bytes(raw))


def test_interrupted_sweep_resumes_where_it_stopped(three_checkpoints, tmp_path, monkeypatch):
    from dynalysis.pipeline import analyze as _analyze

    original, calls = _analyze.analyze_checkpoint, []

    def interrupted_after_one(checkpoint, out, **kw):
        if calls:
            raise KeyboardInterrupt
        calls.append(checkpoint)
        return original(checkpoint, out, **kw)

    out_dir = tmp_path / "results"
    pattern = str(three_checkpoints / "**" / "*.ckpt")
    monkeypatch.setattr(_analyze, "analyze_checkpoint", interrupted_after_one)
    with pytest.raises(KeyboardInterrupt):
        dynalysis.analyze_checkpoints(pattern, out_dir, workers=0, progress=False, **FAST)
    monkeypatch.undo()
    assert [p.relative_to(out_dir).as_posix() for p in sorted(out_dir.rglob("*"))] == ["a", "a/model.nc"]
    first = (out_dir / "a" / "model.nc").stat().st_mtime_ns

    outcomes = dynalysis.analyze_checkpoints(pattern, out_dir, workers=0, progress=False, **FAST)
    assert [o.status for o in outcomes] == ["skipped", "done", "done"]
    assert (out_dir / "a" / "model.nc").stat().st_mtime_ns == first  # untouched

    # a damaged file of ours is redone; a missing one is made; complete ones are skipped
    _damage_data(out_dir / "b" / "model.nc")
    (out_dir / "c" / "model.nc").unlink()
    outcomes = dynalysis.analyze_checkpoints(pattern, out_dir, workers=0, progress=False, **FAST)
    assert [o.status for o in outcomes] == ["skipped", "done", "done"]
    assert "replaced a damaged file" in outcomes[1].message and "does not match its checksum" in outcomes[1].message
    for name in "abc":
        dynalysis.verify_results(out_dir / name / "model.nc", groups=["lyapunov"])


def test_existing_results_are_never_replaced_by_other_options_or_a_changed_checkpoint(
        three_checkpoints, tmp_path):
    out_dir = tmp_path / "results"
    ckpt = three_checkpoints / "a" / "model.ckpt"
    dynalysis.analyze_checkpoints(ckpt, out_dir, workers=0, progress=False, **FAST)
    before = (out_dir / "model.nc").read_bytes()
    (outcome,) = dynalysis.analyze_checkpoints(ckpt, out_dir, workers=0, progress=False, **{**FAST, "steps": 70})
    assert outcome.status == "failed" and "other options (steps=60 there, 70 now)" in outcome.message
    ckpt.write_bytes((three_checkpoints / "b" / "model.ckpt").read_bytes())  # retrained in place
    (outcome,) = dynalysis.analyze_checkpoints(ckpt, out_dir, workers=0, progress=False, **FAST)
    assert outcome.status == "failed" and "another version of the checkpoint" in outcome.message
    assert (out_dir / "model.nc").read_bytes() == before
    (outcome,) = dynalysis.analyze_checkpoints(ckpt, out_dir, workers=0, progress=False, overwrite=True, **FAST)
    assert outcome.status == "done" and (out_dir / "model.nc").read_bytes() != before


def test_cli_sweep_summary_and_exit_status(three_checkpoints, tmp_path, capsys):
    (three_checkpoints / "b" / "model.ckpt").write_bytes(b"garbage")
    argv = ["analyze", str(three_checkpoints), "--out-dir", str(tmp_path / "res"), "--workers", "0", *FAST_ARGS]
    assert main(argv) == 1  # one bad checkpoint fails alone; the others are written
    out, err = capsys.readouterr()
    assert "analyze: 2 done, 0 skipped (already complete), 1 failed" in out
    assert "failed  " in out and "b/model.ckpt is corrupt" in err and "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "res").rglob("*.nc")) == ["model.nc", "model.nc"]
    assert main(argv) == 1
    assert "0 done, 2 skipped (already complete), 1 failed" in capsys.readouterr().out


# ---------------------------------------------------------------- determinism


def _contents(path: Path) -> dict:
    """Every variable's bytes and every attribute of every group, but ``history``."""
    import netCDF4

    out = {}
    with netCDF4.Dataset(path) as nc:
        for grp in [nc, *nc.groups.values()]:
            out[grp.path] = {k: str(grp.getncattr(k)) for k in grp.ncattrs() if k != "history"}
            for name, var in grp.variables.items():
                var.set_auto_maskandscale(False)
                values = np.asarray(var[...])
                out[f"{grp.path}/{name}"] = (values.dtype.str, values.shape,
                                             values.tobytes() if values.dtype != object else values.tolist(),
                                             {k: str(var.getncattr(k)) for k in var.ncattrs()})
    return out


def test_same_checkpoint_options_and_seed_give_identical_files(tiny_checkpoint, tmp_path):
    opts = dict(steps=120, transient=10, n_trajectories=2, max_lag=5, seed=3)
    a = dynalysis.analyze_checkpoint(tiny_checkpoint, tmp_path / "a.nc", **opts)
    b = dynalysis.analyze_checkpoint(tiny_checkpoint, tmp_path / "b.nc", **opts)
    ca, cb = _contents(a), _contents(b)
    assert set(ca) == set(cb) and len(ca) > 20
    for key in ca:
        assert ca[key] == cb[key], key
    assert set(dynalysis.result_groups(a)) == set(ANALYSES)
    c = dynalysis.analyze_checkpoint(tiny_checkpoint, tmp_path / "c.nc", **{**opts, "seed": 4})
    assert _contents(c)["/lyapunov/exponent"] != ca["/lyapunov/exponent"]  # the seed matters


# ---------------------------------------------------------------- training resumes


def test_training_resumes_from_its_last_checkpoint(tmp_path, capsys):
    from lightning_modules.cli import cli_main

    root = tmp_path / "run"
    args = ["fit", "--config", str(Path(__file__).resolve().parents[1] / "configs" / "wcrnn_digits.yaml"),
            "--trainer.default_root_dir", str(root), "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false", "--trainer.limit_train_batches", "3",
            "--trainer.limit_val_batches", "1", "--model.init_args.hidden_size", "4",
            "--data.init_args.order", "row"]
    cli_main([*args, "--trainer.max_epochs", "1", "--ckpt_path", "last"])  # nothing to resume: fresh
    (first,) = root.rglob("*.ckpt")
    # mark the weights, so that continuing from them is told apart from starting afresh
    edited_checkpoint(first, first, lambda c: c["state_dict"]["net.out.bias"].fill_(42.0))
    assert torch.load(first, weights_only=True)["global_step"] == 3
    cli_main([*args, "--trainer.max_epochs", "2", "--ckpt_path", "last"])
    newest = dynalysis.find_last_checkpoint(root)
    ckpt = torch.load(newest, weights_only=True)
    assert newest != first and ckpt["global_step"] == 6 and ckpt["epoch"] == 1
    assert torch.allclose(ckpt["state_dict"]["net.out.bias"], torch.tensor(42.0), atol=0.1)  # 3 Adam steps on
    assert dynalysis.load_checkpoint(newest).metadata["global_step"] == 6
