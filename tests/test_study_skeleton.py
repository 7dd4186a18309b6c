"""The skeleton every study stands on (lightning_modules/studies.py): the common command line,
a results folder never overwritten without --overwrite, --dry-run that plans without writing,
figures that must be labelled, and the report footer."""
from __future__ import annotations

import doctest
import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import lightning_modules.studies as studies  # noqa: E402
from lightning_modules.studies import PlannedRun, Study, save_figure, unlabelled_axes  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ("eigen_init", "linear_rnn_implicit_bias", "nonnormal_dynamics", "wcrnn_fading_memory")
SIZES = {"tiny": dict(epochs=1, lrs=[0.1, 0.01]), "small": dict(epochs=2, lrs=[0.1, 0.01]),
         "big": dict(epochs=10, lrs=[0.1, 0.01])}


def toy_plan(cfg):
    return [PlannedRun(f"lr{lr:g}", f"lr={lr:g}", epochs=cfg["epochs"], n_train=100, seq_len=10,
                       batch_size=10, hidden_size=4, spec=dict(lr=lr)) for lr in cfg["lrs"]]


def toy(out: Path, *args: str, **kw) -> Study:
    return Study("toy", SIZES, plan=toy_plan, script=ROOT / "analyses" / "toy" / "study.py",
                 description="a toy study", argv=["--out", str(out), *args], **kw)


def test_doctests():
    assert doctest.testmod(studies).failed == 0


def test_dry_run_prints_the_plan_and_its_cost_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "results"
    study = toy(out, "--size", "big", "--dry-run", measured_wall_s={"tiny": 6.0})
    assert study.start() is False
    text = capsys.readouterr().out
    assert "toy, size big: 2 training runs" in text
    assert "lr0.1" in text and "lr0.01" in text and "10 epochs × 100 sequences × T=10" in text
    assert "total: 200 optimiser steps, 2e+04 training sequence-steps" in text
    assert "~60 s" in text  # tiny took 6 s for 10× fewer sequence-steps
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_non_empty_out_is_refused_without_overwrite(tmp_path, capsys):
    (tmp_path / "REPORT.md").write_text("earlier results")
    study = toy(tmp_path)
    with pytest.raises(SystemExit) as exc:
        study.start()
    assert exc.value.code == 2
    assert "is not empty; pass --overwrite" in capsys.readouterr().err
    assert (tmp_path / "REPORT.md").read_text() == "earlier results"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["REPORT.md"]
    with pytest.raises(SystemExit) as exc:  # --out naming a file
        toy(tmp_path / "REPORT.md", "--overwrite").start()
    assert exc.value.code == 2 and "is a file" in capsys.readouterr().err
    assert (tmp_path / "REPORT.md").read_text() == "earlier results"


def test_overwrite_replaces_the_study_outputs_only(tmp_path):
    for sub in ("runs", "checkpoints", "figures"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "stale").write_text("")
    (tmp_path / "toy.nc").write_text("")
    (tmp_path / "REPORT.md").write_text("")
    (tmp_path / "notes.txt").write_text("mine")
    assert toy(tmp_path, "--overwrite").start() is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figures", "notes.txt", "runs"]
    assert not any((tmp_path / "runs").iterdir()) and not any((tmp_path / "figures").iterdir())


def test_command_line_and_plan_checks(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        toy(tmp_path, "--size", "huge")
    assert exc.value.code == 2 and "invalid choice: 'huge'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="run names repeat"):
        Study("toy", SIZES, plan=lambda cfg: toy_plan(cfg) * 2, script="s.py", description="",
              argv=[])
    study = toy(tmp_path / "new", "--size", "tiny")
    assert study.out == tmp_path / "new" and study.config == SIZES["tiny"]
    assert study.config is not SIZES["tiny"]  # a copy: a study may change it freely
    assert study.command == f".venv/bin/python analyses/toy/study.py --out {tmp_path / 'new'} --size tiny"
    default = Study("toy", SIZES, plan=toy_plan, script=ROOT / "analyses" / "toy" / "study.py",
                    description="", argv=["--size", "tiny"])
    assert default.out == ROOT / "analyses" / "toy" / "results" / "tiny"


def test_progress_report_and_footer(tmp_path, capsys):
    study = toy(tmp_path)
    assert study.start()
    for run in study.plan:
        study.log(run, "loss=1")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("run 1/2 lr=0.1 loss=1 ") and lines[1].startswith("run 2/2 lr=0.01 loss=1 ")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    ax.set(xlabel="step", ylabel="loss")
    assert study.save_figure(fig, "loss.png") == "loss.png"
    study.write_report("# Toy\n\nbody\n")
    text = (tmp_path / "REPORT.md").read_text()
    assert text.startswith("# Toy\n\nbody\n\n## Figures\n\n![loss.png](figures/loss.png)\n")
    assert f"Command: `{study.command}`" in text and "Size: `small`" in text and "(2 training runs)" in text


def test_save_figure_refuses_unlabelled_axes(tmp_path):
    fig, (a, b) = plt.subplots(1, 2)
    a.plot([0, 1])
    b.plot([0, 1])
    a.set(xlabel="x", ylabel="y", title="left")
    b.set(xlabel="x", title="right")
    with pytest.raises(ValueError, match="y label of 'right'"):
        save_figure(fig, tmp_path / "f.png")
    assert not (tmp_path / "f.png").exists() and not plt.fignum_exists(fig.number)

    fig, axes = plt.subplots(2, 2, sharex=True, sharey=True)  # outer labels cover a shared grid
    for ax in axes.flat:
        ax.plot([0, 1])
    axes[1, 0].set_xlabel("x")
    axes[1, 0].set_ylabel("y")
    assert unlabelled_axes(fig) == []
    im = axes[0, 0].imshow([[0, 1]])
    cbar = fig.colorbar(im, ax=axes[0, 0])
    assert unlabelled_axes(fig) == ["label of the colorbar (axes 4)"]
    cbar.set_label("value")
    path = save_figure(fig, tmp_path / "sub" / "g.png", dpi=50)
    assert path.stat().st_size > 1000 and not plt.fignum_exists(fig.number)


def _run_study(study: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, str(ROOT / "analyses" / study / "study.py"), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


# Runs every study's script as __main__ in one interpreter (one import of torch and Lightning);
# each study's sibling modules (report.py, figures.py) are forgotten before the next study.
DRY_RUN_ALL = """
import runpy, sys
root, out, studies = sys.argv[1], sys.argv[2], sys.argv[3:]
for name in studies:
    for m in ("study", "report", "figures"):
        sys.modules.pop(m, None)
    script = f"{root}/analyses/{name}/study.py"
    sys.path.insert(0, f"{root}/analyses/{name}")
    sys.argv = [script, "--size", "paper", "--dry-run", "--out", f"{out}/{name}"]
    print(f"=== {name}", flush=True)
    runpy.run_path(script, run_name="__main__")
    sys.path.pop(0)
"""


def test_every_study_plans_the_paper_size_without_writing(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", DRY_RUN_ALL, str(ROOT), str(tmp_path), *STUDIES],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    outputs = proc.stdout.split("=== ")[1:]
    assert [o.split()[0] for o in outputs] == list(STUDIES)
    for study, text in zip(STUDIES, outputs):
        assert f"{study}, size paper:" in text and "estimated wall time: ~" in text, study
        assert "dry run: nothing was trained or written" in text, study
        assert not (ROOT / "analyses" / study / "results" / "paper").exists()
    assert list(tmp_path.iterdir()) == []


def test_a_study_refuses_a_non_empty_out_from_the_command_line(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    proc = _run_study("nonnormal_dynamics", "--size", "tiny", "--out", str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "is not empty; pass --overwrite" in proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
