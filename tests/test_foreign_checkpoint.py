"""Checkpoints this project did not write (issue 15): a user's own LightningModule, written
here and saved by Lightning's Trainer, analysed through `dynalysis.load_checkpoint(module=...)`
and through the real CLI (``analyze CKPT --module pkg.mod:Class --rnn ... --inputs FILE``); a
plain ``state_dict`` with a module instance; the user's input files; every refusal one line."""
from __future__ import annotations

import copy
import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from torch import nn

import dynalysis
from dynalysis.adapters import TorchRNNSystem
from dynalysis.cli import main
from dynalysis.errors import CheckpointError, OptionError, StepMapError
from dynalysis.io.sequences import load_inputs

from _hardening_helpers import error_lines

ROOT = Path(__file__).resolve().parents[1]
D, H, L, OUT = 2, 3, 2, 1
MOD = "foreign_user_net"  # the user's package: a file written into a temporary folder

USER_CODE = textwrap.dedent(f'''
    """A user's own model: nothing here knows about dynalysis."""
    import pathlib

    import pytorch_lightning as pl
    import torch
    from torch import nn


    class Encoder(nn.Module):
        def __init__(self, n_in, hidden, layers):
            super().__init__()
            self.rnn = nn.LSTM(n_in, hidden, num_layers=layers, batch_first=True)


    class Seq2One(pl.LightningModule):
        def __init__(self, n_in: int = {D}, hidden: int = {H}, layers: int = {L}, n_out: int = {OUT},
                     lr: float = 0.05):
            super().__init__()
            self.save_hyperparameters()
            self.encoder = Encoder(n_in, hidden, layers)
            self.head = nn.Linear(hidden, n_out)

        def forward(self, x):
            out, _ = self.encoder.rnn(x)
            return self.head(out)

        def training_step(self, batch, batch_idx):
            x, y = batch
            return nn.functional.mse_loss(self(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


    class NoHparams(Seq2One):
        """Does not call save_hyperparameters and needs its sizes."""

        def __init__(self, hidden, layers):
            pl.LightningModule.__init__(self)
            self.encoder = Encoder({D}, hidden, layers)
            self.head = nn.Linear(hidden, {OUT})


    class TwoRNNs(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.GRU({D}, {H})
            self.b = nn.GRU({H}, {H})


    def helper():
        return 1
''')


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    """The user's folder: their module, a 2-step Lightning checkpoint, a state_dict file, inputs."""
    import pytorch_lightning as pl

    folder = tmp_path_factory.mktemp("user_project")
    (folder / f"{MOD}.py").write_text(USER_CODE)
    sys.path.insert(0, str(folder))
    try:
        mod = __import__(MOD)
        torch.manual_seed(0)
        x, y = torch.randn(8, 10, D), torch.randn(8, 10, OUT)
        data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
        model = mod.Seq2One()
        before = model.encoder.rnn.weight_hh_l0.detach().clone()
        trainer = pl.Trainer(max_steps=2, logger=False, enable_checkpointing=False, accelerator="cpu",
                             enable_progress_bar=False, enable_model_summary=False,
                             default_root_dir=str(folder))
        trainer.fit(model, data)
        assert not torch.equal(before, model.encoder.rnn.weight_hh_l0)  # it did train
        trainer.save_checkpoint(folder / "mine.ckpt")
        torch.save(model.state_dict(), folder / "weights.pt")
        torch.save({"state_dict": model.state_dict(), "epoch": 0}, folder / "no_hparams.ckpt")
        g = np.random.default_rng(0)
        np.save(folder / "inputs.npy", g.standard_normal((2, 120, D)))
        np.save(folder / "other.npy", g.standard_normal((2, 120, D)))
        yield folder, mod, model
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop(MOD, None)


def one_line(err) -> str:
    text = str(err.value)
    assert "\n" not in text, text
    return text


# --- Python: the Lightning checkpoint -------------------------------------------------------------
def test_a_foreign_lightning_checkpoint_loads_as_the_module_it_was(user):
    folder, mod, trained = user
    system = dynalysis.load_checkpoint(folder / "mine.ckpt", module=mod.Seq2One, rnn="encoder.rnn",
                                       readout="head")
    assert isinstance(system, TorchRNNSystem) and system.kind == "lstm"
    assert system.state_size == 2 * L * H and system.output_size == OUT  # [h_0, h_1, c_0, c_1]
    meta = system.metadata
    assert meta["module_class"] == f"{MOD}:Seq2One" and meta["rnn"] == "encoder.rnn"
    assert meta["readout"] == "head" and meta["global_step"] == 2 and meta["checkpoint_kind"] == "lightning"
    assert '"hidden": 3' in meta["hyper_parameters"]
    # the reference: Lightning's own loader of the same file
    ref = mod.Seq2One.load_from_checkpoint(folder / "mine.ckpt", weights_only=True).double().eval()
    x = torch.randn(3, 25, D, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out, (h_n, c_n) = system.to(dtype=torch.float64).run(x)
    with torch.no_grad():
        ref_out, (ref_h, ref_c) = ref.encoder.rnn(x)
        ref_y = ref(x)
    for a, b in ((out, ref_out), (h_n, ref_h), (c_n, ref_c)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    s64 = system.to(dtype=torch.float64)
    h = s64.initial_state(3)
    for t in range(x.shape[1]):
        h = s64.step(h, x[:, t])
    torch.testing.assert_close(s64.readout(h), ref_y[:, -1], rtol=0, atol=1e-10)
    lya = dynalysis.lyapunov_spectrum(system, x.float(), transient=5)
    assert lya.sizes["exponent_index"] == 2 * L * H and "Seq2One" in lya.attrs["system"]
    # the import path form gives the same system
    same = dynalysis.load_checkpoint(folder / "mine.ckpt", module=f"{MOD}:Seq2One", readout="head")
    torch.testing.assert_close(same.step(h.float(), x[:, 0].float()), system.step(h.float(), x[:, 0].float()))
    assert same.metadata["rnn"] == "encoder.rnn"  # the only torch RNN, found by itself


def test_a_state_dict_and_an_instance_give_the_same_system_and_leave_the_instance_alone(user):
    folder, mod, trained = user
    mine = mod.Seq2One().train()
    untouched = {k: v.clone() for k, v in mine.state_dict().items()}
    system = dynalysis.load_checkpoint(folder / "weights.pt", module=mine, readout="head")
    ckpt = dynalysis.load_checkpoint(folder / "mine.ckpt", module=mod.Seq2One, readout="head")
    x = torch.randn(2, 80, D, generator=torch.Generator().manual_seed(2))
    a = dynalysis.lyapunov_spectrum(system, x, transient=5)
    b = dynalysis.lyapunov_spectrum(ckpt, x, transient=5)
    np.testing.assert_array_equal(a.exponent.values, b.exponent.values)
    assert mine.training and all(torch.equal(v, untouched[k]) for k, v in mine.state_dict().items())
    assert system.metadata["checkpoint_kind"] == "state_dict"
    # a file without hyper_parameters: a class that needs arguments is refused, an instance works
    with pytest.raises(CheckpointError, match="records no hyper_parameters.*save_hyperparameters.*instance") as err:
        dynalysis.load_checkpoint(folder / "no_hparams.ckpt", module=mod.NoHparams)
    one_line(err)
    ok = dynalysis.load_checkpoint(folder / "no_hparams.ckpt", module=mod.NoHparams(hidden=H, layers=L))
    assert ok.state_size == 2 * L * H


def test_weights_keep_their_stored_dtype(user, tmp_path):
    folder, mod, trained = user
    torch.save(copy.deepcopy(trained).double().state_dict(), tmp_path / "f64.pt")
    system = dynalysis.load_checkpoint(tmp_path / "f64.pt", module=mod.Seq2One)
    assert system.initial_state(1).dtype == torch.float64  # not cast into the fresh float32 model


def test_the_file_s_objects_are_never_unpickled_unless_asked(user, tmp_path):
    folder, mod, trained = user
    ckpt = torch.load(folder / "mine.ckpt", weights_only=True)
    ckpt["hyper_parameters"]["data_dir"] = Path("/data")  # an object, not plain data
    torch.save(ckpt, tmp_path / "objects.ckpt")
    with pytest.raises(CheckpointError, match="not a weights-only checkpoint.*weights_only=False") as err:
        dynalysis.load_checkpoint(tmp_path / "objects.ckpt", module=mod.Seq2One)
    one_line(err)
    system = dynalysis.load_checkpoint(tmp_path / "objects.ckpt", module=mod.Seq2One, weights_only=False)
    assert system.state_size == 2 * L * H


@pytest.mark.parametrize("kwargs,error,match", [
    ({"rnn": "encoder.gru"}, OptionError, r"no submodule rnn='encoder.gru'; its recurrent submodules: encoder.rnn"),
    ({"readout": "heads"}, OptionError, r"no submodule readout='heads'; its submodules: encoder, encoder.rnn, head"),
    ({"rnn": "head"}, OptionError, r"Linear is not one of torch's RNN modules"),
    ({"module": "no_such_package.models:Net"}, OptionError, r"cannot import 'no_such_package.models'"),
    ({"module": f"{MOD}:helper"}, OptionError, r"is a function, not a torch.nn.Module class"),
    ({"module": f"{MOD}.Seq2One"}, OptionError, r"allowed values: 'package.module:Class'"),
    ({"module": 3}, OptionError, r"module must be your model's class, an instance"),
    ({"module": "TwoRNNs"}, OptionError, r"several recurrent modules \(a, b\); name the one"),
    ({"module": "small"}, CheckpointError, r"stored weights do not fit Seq2One \(encoder.rnn.weight_ih_l0 is stored"),
    ({"module": None, "rnn": "encoder.rnn"}, OptionError, r"rnn applies to checkpoints of your own model; give module="),
])
def test_what_does_not_fit_is_one_line(user, kwargs, error, match):
    folder, mod, _ = user
    kwargs = {"module": mod.Seq2One, **kwargs}
    if kwargs["module"] == "TwoRNNs":
        kwargs["module"] = mod.TwoRNNs()
        torch.save(kwargs["module"].state_dict(), folder / "two.pt")
        path = folder / "two.pt"
    else:
        path = folder / "mine.ckpt"
    if kwargs["module"] == "small":
        kwargs["module"] = mod.Seq2One(hidden=H + 1)
    with pytest.raises(error, match=match) as err:
        dynalysis.load_checkpoint(path, **kwargs)
    one_line(err)


def test_files_that_hold_no_model_and_our_message_for_foreign_files(user, tmp_path):
    folder, mod, _ = user
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    with pytest.raises(CheckpointError, match="holds a Tensor") as err:
        dynalysis.load_checkpoint(tmp_path / "tensor.pt", module=mod.Seq2One)
    one_line(err)
    torch.save({"weights": [1, 2]}, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError, match="neither a Lightning checkpoint .* nor a plain state_dict"):
        dynalysis.load_checkpoint(tmp_path / "odd.pt", module=mod.Seq2One)
    with pytest.raises(CheckpointError, match=r"not a dynalysis checkpoint .* module=pkg.mod:Class rnn=encoder.rnn"):
        dynalysis.load_checkpoint(folder / "mine.ckpt")  # without module: says how
    with pytest.raises(CheckpointError, match=r"plain state_dict .* module=pkg.mod:Class"):
        dynalysis.load_checkpoint(folder / "weights.pt")


# --- input files ------------------------------------------------------------------------------------
def test_input_files_of_every_format_read_as_trajectory_time_input(tmp_path):
    x = np.random.default_rng(3).standard_normal((2, 7, D))
    np.save(tmp_path / "a.npy", x)
    torch.save(torch.from_numpy(x).float(), tmp_path / "b.pt")
    torch.save({"drive": torch.from_numpy(x), "labels": torch.zeros(2)}, tmp_path / "c.pt")
    xr.Dataset({"u": (("time", "trajectory", "input"), x.transpose(1, 0, 2))}).to_netcdf(tmp_path / "d.nc")
    xr.Dataset({"u": (("a", "b", "c"), x)}).to_netcdf(tmp_path / "e.nc")
    for name, variable in (("a.npy", None), ("b.pt", None), ("c.pt", "drive"), ("d.nc", "u"), ("e.nc", "u")):
        got = load_inputs(tmp_path / name, variable=variable, input_size=D)
        np.testing.assert_allclose(got.numpy(), x, rtol=1e-7 if name == "b.pt" else 0)
    assert load_inputs(tmp_path / "b.pt").dtype == torch.float32


def test_bad_input_files_are_one_line(tmp_path):
    g = np.random.default_rng(4)
    np.save(tmp_path / "2d.npy", g.standard_normal((5, D)))
    np.save(tmp_path / "wide.npy", g.standard_normal((2, 5, D + 1)))
    bad = g.standard_normal((2, 5, D))
    bad[1, 3, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    np.save(tmp_path / "complex.npy", bad.astype(complex))
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    (tmp_path / "x.csv").write_text("1,2\n")
    xr.Dataset({"u": (("t", "i"), g.standard_normal((5, D)))}).to_netcdf(tmp_path / "two.nc")
    torch.save({"a": torch.zeros(1), "b": torch.zeros(1)}, tmp_path / "dict.pt")
    cases = [("2d.npy", None, "has shape (5, 2); it must be 3-D: (trajectory, time, input)"),
             ("wide.npy", None, "has 3 inputs per step (shape (2, 5, 3)), the network takes input_size=2"),
             ("nan.npy", None, "holds 1 NaN or inf values"),
             ("complex.npy", None, "holds torch.complex128 values"),
             ("junk.npy", None, "cannot be read"),
             ("x.csv", None, "unknown suffix; allowed: .npy, .pt, .nc"),
             ("missing.npy", None, "no such file"),
             ("two.nc", None, "is a NetCDF file; name the variable that holds the sequences with inputs_variable="),
             ("two.nc", "v", "has no variable 'v'; it holds u"),
             ("two.nc", "u", "has shape (5, 2); it must be 3-D"),
             ("dict.pt", None, "holds several entries (a, b); name one with inputs_variable="),
             ("wide.npy", "u", "inputs_variable applies to .nc and .pt files")]
    for name, variable, match in cases:
        with pytest.raises(OptionError) as err:
            load_inputs(tmp_path / name, variable=variable, input_size=D)
        assert match in one_line(err), (name, str(err.value))


def test_packed_sequences_are_refused_by_the_analyses_too():
    packed = nn.utils.rnn.pack_padded_sequence(torch.randn(2, 5, D), [5, 3], batch_first=True)
    with pytest.raises(StepMapError, match="packed sequences are not a step map's input") as err:
        dynalysis.lyapunov_spectrum(dynalysis.from_module(nn.GRU(D, H)), packed)
    one_line(err)


# --- the pipeline and the real CLI --------------------------------------------------------------------
FOREIGN = ["--module", f"{MOD}:Seq2One", "--rnn", "encoder.rnn", "--readout", "head"]


def test_the_cli_analyses_a_foreign_checkpoint_on_the_user_s_inputs(user, tmp_path):
    """The real command line in a subprocess, run from the user's folder (where the class is)."""
    folder, _, _ = user
    x = np.random.default_rng(5).standard_normal((2, 150, D)).astype("float32")
    xr.Dataset({"drive": (("trajectory", "time", "input"), x)}).to_netcdf(tmp_path / "drive.nc")
    out = tmp_path / "r.nc"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, str(ROOT / "cli.py"), "analyze", str(folder / "mine.ckpt"),
                          *FOREIGN, "--inputs", str(tmp_path / "drive.nc"), "--inputs-variable", "drive",
                          "--out", str(out), "--transient", "20", "--max-lag", "10",
                          "--fixed-point-starts", "8"],
                         cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    tree = dynalysis.open_results(out)
    assert tree["lyapunov"].sizes["exponent_index"] == 2 * L * H
    assert tree["lyapunov"].sizes["trajectory"] == 2
    attrs = dynalysis.verify_results(out)
    assert "failed_analyses" not in attrs, attrs.get("failed_analyses")
    assert attrs["inputs_sha256"] == hashlib.sha256((tmp_path / "drive.nc").read_bytes()).hexdigest()
    assert f'"module": "{MOD}:Seq2One"' in attrs["request"] and '"readout": "head"' in attrs["request"]
    assert np.isfinite(tree["memory"]["kernel"].values).all()
    figures = subprocess.run([sys.executable, str(ROOT / "cli.py"), "plot", str(out), "--out",
                              str(tmp_path / "fig")], env=env, capture_output=True, text=True, timeout=300)
    assert figures.returncode == 0, figures.stderr
    assert {"lyapunov_spectrum.png", "jacobian_eigenvalues.png", "memory.png"} <= {
        p.name for p in (tmp_path / "fig").glob("*.png")}
    refused = subprocess.run([sys.executable, str(ROOT / "cli.py"), "analyze", str(folder / "mine.ckpt"),
                              *FOREIGN, "--out", str(tmp_path / "s.nc")],
                             cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert error_lines(refused.stderr) == ["error: a checkpoint of your own model records no task data "
                                           "to drive it; give --inputs=FILE, input sequences (trajectory, "
                                           "time, input) in a .npy, .pt or .nc file"]


def _cli_error(capsys, argv) -> str:
    status = main(argv)
    full = capsys.readouterr().err
    lines = error_lines(full)
    assert status == 2 and "Traceback" not in full and len(lines) == 1, full
    return lines[0]


def test_cli_refusals_are_one_line_and_write_nothing(user, tmp_path, capsys, monkeypatch):
    folder, _, _ = user
    monkeypatch.chdir(folder)
    ck, npy = str(folder / "mine.ckpt"), str(folder / "inputs.npy")
    out = tmp_path / "r.nc"
    wide = tmp_path / "wide.npy"
    np.save(wide, np.zeros((2, 30, D + 1)))
    cases = [
        ([*FOREIGN, "--inputs", str(wide)], "has 3 inputs per step (shape (2, 30, 3)), the network takes input_size=2"),
        ([*FOREIGN, "--inputs", npy, "--n-trajectories", "3"], "--n-trajectories choose task data; with --inputs= every sequence"),
        ([*FOREIGN, "--inputs", npy, "--transient", "200"], "has 120 time steps, not more than --transient=200"),
        ([*FOREIGN, "--inputs", str(tmp_path / "nope.npy")], "no such file"),
        (["--module", f"{MOD}:Missing", "--inputs", npy], f"'{MOD}' has no attribute 'Missing'"),
        (["--rnn", "encoder.rnn"], "--rnn='encoder.rnn' names a submodule of your own model; give --module=pkg.mod:Class too"),
        ([*FOREIGN, "--inputs", npy, "--inputs-variable", "u"], "--inputs-variable applies to .nc and .pt files"),
        ([], "not a dynalysis checkpoint (no 'dynalysis' record); to analyse your own model, name its class and "
             "recurrent submodule: --module=pkg.mod:Class --rnn=encoder.rnn"),
    ]
    for extra, message in cases:
        line = _cli_error(capsys, ["analyze", ck, "--out", str(out), *extra])
        assert message in line, (extra, line)
        assert not out.exists()


def test_resuming_compares_the_inputs_not_their_path(user, tmp_path):
    folder, _, _ = user
    opts = dict(module=f"{MOD}:Seq2One", readout="head", analyses="lyapunov", transient=10)
    (tmp_path / "ck").mkdir()
    ck = tmp_path / "ck" / "mine.ckpt"
    ck.write_bytes((folder / "mine.ckpt").read_bytes())
    a, moved = tmp_path / "a.npy", tmp_path / "moved.npy"
    a.write_bytes((folder / "inputs.npy").read_bytes())
    if True:  # the fixture put the user's folder on sys.path, as the current folder would be
        (done,) = dynalysis.analyze_checkpoints(ck, tmp_path / "res", workers=0, inputs=str(a), **opts)
        assert done.status == "done", done.message
        result = Path(done.out)
        stored = result.read_bytes()
        moved.write_bytes(a.read_bytes())
        (again,) = dynalysis.analyze_checkpoints(ck, tmp_path / "res", workers=0, inputs=str(moved), **opts)
        assert again.status == "skipped"
        (other,) = dynalysis.analyze_checkpoints(ck, tmp_path / "res", workers=0,
                                                 inputs=str(folder / "other.npy"), **opts)
        assert other.status == "failed" and "was computed on other input sequences" in other.message
        (more,) = dynalysis.analyze_checkpoints(ck, tmp_path / "res", workers=0, inputs=str(a),
                                                **{**opts, "analyses": "lyapunov,nonnormality"})
        assert more.status == "done" and "extended with nonnormality" in more.message
        assert stored != result.read_bytes() and set(dynalysis.open_results(result).children) == {
            "lyapunov", "nonnormality"}


def test_our_own_checkpoint_driven_by_the_user_s_sequences(tiny_checkpoint, tmp_path):
    system = dynalysis.load_checkpoint(tiny_checkpoint)
    x = np.random.default_rng(6).standard_normal((3, 40, system.input_size))
    np.save(tmp_path / "x.npy", x)
    out = dynalysis.analyze_checkpoint(tiny_checkpoint, tmp_path / "r.nc", inputs=str(tmp_path / "x.npy"),
                                       analyses="lyapunov", transient=5)
    lya = dynalysis.open_results(out, group="lyapunov")
    ref = dynalysis.lyapunov_spectrum(system, torch.from_numpy(x), transient=5)
    np.testing.assert_allclose(lya.exponent.values, ref.exponent.values, rtol=0, atol=1e-12)
    assert lya.sizes["trajectory"] == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_foreign_checkpoint_analysed_on_the_gpu_matches_the_cpu(user):
    folder, mod, _ = user
    gpu = dynalysis.load_checkpoint(folder / "mine.ckpt", module=mod.Seq2One, readout="head", device="cuda")
    cpu = dynalysis.load_checkpoint(folder / "mine.ckpt", module=mod.Seq2One, readout="head")
    x = torch.randn(2, 100, D, generator=torch.Generator().manual_seed(7))
    a = dynalysis.lyapunov_spectrum(gpu, x.cuda(), transient=10)
    b = dynalysis.lyapunov_spectrum(cpu, x, transient=10)
    np.testing.assert_allclose(a.exponent.values, b.exponent.values, rtol=0, atol=1e-8)
    assert gpu.initial_state(1).is_cuda and gpu.initial_state(1).dtype == torch.float32


class ConfigNet(nn.Module):
    """``__init__(self, config)``: Lightning then records ``hparams_name = "config"``."""

    def __init__(self, config):
        super().__init__()
        self.rnn = nn.GRU(config["n_in"], config["hidden"])


class KwargsNet(nn.Module):
    def __init__(self, hidden=2, **rest):
        super().__init__()
        assert "_instantiator" not in rest and "_class_path" not in rest  # never used from a file
        self.rnn = nn.RNN(D, hidden)


def test_hyper_parameters_are_passed_as_lightning_does(tmp_path):
    config = {"n_in": D, "hidden": 4}
    torch.save({"state_dict": ConfigNet(config).state_dict(), "hyper_parameters": config,
                "hparams_name": "config"}, tmp_path / "config.ckpt")
    assert dynalysis.load_checkpoint(tmp_path / "config.ckpt", module=ConfigNet).state_size == 4
    torch.save({"state_dict": KwargsNet(hidden=5).state_dict(), "hyper_parameters": {
        "hidden": 5, "extra": 1, "_instantiator": "os.system", "_class_path": "os.system"}},
        tmp_path / "kwargs.ckpt")
    assert dynalysis.load_checkpoint(tmp_path / "kwargs.ckpt", module=KwargsNet).state_size == 5
