"""The analyses, every cell, from_module and training on an accelerator (marker ``cuda``).

These tests run on the device named by ``DYNALYSIS_TEST_DEVICE`` (default ``cuda``) and skip
cleanly when it is not available, so ``pytest`` on a CPU-only machine skips them and
``benchmarks/device_check.py --device cuda`` runs them on a GPU. ``--device cpu`` runs the
same tests on the CPU (every tensor is created on the parameterised device, so CPU-only
assumptions show up as device mismatches there too, or as tensors left on the CPU).
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import dynalysis
from dynalysis import ModuleSystem
from dynalysis.models import build_model

DEVICE = os.environ.get("DYNALYSIS_TEST_DEVICE", "cuda")
AVAILABLE = DEVICE == "cpu" or (DEVICE.startswith("cuda") and torch.cuda.is_available())
pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not AVAILABLE, reason=f"device {DEVICE!r} not available "
                                                       "(set DYNALYSIS_TEST_DEVICE, or run benchmarks/device_check.py)")]
CELLS = ("wcrnn", "elman", "lstm", "gru", "linear", "ctrnn", "lru", "ssm")
F64 = torch.float64


def _x(B=2, T=60, d=1, device=DEVICE):
    return torch.randn(B, T, d, generator=torch.Generator().manual_seed(1), dtype=F64).to(device)


@pytest.mark.parametrize("cell", CELLS)
def test_every_cell_runs_the_engine_on_the_device_and_matches_the_cpu(cell):
    system = ModuleSystem(build_model(cell, input_size=1, hidden_size=6, output_size=1, seed=0))
    x = _x()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        on = dynalysis.lyapunov_spectrum(system, x, transient=5, device=DEVICE)
        ref = dynalysis.lyapunov_spectrum(system, x.cpu(), transient=5)
    np.testing.assert_allclose(on.exponent.values, ref.exponent.values, rtol=0, atol=1e-10)
    dev = system.to(dtype=F64, device=DEVICE)
    h = dev.initial_state(2, dtype=F64, device=DEVICE)
    nxt, JQ = dev.tangent_step(h, x[:, 0], torch.eye(dev.state_size, dtype=F64, device=DEVICE).expand(2, -1, -1))
    assert nxt.device.type == torch.device(DEVICE).type and JQ.device.type == torch.device(DEVICE).type


@pytest.mark.parametrize("reortho_every", [1, "auto"])
@pytest.mark.parametrize("method", ["tangent", "jacobian"])
def test_both_engine_paths_and_schedules_on_the_device(method, reortho_every):
    system = ModuleSystem(build_model("wcrnn", input_size=1, hidden_size=8, seed=0))
    x = _x(B=3, T=80)
    on = dynalysis.lyapunov_spectrum(system, x, transient=5, device=DEVICE, method=method,
                                     reortho_every=reortho_every)
    ref = dynalysis.lyapunov_spectrum(system, x.cpu(), transient=5, method=method, reortho_every=reortho_every)
    np.testing.assert_allclose(on.exponent.values, ref.exponent.values, rtol=0, atol=1e-10)


def test_the_analyses_run_on_the_device():
    system = ModuleSystem(build_model("wcrnn", input_size=1, hidden_size=6, output_size=1, seed=0))
    x = _x()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jac = dynalysis.jacobian_eigenvalues(system, x, every=10, device=DEVICE)
        ref = dynalysis.jacobian_eigenvalues(system, x.cpu(), every=10)
        np.testing.assert_allclose(np.sort_complex(jac.eigenvalue.values.ravel()),
                                   np.sort_complex(ref.eigenvalue.values.ravel()), atol=1e-10)
        ker = dynalysis.memory_kernel(system, x, max_lag=5, device=DEVICE)
        np.testing.assert_allclose(ker.kernel.values, dynalysis.memory_kernel(system, x.cpu(), max_lag=5).kernel.values,
                                   atol=1e-10)
        fps = dynalysis.find_fixed_points(system, x, n_starts=8, seed=0, device=DEVICE)
        assert fps.sizes["fixed_point"] >= 1
        cap = dynalysis.memory_capacity(system, max_lag=5, steps=400, seed=0, device=DEVICE)
        assert np.isfinite(float(cap.memory_capacity))


@pytest.mark.parametrize("kind", [nn.RNN, nn.GRU, nn.LSTM])
def test_from_module_on_fused_device_modules(kind):
    """torch's fused (cuDNN on a GPU) modules: the step map computes from their weights with an
    analytic J·Q, so no forward-mode derivative of a cuDNN kernel is ever needed."""
    torch.manual_seed(0)
    module = kind(1, 5, num_layers=2, batch_first=True).to(DEVICE)
    system = dynalysis.from_module(module)
    x = _x(T=50)
    on = dynalysis.lyapunov_spectrum(system, x, transient=5, device=DEVICE)
    cpu = kind(1, 5, num_layers=2, batch_first=True)
    cpu.load_state_dict({k: v.cpu() for k, v in module.state_dict().items()})
    ref = dynalysis.lyapunov_spectrum(dynalysis.from_module(cpu), x.cpu(), transient=5)
    np.testing.assert_allclose(on.exponent.values, ref.exponent.values, rtol=0, atol=1e-9)


class _WrapsFusedLSTM(nn.Module):
    """A user module stepping a fused ``nn.LSTM`` one step at a time (the step protocol):
    its J·Q is forward-mode AD through the fused kernel (cuDNN on a GPU)."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(1, 40, batch_first=True)

    def forward(self, x, state):
        h, c = state
        _, (h, c) = self.lstm(x[:, None], (h[None], c[None]))
        return h[0], c[0]


def test_a_user_module_around_a_fused_lstm_runs_on_the_device():
    torch.manual_seed(0)
    module = _WrapsFusedLSTM().to(device=DEVICE, dtype=F64)
    z = torch.zeros(1, 40, dtype=F64, device=DEVICE)
    system = dynalysis.from_module(module, initial_state=(z, z), input_size=1)
    with warnings.catch_warnings():  # on a GPU: the cuDNN fallback's warning, if cuDNN refuses
        warnings.simplefilter("ignore")
        ds = dynalysis.lyapunov_spectrum(system, _x(B=1, T=20), transient=2, device=DEVICE, n_exponents=4,
                                         method="tangent")
    assert np.all(np.isfinite(ds.exponent.values))


def test_the_wcrnn_torchscript_training_loop_runs_on_the_device():
    from dynalysis.models._kernels import wcrnn_scan

    g = torch.Generator().manual_seed(0)
    drive = torch.randn(3, 20, 6, generator=g).to(DEVICE).requires_grad_(True)
    h0 = torch.zeros(3, 6, device=DEVICE)
    W = (0.3 * torch.randn(6, 6, generator=g)).to(DEVICE).requires_grad_(True)
    H = wcrnn_scan(drive, h0, W, epsilon=0.1, scale=0.9, backend="script")
    H.square().sum().backward()
    ref_drive, ref_W = drive.detach().cpu().requires_grad_(True), W.detach().cpu().requires_grad_(True)
    wcrnn_scan(ref_drive, h0.cpu(), ref_W, epsilon=0.1, scale=0.9, backend="python").square().sum().backward()
    assert H.device.type == torch.device(DEVICE).type and W.grad.device.type == torch.device(DEVICE).type
    torch.testing.assert_close(W.grad.cpu(), ref_W.grad, rtol=1e-4, atol=1e-5)


def test_training_runs_on_the_accelerator(tmp_path):
    """``--trainer.accelerator gpu`` (here: the device's accelerator) trains the shipped WCRNN."""
    from lightning_modules.cli import cli_main

    accelerator = "gpu" if torch.device(DEVICE).type == "cuda" else "cpu"
    cli_main(["fit", "--config", "configs/wcrnn_digits.yaml", "--trainer.default_root_dir", str(tmp_path),
              "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "1",
              "--trainer.accelerator", accelerator, "--trainer.devices", "1",
              "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
              "--model.init_args.hidden_size", "8", "--data.init_args.order", "row"])
    (ckpt,) = tmp_path.rglob("*.ckpt")
    net = dynalysis.load_checkpoint(ckpt)
    assert net.state_size == 8

