#!/usr/bin/env python
"""Device check (issue 20, item 4): the CUDA-marked tests and the large-N engine rows, one command.

    python benchmarks/device_check.py --device cuda            # on a GPU machine
    python benchmarks/device_check.py --device cpu --quick     # smoke test anywhere (< 2 min)

1. Tests: ``pytest -m cuda`` with ``DYNALYSIS_TEST_DEVICE=<device>`` (`tests/test_device.py`:
   the analyses, every cell, both engine paths and QR schedules, from_module on fused
   cuDNN modules, the WCRNN TorchScript loop, training with ``--trainer.accelerator gpu``;
   `tests/test_from_module.py`'s CUDA test). They skip cleanly where the device is absent.
2. Engine rows: WCRNN, ``N = 1024`` and ``4096`` with the full spectrum and ``N = 16384`` with
   ``k = 768`` (the large two skipped under ``--quick`` or on the CPU), float64 and float32,
   1 and 4 trajectories (batched), ``reortho_every`` 1 and ``"auto"``: milliseconds per step
   (difference of windows of 2 and 18 steps, 5 and 37 on a GPU, after a warm-up) against the device's own measured time of
   one ``(N×N)(N×k)`` product + one Householder QR of the ``N×k`` frame per trajectory
   (``roofline``: how close the engine gets to them), beside the published anchor
   (≈ 47 ms/step at N = 4096 full, ≈ 65 ms at N = 16384, k = 768, one GPU; target ≤ half).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import dynalysis  # noqa: E402
from benchmarks._timing import environment, fmt_time  # noqa: E402

ANCHORS_MS = {(4096, 4096): 47.0, (16384, 768): 65.0}  # published PyTorch GPU engine, one GPU


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def best_of(fn, device, repeats: int) -> float:
    fn()  # warm-up (kernels, allocator)
    sync(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def primitives_ms(N: int, k: int, B: int, dtype, device, repeats: int) -> float:
    g = torch.Generator(device="cpu").manual_seed(0)
    W = torch.randn(N, N, generator=g, dtype=dtype).to(device)
    Z = torch.randn(B, N, k, generator=g, dtype=dtype).to(device)

    def gemm_qr():
        a, tau = torch.geqrf(torch.matmul(W, Z))
        return torch.linalg.householder_product(a, tau)

    return 1e3 * best_of(gemm_qr, device, repeats)


def engine_ms(system, N: int, k: int, B: int, dtype, device, reortho, w1: int, w2: int, repeats: int) -> float:
    x = torch.randn(B, w2, 1, generator=torch.Generator().manual_seed(1), dtype=dtype).to(device)

    def run(w):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dynalysis.lyapunov_spectrum(system, x[:, :w], n_exponents=k, transient=1, dtype=dtype,
                                               device=device, reortho_every=reortho, method="tangent")

    t1 = best_of(lambda: run(w1), device, repeats)
    t2 = best_of(lambda: run(w2), device, repeats)
    return 1e3 * max(t2 - t1, 1e-9) / (w2 - w1)


def rows(device: str, quick: bool) -> list[str]:
    from dynalysis import ModuleSystem
    from dynalysis.models import build_model

    gpu = torch.device(device).type == "cuda"
    sizes = [(1024, 1024)] + ([(4096, 4096), (16384, 768)] if gpu and not quick else [])
    batches = (1,) if quick else (1, 4)
    repeats = 1 if quick else 3
    out = ["| N | k | dtype | B | reortho_every | ms/step | GEMM + QR ms (measured) | roofline | anchor | target ≤ |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(out), flush=True)
    for N, k in sizes:
        net = build_model("wcrnn", input_size=1, hidden_size=N, seed=0)
        for dtype in (torch.float64, torch.float32):
            system = ModuleSystem(net).to(dtype=dtype, device=device)
            for B in batches:
                prim = primitives_ms(N, k, B, dtype, device, repeats)
                for reortho in (1, "auto"):
                    # windows long enough for "auto"'s blocks (up to 16 steps) to show
                    w1, w2 = (2, 18) if (quick or not gpu) else (5, 37)
                    ms = engine_ms(system, N, k, B, dtype, device, reortho, w1, w2, repeats)
                    anchor = ANCHORS_MS.get((N, k))
                    a = f"{anchor:g} ms" if anchor else ""
                    tgt = f"{anchor / 2:g} ms" if anchor else ""
                    line = (f"| {N} | {k} | {str(dtype).replace('torch.', '')} | {B} | {reortho} | {ms:.1f} | "
                            f"{prim:.1f} | {prim / ms:.0%} | {a} | {tgt} |")
                    print(line, flush=True)
                    out.append(line)
            del system
        del net
        if gpu:
            torch.cuda.empty_cache()
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default cuda)")
    p.add_argument("--quick", action="store_true", help="N = 1024 only, one trajectory, one repeat")
    p.add_argument("--no-tests", action="store_true", help="benchmark rows only")
    args = p.parse_args(argv)
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        print(f"device_check: {args.device} is not available (torch {torch.__version__}, "
              f"cuda {torch.version.cuda}); use --device cpu", file=sys.stderr)
        return 2
    print(f"# dynalysis device check: {args.device}{' (quick)' if args.quick else ''}\n")
    for v in environment().values():
        print(f"- {v}")
    if torch.device(args.device).type == "cuda":
        print(f"- device: {torch.cuda.get_device_name(args.device)}")
    status = 0
    if not args.no_tests:
        env = dict(os.environ, DYNALYSIS_TEST_DEVICE=args.device,
                   PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        cmd = [sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider",
               "tests/test_device.py", "tests/test_from_module.py"]
        print(f"\n## tests: DYNALYSIS_TEST_DEVICE={args.device} {' '.join(cmd[2:])}\n", flush=True)
        res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        print(res.stdout.strip().splitlines()[-1] if res.stdout.strip() else res.stderr[-2000:])
        if res.returncode not in (0, 5):
            print(res.stdout[-6000:])
            status = 1
    print("\n## engine rows (WCRNN, method=tangent; roofline = measured GEMM + QR time / engine time)\n",
          flush=True)
    t0 = time.perf_counter()
    rows(args.device, args.quick)
    if torch.device(args.device).type != "cuda":
        print("\nGPU rows (N = 4096 full, N = 16384 with k = 768) are not run on the CPU: unmeasured here.")
    print(f"\nrows took {fmt_time(time.perf_counter() - t0)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
