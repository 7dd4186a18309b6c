"""Figures on disk: never overwritten without ``overwrite=True``, written atomically, one-line
errors through the real command line; the library prints nothing."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import dynalysis  # noqa: E402
from dynalysis.errors import ResultsFileError  # noqa: E402
from dynalysis.plotting import PLOTTERS, plot_results  # noqa: E402

from _plotting_helpers import (fixed_points_ds, jacobian_ds, lyapunov_ds, memory_ds,  # noqa: E402
                               nonnormality_ds, rotation_eigs)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def results_file(tmp_path):
    lin = dynalysis.testing.linear_map(np.diag([0.9, 0.5]), np.ones((2, 1)))
    inputs = np.random.default_rng(0).normal(size=(2, 40, 1))
    res = {"lyapunov": dynalysis.lyapunov_spectrum(lin, inputs, transient=5),
           "jacobian": dynalysis.jacobian_eigenvalues(lin, inputs, every=4)}
    return dynalysis.save_results(res, tmp_path / "r.nc")


def test_plot_results_refuses_to_overwrite_before_writing_anything(results_file, tmp_path):
    out = tmp_path / "figs"
    out.mkdir()
    (out / "jacobian_eigenvalues.png").write_bytes(b"the user's own file")
    with pytest.raises(ResultsFileError, match=r"jacobian_eigenvalues\.png.*overwrite=True") as err:
        plot_results(results_file, out)
    assert len(str(err.value).splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["jacobian_eigenvalues.png"]  # nothing else
    assert (out / "jacobian_eigenvalues.png").read_bytes() == b"the user's own file"
    written = plot_results(results_file, out, overwrite=True)
    assert {p.name for p in written} == {"lyapunov_spectrum.png", "lyapunov_convergence.png",
                                         "jacobian_eigenvalues.png", "jacobian_singular_values.png"}
    assert (out / "jacobian_eigenvalues.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)  # no temp files


@pytest.mark.parametrize("name, ds", [("lyapunov", lyapunov_ds()), ("jacobian", jacobian_ds(rotation_eigs())),
                                      ("fixed_points", fixed_points_ds()), ("memory", memory_ds([0.5] * 3)),
                                      ("nonnormality", nonnormality_ds())])
def test_every_plotter_refuses_to_overwrite(name, ds, tmp_path):
    first = PLOTTERS[name](ds, tmp_path)
    assert first and all(p.exists() for p in first)
    before = {p: p.stat().st_mtime_ns for p in first}
    with pytest.raises(ResultsFileError, match="overwrite=True"):
        PLOTTERS[name](ds, tmp_path)
    assert {p: p.stat().st_mtime_ns for p in first} == before
    assert PLOTTERS[name](ds, tmp_path, overwrite=True) == first


def test_a_failed_save_leaves_no_partial_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def broken(self, fname, **kw):
        Path(fname).write_bytes(b"\x89PNG half")  # a write cut short
        raise OSError("No space left on device")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(ResultsFileError, match=r"cannot write .*memory\.png: No space left on device"):
        PLOTTERS["memory"](memory_ds([0.5] * 3), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_groups_that_would_write_the_same_files_get_prefixed(tmp_path):
    path = dynalysis.save_results({"a": lyapunov_ds(), "b": lyapunov_ds(n=3)}, tmp_path / "two.nc")
    names = {p.name for p in plot_results(path, tmp_path / "figs")}
    assert names == {"a_lyapunov_spectrum.png", "a_lyapunov_convergence.png",
                     "b_lyapunov_spectrum.png", "b_lyapunov_convergence.png"}


def test_plotting_prints_nothing(results_file, tmp_path, capsys):
    plot_results(results_file, tmp_path / "figs")
    assert capsys.readouterr() == ("", "")


def test_cli_plot_over_existing_figures_is_a_one_line_refusal(results_file, tmp_path):
    plot_results(results_file, tmp_path / "figs")
    before = {p.name: p.read_bytes() for p in (tmp_path / "figs").iterdir()}
    res = subprocess.run([sys.executable, str(ROOT / "cli.py"), "plot", str(results_file),
                          "--out", str(tmp_path / "figs")], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 2 and "already exist" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in (tmp_path / "figs").iterdir()} == before


def test_an_out_dir_that_is_a_file_is_refused(results_file, tmp_path):
    (tmp_path / "figs").write_text("not a folder")
    for call in (lambda: plot_results(results_file, tmp_path / "figs"),
                 lambda: PLOTTERS["memory"](memory_ds([0.5] * 3), tmp_path / "figs")):
        with pytest.raises(ResultsFileError, match="is not a folder"):
            call()
    assert (tmp_path / "figs").read_text() == "not a folder"
