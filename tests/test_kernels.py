"""The fast WCRNN recurrence: same states as the step map, same gradients as autograd."""
from __future__ import annotations

import pytest
import torch

from dynalysis.errors import OptionError
from dynalysis.models import build_model
from dynalysis.models._kernels import SCAN_BACKENDS, wcrnn_scan, wcrnn_tangent_step

F64 = torch.float64
B, T, N = 3, 7, 5


def reference(drive, h0, W, eps, R=None, scale=1.0):
    """Plain autograd loop: h_t = ρ(h_{t-1}) + ε tanh(W h_{t-1} + drive_t)."""
    h, out = h0, []
    for d in drive.unbind(1):
        h = (h @ R.T if R is not None else h * scale) + eps * torch.tanh(h @ W.T + d)
        out.append(h)
    return torch.stack(out, 1)


def leaves(residual):
    g = torch.Generator().manual_seed(0)
    drive = torch.randn(B, T, N, generator=g, dtype=F64).requires_grad_()
    h0 = torch.randn(B, N, generator=g, dtype=F64).requires_grad_()
    W = torch.randn(N, N, generator=g, dtype=F64).requires_grad_()
    if residual == "dense":
        return drive, h0, W, {"residual": torch.randn(N, N, generator=g, dtype=F64).requires_grad_()}
    if residual == "vector":
        return drive, h0, W, {"scale": torch.rand(N, generator=g, dtype=F64).requires_grad_()}
    return drive, h0, W, {"scale": torch.tensor(0.9, dtype=F64, requires_grad=True)}


@pytest.mark.parametrize("backend", SCAN_BACKENDS)
@pytest.mark.parametrize("residual", ["scalar", "vector", "dense"])
def test_scan_states_and_gradients_match_autograd(backend, residual):
    drive, h0, W, res = leaves(residual)
    out = wcrnn_scan(drive, h0, W, epsilon=0.3, backend=backend, **res)
    ref = reference(drive, h0, W, 0.3, res.get("residual"), res.get("scale", 1.0))
    torch.testing.assert_close(out, ref, rtol=1e-13, atol=1e-13)
    weights = torch.randn(B, T, N, generator=torch.Generator().manual_seed(2), dtype=F64)
    params = (drive, h0, W, *res.values())
    got = torch.autograd.grad((out * weights).sum(), params)
    want = torch.autograd.grad((ref * weights).sum(), params)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("residual", ["scalar", "dense"])
def test_scan_passes_gradcheck(residual):
    drive, h0, W, res = leaves(residual)
    name, value = next(iter(res.items()))

    def fn(d, h, w, r):
        return wcrnn_scan(d[:, :3], h, w, epsilon=0.3, **{name: r})

    assert torch.autograd.gradcheck(fn, (drive, h0, W, value))


def test_scan_gradients_only_where_asked():
    drive, h0, W, res = leaves("scalar")
    scale = res["scale"].detach()  # a fixed residual (buffer), as in an untrained λ
    out = wcrnn_scan(drive, h0.detach(), W, epsilon=0.3, scale=scale)
    gd, gw = torch.autograd.grad(out.square().sum(), (drive, W))
    ref = reference(drive, h0.detach(), W, 0.3, None, scale)
    rd, rw = torch.autograd.grad(ref.square().sum(), (drive, W))
    torch.testing.assert_close(gd, rd, rtol=1e-11, atol=1e-11)
    torch.testing.assert_close(gw, rw, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("residual,options", [
    ("identity", {"residual_scale": 0.95}),
    ("heterogeneous", {"scale_range": [0.5, 1.0]}),
    ("rotational", {"frequencies": [0.3, 1.1]}),
])
def test_scan_reproduces_the_wcrnn_step_map(residual, options):
    net = build_model("wcrnn", input_size=2, hidden_size=4, epsilon=0.2, seed=3,
                      residual=residual, **options).double()
    x = torch.randn(B, T, 2, generator=torch.Generator().manual_seed(4), dtype=F64)
    h = torch.randn(B, 4, generator=torch.Generator().manual_seed(5), dtype=F64)
    steps, hh = [], h
    for t in range(T):
        hh = net.step(hh, x[:, t])
        steps.append(hh)
    R = net.residual_matrix()
    kw = ({"residual": R} if residual == "rotational" else {"scale": torch.diagonal(R)})
    out = wcrnn_scan(x @ net.V.T + net.b, h, net.W, epsilon=net.epsilon, **kw)
    torch.testing.assert_close(out, torch.stack(steps, 1), rtol=1e-13, atol=1e-13)


def test_scan_keeps_float32():
    net = build_model("wcrnn", input_size=1, hidden_size=4, epsilon=0.1, seed=0)
    x = torch.randn(2, 5, 1)
    out = wcrnn_scan(x @ net.V.T + net.b, torch.zeros(2, 4), net.W, epsilon=0.1)
    assert out.dtype == torch.float32 and out.shape == (2, 5, 4)
    out.sum().backward()
    assert net.W.grad is not None and net.W.grad.dtype == torch.float32


@pytest.mark.parametrize("residual", ["identity", "rotational"])
def test_tangent_step_matches_the_models_and_jacrev(residual):
    extra = {"frequencies": [0.4, 2.0]} if residual == "rotational" else {"residual_scale": 0.9}
    net = build_model("wcrnn", input_size=1, hidden_size=4, epsilon=0.3, seed=1,
                      residual=residual, **extra).double()
    g = torch.Generator().manual_seed(6)
    h = torch.randn(B, 4, generator=g, dtype=F64)
    x = torch.randn(B, 1, generator=g, dtype=F64)
    Q = torch.randn(B, 4, 3, generator=g, dtype=F64)
    R = net.residual_matrix()
    kw = {"residual": R} if residual == "rotational" else {"scale": R[0, 0]}  # λ I
    nxt, JQ = wcrnn_tangent_step(h, x @ net.V.T + net.b, net.W, Q, epsilon=0.3, **kw)
    J = torch.stack([torch.func.jacrev(lambda s: net.step(s[None], x[b:b + 1])[0])(h[b])
                     for b in range(B)])
    torch.testing.assert_close(nxt, net.step(h, x), rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(JQ, J @ Q, rtol=1e-12, atol=1e-12)


def test_invalid_arguments_raise_option_errors():
    d, h0, W = torch.zeros(1, 2, 3), torch.zeros(1, 3), torch.zeros(3, 3)
    with pytest.raises(OptionError, match="backend.*'script', 'python'"):
        wcrnn_scan(d, h0, W, epsilon=0.1, backend="cuda")
    with pytest.raises(OptionError, match="h0"):
        wcrnn_scan(d, torch.zeros(2, 3), W, epsilon=0.1)
    with pytest.raises(OptionError, match="scale"):
        wcrnn_scan(d, h0, W, epsilon=0.1, scale=torch.ones(2))


def test_second_derivatives_raise_instead_of_being_wrong():
    drive, h0, W, res = leaves("scalar")
    out = wcrnn_scan(drive, h0, W, epsilon=0.3, **res)
    (g,) = torch.autograd.grad(out.sum(), W, create_graph=True)
    with pytest.raises(RuntimeError):
        torch.autograd.grad(g.sum(), W)
