"""Nothing is lost: every case of issue 14's data-loss list, through the real CLI in a subprocess.

B1 a complete results file with other analyses is extended, never replaced; B2 a file this tool
did not write is never replaced without --overwrite; B3 a config.yaml that is not UTF-8 cannot
lose computed results; B4 distinct checkpoints never share a results file; a symbolic link
inside --out-dir cannot put results outside it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import dynalysis
from dynalysis.pipeline import AnalyzeOptions

from _hardening_helpers import FAST, FAST_ARGS, _scale_residual, edited_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def _groups_contents(path: Path) -> dict:
    """Each group's variables and attributes as stored (the root's provenance left out)."""
    import netCDF4

    out = {}
    with netCDF4.Dataset(path) as nc:
        for name, grp in nc.groups.items():
            out[name] = {k: str(grp.getncattr(k)) for k in grp.ncattrs() if k != "history"}
            for var_name, var in grp.variables.items():
                var.set_auto_maskandscale(False)
                out[f"{name}/{var_name}"] = np.asarray(var[...]).tobytes()
    return out


@pytest.fixture
def run_dir(tmp_path, tiny_checkpoint) -> Path:
    """``runs/a/m.ckpt``: a copy of the tiny checkpoint in its own folder."""
    (tmp_path / "runs" / "a").mkdir(parents=True)
    shutil.copy(tiny_checkpoint, tmp_path / "runs" / "a" / "m.ckpt")
    return tmp_path


def test_b1_a_complete_file_with_other_analyses_is_extended_not_replaced(run_dir):
    ck = run_dir / "runs" / "a" / "m.ckpt"
    res = cli("analyze", ck, "--out-dir", "R", "--workers", "0", *FAST_ARGS, cwd=run_dir)
    assert res.returncode == 0, res.stderr
    out = run_dir / "R" / "m.nc"
    before = _groups_contents(out)
    res = cli("analyze", ck, "--out-dir", "R", "--workers", "0", *FAST_ARGS[2:], "--analyses", "jacobian", cwd=run_dir)
    assert res.returncode == 0, res.stderr
    assert "extended with jacobian (kept lyapunov)" in res.stdout
    assert dynalysis.result_groups(out) == ["lyapunov", "jacobian"]
    after = _groups_contents(out)
    assert {k: v for k, v in after.items() if k.startswith("lyapunov")} == before  # kept, byte for byte
    assert '"analyses": ["lyapunov", "jacobian"]' in dynalysis.verify_results(out)["request"]
    res = cli("analyze", ck, "--out-dir", "R", "--workers", "0", *FAST_ARGS[2:], "--analyses", "jacobian,lyapunov", cwd=run_dir)
    assert res.returncode == 0 and "0 done, 1 skipped" in res.stdout
    # other options: refused, the file untouched
    res = cli("analyze", ck, "--out-dir", "R", "--workers", "0", *FAST_ARGS[2:], "--analyses", "memory", "--seed", "5", cwd=run_dir)
    assert res.returncode == 1 and "other options (--seed=0 there, 5 now)" in res.stderr
    assert "--overwrite" in res.stderr and "overwrite=True" not in res.stderr
    assert _groups_contents(out) == after


def test_b1_an_extended_file_holds_what_one_run_of_every_analysis_holds(tiny_checkpoint, tmp_path):
    """Extending computes each analysis on the same inputs as one run of them all would."""
    opts = dict(steps=120, transient=10, n_trajectories=2, max_lag=5)
    dynalysis.analyze_checkpoints(tiny_checkpoint, tmp_path / "step", workers=0, analyses="lyapunov,memory", **opts)
    (outcome,) = dynalysis.analyze_checkpoints(tiny_checkpoint, tmp_path / "step", workers=0,
                                               analyses="jacobian,fixed_points", **opts)
    assert outcome.status == "done" and "extended" in outcome.message
    once = dynalysis.analyze_checkpoint(tiny_checkpoint, tmp_path / "once.nc",
                                        analyses="lyapunov,jacobian,fixed_points,memory", **opts)
    stepwise = tmp_path / "step" / f"{tiny_checkpoint.stem}.nc"
    assert _groups_contents(stepwise) == _groups_contents(once)
    a, b = dynalysis.verify_results(stepwise), dynalysis.verify_results(once)
    assert a["request"] == b["request"] and a["groups"] == b["groups"]


def test_b2_a_file_this_tool_did_not_write_is_never_replaced(run_dir):
    (run_dir / "runs" / "b").mkdir()
    shutil.copy(run_dir / "runs" / "a" / "m.ckpt", run_dir / "runs" / "b" / "m.ckpt")
    theirs = {"a": run_dir / "R" / "a" / "m.nc", "b": run_dir / "R" / "b" / "m.nc"}
    for path in theirs.values():
        path.parent.mkdir(parents=True)
    xr.Dataset({"mine": ("x", np.arange(3.0))}).to_netcdf(theirs["a"])  # the user's own NetCDF file
    theirs["b"].write_text("my notes\n")
    before = {k: p.read_bytes() for k, p in theirs.items()}
    res = cli("analyze", run_dir / "runs", "--out-dir", "R", "--workers", "0", *FAST_ARGS, cwd=run_dir)
    assert res.returncode == 1 and "0 done, 0 skipped (already complete), 2 failed" in res.stdout
    assert res.stderr.count("left untouched") == 2 and "--overwrite" in res.stderr
    assert "was not written by `analyze`" in res.stderr and "not a readable NetCDF file" in res.stderr
    assert {k: p.read_bytes() for k, p in theirs.items()} == before
    res = cli("analyze", run_dir / "runs", "--out-dir", "R", "--workers", "0", *FAST_ARGS, "--overwrite", cwd=run_dir)
    assert res.returncode == 0 and all(dynalysis.result_groups(p) == ["lyapunov"] for p in theirs.values())


def test_b3_a_config_that_is_not_utf8_cannot_lose_the_results(run_dir):
    (run_dir / "runs" / "a" / "checkpoints").mkdir()
    ck = run_dir / "runs" / "a" / "checkpoints" / "m.ckpt"
    shutil.move(run_dir / "runs" / "a" / "m.ckpt", ck)
    (run_dir / "runs" / "a" / "config.yaml").write_bytes(b"model:\n  cell: wcrnn  # \xe9t\xe9 \xff\n")
    res = cli("analyze", ck, "--out", "r.nc", *FAST_ARGS, cwd=run_dir)
    assert res.returncode == 0, res.stderr
    attrs = dynalysis.verify_results(run_dir / "r.nc")
    assert attrs["training_config"].startswith("model:\n  cell: wcrnn  # \ufffdt\ufffd \ufffd")
    assert "not valid UTF-8" in attrs["training_config_note"]
    assert dynalysis.open_results(run_dir / "r.nc", group="lyapunov").sizes["exponent_index"] == 8


def test_b4_distinct_checkpoints_never_share_a_results_file(run_dir, tiny_checkpoint):
    folder = run_dir / "runs" / "a"
    edited_checkpoint(tiny_checkpoint, folder / "m.pt", _scale_residual(0.9))
    res = cli("analyze", str(folder / "*"), "--out-dir", "R", "--workers", "0", *FAST_ARGS, "--overwrite", cwd=run_dir)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "m.ckpt and " in res.stderr and "m.pt would both write" in res.stderr and "R/m.nc" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert not (run_dir / "R").exists()  # refused before any work


def test_a_symlink_inside_out_dir_cannot_put_results_outside_it(run_dir):
    outside = run_dir / "elsewhere"
    outside.mkdir()
    (run_dir / "R").mkdir()
    (run_dir / "R" / "a").symlink_to(outside, target_is_directory=True)
    res = cli("analyze", str(run_dir / "runs" / "**" / "*.ckpt"), "--out-dir", "R", "--workers", "0", *FAST_ARGS, cwd=run_dir)
    assert res.returncode == 2 and "outside --out-dir R (through a symbolic link)" in res.stderr, res.stderr
    assert list(outside.iterdir()) == []


def test_analyze_options_round_trip_through_the_request(tmp_path, tiny_checkpoint):
    opts = AnalyzeOptions(analyses="memory,lyapunov", steps=90, transient=10, n_trajectories=2, max_lag=5,
                          jacobian_every=7, fixed_point_starts=9, fixed_point_conditions="mean")
    out = dynalysis.analyze_checkpoint(tiny_checkpoint, tmp_path / "r.nc", options=opts)
    stored = AnalyzeOptions.from_request(dynalysis.verify_results(out)["request"])
    assert stored == opts and stored.analyses == ("lyapunov", "memory")
    # a request of an earlier version names fewer options: they take the defaults it used
    old = {k: v for k, v in opts.to_request().items()
           if k not in ("jacobian_every", "fixed_point_starts", "fixed_point_conditions")}
    assert AnalyzeOptions.from_request(old) == opts.replace(jacobian_every=None, fixed_point_starts=64,
                                                            fixed_point_conditions="zero")
    renamed = {**old, "fixed_point_input": "mean"}  # the option's earlier name
    assert AnalyzeOptions.from_request(renamed).fixed_point_conditions == "mean"
