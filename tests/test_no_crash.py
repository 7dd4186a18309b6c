"""Nothing crashes: every case of issue 14's crash list, each a one-line error (exit 2) or a
working read, through the real CLI or Python in a subprocess (a segfault fails the test rather
than killing pytest)."""
from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import xarray as xr

import dynalysis
from dynalysis import ResultsFileError
from dynalysis.cli import main

from _hardening_helpers import FAST, FAST_ARGS, _one_line_error, edited_checkpoint, error_lines

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}


def cli(*args, cwd, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def _one_line(res: subprocess.CompletedProcess, message: str) -> None:
    lines = error_lines(res.stderr)
    err = "\n".join(lines)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr and len(lines) == 1 and err.startswith("error: "), res.stderr
    assert message in err, err


# ---------------------------------------------------------------- B7/B8: reads in any order

READS = textwrap.dedent('''
    import itertools, sys
    import numpy as np, xarray as xr, dynalysis

    folder = sys.argv[1]
    rng = np.random.default_rng(0)
    files = []
    for k in range(3):
        z = rng.standard_normal((2, 3, 4)) + 1j * rng.standard_normal((2, 3, 4))
        groups = {"lyapunov": xr.Dataset({"exponent": ("exponent_index", rng.standard_normal(4))}),
                  "jacobian": xr.Dataset({"eigenvalue": (("trajectory", "time", "eigen_index"), z)}),
                  "memory": xr.Dataset({"kernel_norm": ("lag", rng.standard_normal(2000))})}
        files.append(str(dynalysis.save_results(groups, f"{folder}/r{k}.nc",
                                                attrs={"note": "λ ≈ 1, θ = 2π/8", "system": "{}"})))
    p = files[0]
    held = []  # lazy handles kept open, as a user in a notebook would
    reads = {
        "plain_tree": lambda: held.append(xr.open_datatree(p)),
        "plain_group": lambda: held.append(xr.open_dataset(p, group="jacobian")),
        "open_results": lambda: dynalysis.open_results(p, group="jacobian"),
        "open_tree_and_groups_twice": lambda: (dynalysis.open_results(p), dynalysis.result_groups(p),
                                               dynalysis.result_groups(p)),
        "sweeps": lambda: held.extend(dynalysis.open_sweep(files, group=g) for g in ("lyapunov", "jacobian", "memory")),
    }
    for order in itertools.permutations(reads):
        for name in order:
            reads[name]()
        for h in held:  # the lazy handles still read
            h.load()
        for h in held[1:]:  # the first stays open through every order
            h.close()
        del held[1:]
    tree = dynalysis.open_results(p)
    assert np.iscomplexobj(tree["jacobian"].eigenvalue.values)
    assert list(tree.children) == ["lyapunov", "jacobian", "memory"] and tree.attrs["note"] == "λ ≈ 1, θ = 2π/8"
    sweep = dynalysis.open_sweep(files, group="jacobian")
    assert sweep.sizes["checkpoint"] == 3 and np.iscomplexobj(sweep.eigenvalue.values)
    print("ok", len(held))
''')


def test_b7_b8_plain_xarray_and_dynalysis_reads_in_any_order_and_repeated_sweeps(tmp_path):
    """Every order of plain-xarray and dynalysis reads (120) with handles kept open, and sweeps
    over three groups of three files again and again: no segfault, no "NetCDF: HDF error"."""
    script = tmp_path / "reads.py"
    script.write_text(READS)
    res = subprocess.run([sys.executable, str(script), str(tmp_path)], env=ENV, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, f"exit status {res.returncode}\n{res.stdout[-2000:]}{res.stderr[-3000:]}"
    assert res.stdout.startswith("ok")


def test_results_files_hold_no_variable_length_strings(tmp_path):
    """netCDF-C crashes on variable-length strings read through two handles: text is stored
    as characters, and reads back as text."""
    import netCDF4

    ds = xr.Dataset({"e": ("i", [1 + 2j, 3 - 1j]), "label": ("i", ["one", "two"])})
    path = dynalysis.save_results({"g": ds}, tmp_path / "r.nc")
    with netCDF4.Dataset(path) as nc:
        kinds = {name: var.dtype for name, var in nc["g"].variables.items()}
    assert str not in kinds.values(), kinds
    back = dynalysis.open_results(path, group="g")
    assert back.label.values.tolist() == ["one", "two"] and back.e.values.tolist() == [1 + 2j, 3 - 1j]
    with xr.open_dataset(path, group="g") as plain:
        assert plain.complex.values.tolist() == ["real", "imag"]


def test_open_results_without_a_group_is_the_whole_tree(tmp_path):
    lya = xr.Dataset({"exponent": ("exponent_index", [0.4, -1.6])})
    jac = xr.Dataset({"eigenvalue": ("i", [0.5 + 0.1j])})
    path = dynalysis.save_results({"lyapunov": lya, "jacobian": jac}, tmp_path / "r.nc", attrs={"source": "test"})
    tree = dynalysis.open_results(path)
    assert isinstance(tree, xr.DataTree) and list(tree.children) == ["lyapunov", "jacobian"]
    assert tree.attrs["source"] == "test" and tree["jacobian"].eigenvalue.values.tolist() == [0.5 + 0.1j]
    xr.testing.assert_identical(tree["lyapunov"].to_dataset(), dynalysis.open_results(path, group="lyapunov"))
    assert dynalysis.open_results(path, group="/").attrs["groups"] == "lyapunov,jacobian"
    single = dynalysis.save_results(lya, tmp_path / "one.nc")  # one analysis: a Dataset, as saved
    assert isinstance(dynalysis.open_results(single), xr.Dataset)
    with xr.open_datatree(path) as plain:  # plain xarray reads the same tree (complex as real/imag)
        assert set(plain.children) == {"lyapunov", "jacobian"}


# ---------------------------------------------------------------- one-line errors


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    import yaml

    cfg = yaml.safe_load((ROOT / "configs" / "wcrnn_digits.yaml").read_text())
    cfg["model"]["init_args"]["hidden_size"] = 4
    cfg["data"]["init_args"]["order"] = "row"
    cfg["trainer"].update(max_epochs=1, limit_train_batches=2, limit_val_batches=1, enable_progress_bar=False)
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize("verb, name, content", [
    ("test", "missing.ckpt", None),
    ("fit", "garbage.ckpt", b"not a checkpoint at all"),
])
def test_a_bad_ckpt_path_on_fit_or_test_is_one_line(tmp_path, config_file, verb, name, content):
    ck = tmp_path / name
    if content is not None:
        ck.write_bytes(content)
    res = cli(verb, "--config", config_file, "--trainer.default_root_dir", tmp_path / "run", "--ckpt_path", ck,
              cwd=tmp_path)
    _one_line(res, str(ck))
    assert ("no such checkpoint file" if content is None else "corrupt or not a torch checkpoint") in res.stderr
    assert [p.name for p in tmp_path.rglob("*.ckpt")] == ([] if content is None else [name])  # nothing trained


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_scheduler_fails_fast_in_one_line(tmp_path, tiny_checkpoint):
    address = f"tcp://127.0.0.1:{_closed_port()}"
    res = cli("analyze", tiny_checkpoint, "--out-dir", "R", "--scheduler", address, *FAST_ARGS, cwd=tmp_path,
              timeout=25)  # Dask alone waits 30 s before it gives up
    _one_line(res, f"cannot reach the Dask scheduler at --scheduler='{address}'")
    assert not (tmp_path / "R").exists()


def test_dotdot_after_a_wildcard_is_one_line(tmp_path, tiny_checkpoint):
    (tmp_path / "runs" / "a").mkdir(parents=True)
    (tmp_path / "runs" / "a" / "m.ckpt").write_bytes(tiny_checkpoint.read_bytes())
    res = cli("analyze", "runs/*/../a/*.ckpt", "--out-dir", "R", "--workers", "0", *FAST_ARGS, cwd=tmp_path)
    _one_line(res, "pattern 'runs/*/../a/*.ckpt' has '..' after a wildcard")
    assert not (tmp_path / "R").exists()


def _huge_task(ckpt):
    ckpt["dynalysis"]["task"] = {"name": "adding", "seq_len": 10 ** 6, "n_train": 10, "n_val": 10,
                                 "n_test": 10 ** 6, "seed": 0}


def _huge_model(ckpt):
    ckpt["dynalysis"]["model"]["hidden_size"] = 20_000  # the weights stay 8 units


def _code(ckpt):
    ckpt["dynalysis"]["callback"] = print  # a pickled function: code


# VmHWM, not getrusage's ru_maxrss: Linux copies ru_maxrss from the parent at fork, so a child
# of a large pytest process would report the parent's peak (seen: 1040 MiB for a 260 MiB run)
PEAK_RSS = textwrap.dedent('''
    import re, sys
    from dynalysis.cli import main
    status = main(sys.argv[1:])
    with open("/proc/self/status") as f:
        print(int(re.search(r"VmHWM:\\s+(\\d+) kB", f.read()).group(1)) // 1024, "MiB")
    sys.exit(status)
''')


@pytest.mark.parametrize("edit, message", [
    (_huge_task, "its task record asks for a test split of n_test=1000000 sequences of 1000000 steps"),
    (_huge_model, "the stored weights do not fit the model description (input_size=8, hidden_size=20000"),
    (_code, "is not a weights-only checkpoint (it contains code objects; this tool never unpickles code)"),
])
def test_a_damaged_or_hostile_record_is_refused_before_anything_is_allocated(tmp_path, tiny_checkpoint, edit, message):
    ck = tmp_path / "edited.ckpt"
    if edit is _code:
        payload = torch.load(tiny_checkpoint, weights_only=True)
        edit(payload)
        torch.save(payload, ck)
    else:
        edited_checkpoint(tiny_checkpoint, ck, edit)
    script = tmp_path / "peak.py"
    script.write_text(PEAK_RSS)
    res = subprocess.run([sys.executable, str(script), "analyze", str(ck), "--out", str(tmp_path / "r.nc"), *FAST_ARGS],
                         env=ENV, capture_output=True, text=True, timeout=300)
    _one_line(res, message)
    assert "weights_only" not in res.stderr
    peak = int(res.stdout.split()[0])
    assert peak < 1024, f"{peak} MiB"  # the 20 000-unit network alone would take 3 GiB
    assert not (tmp_path / "r.nc").exists()


def test_max_lag_longer_than_the_trajectory_is_rejected_before_any_work(tmp_path, tiny_checkpoint):
    res = cli("analyze", tiny_checkpoint, "--out", "r.nc", "--analyses", "lyapunov,memory", "--max-lag", "5000",
              "--n-trajectories", "2", cwd=tmp_path)  # default steps: 1000
    _one_line(res, "--max-lag (5000) must be below the trajectory length --steps=1000; allowed: --max-lag <= 999")
    assert not (tmp_path / "r.nc").exists()


@pytest.mark.parametrize("failure", ["enospc", "hdf_error_on_a_full_disk"])
def test_a_full_disk_says_so_in_one_line(tmp_path, tiny_checkpoint, capsys, monkeypatch, failure):
    """ENOSPC cannot be provoked here (no tiny file system): the writer is made to fail the way
    it does on a full disk, as an OSError or as netCDF's own "HDF error" with no space left."""
    import shutil

    def full(self, *args, **kwargs):
        if failure == "enospc":
            raise OSError(errno.ENOSPC, "No space left on device")
        raise RuntimeError("NetCDF: HDF error")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full)
    if failure != "enospc":
        monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10 ** 9, 10 ** 9, 0))
    with pytest.raises(ResultsFileError, match="no space left on /") as err:
        dynalysis.save_results(xr.Dataset({"x": ((), 1.0)}), tmp_path / "r.nc")
    assert "nothing was written" in str(err.value)
    text = _one_line_error(capsys, ["analyze", str(tiny_checkpoint), "--out", str(tmp_path / "s.nc"), *FAST_ARGS])
    assert "no space left on /" in text and str(tmp_path / "s.nc") in text
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temporary left behind


def test_analyze_builds_the_task_once_and_reports_progress_through_the_callback(tiny_checkpoint, tmp_path,
                                                                               monkeypatch, capsys):
    import dynalysis.tasks as tasks

    built = []
    real = tasks.build_task
    monkeypatch.setattr(tasks, "build_task", lambda *a, **k: built.append(a) or real(*a, **k))
    lines = []
    dynalysis.analyze_checkpoint(tiny_checkpoint, tmp_path / "r.nc", progress=lines.append,
                                 **{**FAST, "analyses": "lyapunov,nonnormality"})
    assert len(built) == 1 and lines == ["lyapunov ...", "nonnormality ..."]
    assert capsys.readouterr().out == ""  # the library never prints


def test_library_messages_speak_python_and_the_cli_speaks_flags(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "r.nc"
    out.write_text("x")
    with pytest.raises(ResultsFileError, match="pass overwrite=True to replace it"):
        dynalysis.analyze_checkpoint(tiny_checkpoint, out, **FAST)
    text = _one_line_error(capsys, ["analyze", str(tiny_checkpoint), "--out", str(out), *FAST_ARGS])
    assert "pass --overwrite to replace it" in text
    library = [p for p in (ROOT / "dynalysis").rglob("*.py") if "cli" not in p.relative_to(ROOT).parts]
    assert not [str(p) for p in library if "--overwrite" in p.read_text()]
