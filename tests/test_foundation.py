"""The vertical slice: Lightning CLI fit -> checkpoint -> step map -> analyze -> NetCDF -> plot."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

import dynalysis

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args, cwd=ROOT, check=True):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    res = subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], cwd=cwd,
                         capture_output=True, text=True, env=env, timeout=600)
    if check and res.returncode != 0:
        raise AssertionError(f"cli.py {' '.join(map(str, args))} failed:\n{res.stdout}\n{res.stderr}")
    return res


def test_import_does_not_load_lightning():
    code = ("import sys, dynalysis; dynalysis.load_checkpoint; import dynalysis.plotting; "
            "import dynalysis.cli._commands; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_import_and_analyze_help_are_lazy():
    """Start-up: ``import dynalysis`` and ``cli.py analyze --help`` import neither torch nor
    xarray (issue 6: under 2 s; torch alone takes ~2.5 s here), yet every public name and
    subpackage resolves on first use."""
    heavy = "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'xarray', 'numpy')]; "
    code = ("import sys, dynalysis; " + heavy + "assert not bad, bad; "
            "sys.argv = ['cli.py', 'analyze', '--help']\n"
            "from dynalysis.cli import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
            + heavy + "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, capture_output=True)
    import dynalysis as d

    for name in d.__all__:
        assert getattr(d, name) is getattr(importlib.import_module(d._EXPORTS[name], "dynalysis"), name)
    assert set(d.__all__) <= set(dir(d)) and d.tasks.build_task and d.models.build_model
    with pytest.raises(AttributeError, match="no attribute 'lyapunov_exponent'"):
        d.lyapunov_exponent


def test_checkpoint_loads_weights_only_and_rebuilds_the_step_map(tiny_checkpoint):
    ckpt = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)
    record = ckpt["dynalysis"]
    assert record["model"]["cell"] == "wcrnn" and record["model"]["hidden_size"] == 8
    assert record["task"] == {"name": "digits", "order": "row", "permute": False,
                              "permutation_seed": 0, "seed": 0}
    system = dynalysis.load_checkpoint(tiny_checkpoint)
    assert (system.state_size, system.input_size, system.output_size) == (8, 8, 10)
    # the step map uses the trained weights: one step by hand from the state dict
    sd = ckpt["state_dict"]
    h = torch.randn(3, 8)
    x = torch.randn(3, 8)
    eps = record["model"]["epsilon"]
    expected = h @ sd["net.R"].T + eps * torch.tanh(h @ sd["net.W"].T + x @ sd["net.V"].T + sd["net.b"])
    torch.testing.assert_close(system.step(h, x), expected)
    # and the readout reproduces the module's classification of a digit sequence
    from lightning_modules import SequenceModel

    model = SequenceModel(**{k: v for k, v in ckpt["hyper_parameters"].items() if not k.startswith("_")})
    model.load_state_dict(sd)
    seq = dynalysis.task_inputs(system, n_trajectories=4)
    h = system.initial_state(4, dtype=torch.float32)
    for t in range(seq.shape[1]):
        h = system.step(h, seq[:, t])
    torch.testing.assert_close(system.readout(h), model.eval()(seq), rtol=1e-5, atol=1e-5)


def test_task_inputs_concatenate_task_sequences(tiny_checkpoint):
    system = dynalysis.load_checkpoint(tiny_checkpoint)
    x = dynalysis.task_inputs(system, n_trajectories=3, steps=20, seed=1)
    assert x.shape == (3, 20, 8)
    test_images = dynalysis.tasks.build_task("digits", order="row").split("test").inputs
    # every 8-step block is one whole test image, read row by row
    block = x[0, :8]
    assert any(torch.equal(block, im) for im in test_images)
    assert torch.equal(x, dynalysis.task_inputs(system, n_trajectories=3, steps=20, seed=1))


def test_cli_fit_analyze_plot_end_to_end(tmp_path):
    """The user's path, through the real command line: fit -> analyze -> plot."""
    _cli("fit", "--config", ROOT / "configs" / "wcrnn_digits.yaml",
         "--trainer.default_root_dir", tmp_path / "run", "--trainer.max_epochs", "1",
         "--trainer.enable_progress_bar", "false", "--model.init_args.hidden_size", "6",
         "--data.init_args.order", "row")
    (ckpt,) = (tmp_path / "run").rglob("*.ckpt")
    assert (ckpt.parent.parent / "config.yaml").exists()
    out = tmp_path / "res.nc"
    _cli("analyze", ckpt, "--out", out, "--analyses", "lyapunov", "--steps", "2100",
         "--transient", "20", "--n-trajectories", "3", "--reortho-every", "auto")
    ds = xr.open_dataset(out, group="lyapunov")  # plain xarray, no dynalysis
    # near-isometric WCRNN: the adaptive schedule takes long QR blocks (2 080 averaged steps:
    # trace steps and confidence blocks every 64, which cut none of the 16-step blocks)
    assert '"reortho_every": "auto"' in ds.attrs["options"] and float(ds.mean_reortho_interval) > 4
    assert ds.sizes["exponent_index"] == 6 and ds.sizes["trajectory"] == 3
    lam = ds.exponent.values
    assert np.all(np.isfinite(lam)) and np.all(np.diff(lam) <= 0)
    assert ds.exponent.attrs["units"] == "1/step"
    # a fixed identity residual (λ = 1) plus a weak tanh update: exponents stay near 0
    assert np.all(np.abs(lam) < 0.5)
    root = xr.open_dataset(out)
    assert str(ckpt.resolve()) in root.attrs["source"]
    assert '"hidden_size": 6' in root.attrs["system"]
    for v in ds.variables:
        assert "long_name" in ds[v].attrs and "units" in ds[v].attrs, v
    figs = tmp_path / "figs"
    res = _cli("plot", out, "--out", figs)
    pngs = sorted(figs.glob("*.png"))
    assert {"lyapunov_spectrum.png", "lyapunov_convergence.png"} <= {p.name for p in pngs}
    for p in pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
    assert "wrote" in res.stdout
    # never overwritten without --overwrite; a clean one-line error, exit status 2
    before = out.read_bytes()
    res = _cli("analyze", ckpt, "--out", out, "--analyses", "lyapunov", check=False)
    assert res.returncode == 2 and "already exists" in res.stderr and "Traceback" not in res.stderr
    assert out.read_bytes() == before


@pytest.mark.parametrize("args, message", [
    (["analyze", "missing.ckpt", "--out", "x.nc"], "no such checkpoint"),
    (["plot", "missing.nc", "--out", "figs"], "does not exist"),
])
def test_cli_user_errors_are_one_line(tmp_path, args, message):
    res = _cli(*args, cwd=tmp_path, check=False)
    assert res.returncode == 2
    assert message in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_cli_help_lists_every_option():
    res = _cli("analyze", "--help")
    for opt in ("--out", "--analyses", "--steps", "--transient", "--n-exponents", "--seed", "--overwrite"):
        assert opt in res.stdout
