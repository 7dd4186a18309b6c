#!/usr/bin/env python
"""Speed-up of a multi-checkpoint analysis on 2 Dask workers over 1 (issue 9).

    python benchmarks/sweep_scaling.py            # 8 checkpoints, WCRNN N = 64, 2000 steps
    python benchmarks/sweep_scaling.py --quick    # 4 checkpoints, 500 steps

Each measurement is one `dynalysis.analyze_checkpoints` call into a fresh folder, from start
to summary. "Warm": on already started clusters of 1 and 2 workers (`dynalysis.pipeline.batch.local_cluster`) (what a long sweep sees,
the start-up amortised), timed interleaved, fastest repeat kept. "Cold": ``workers=N``
starting its own cluster (worker processes and their imports included), one run each. The
in-process run (``workers=0``, no Dask) is shown for reference. The checkpoints are untrained
WCRNNs in the format `lightning_modules.SequenceModel` writes (training does not change the
cost of the analysis). `sweep_scaling(quick)` returns the rows for ``benchmarks/run.py``.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import dynalysis  # noqa: E402
from dynalysis.pipeline.batch import local_cluster  # noqa: E402
from dynalysis.models import build_model  # noqa: E402
from dynalysis.tasks import build_task  # noqa: E402
from benchmarks._timing import Row, environment, fastest, fmt_time, table, timed  # noqa: E402


def make_checkpoints(folder: Path, n: int, hidden_size: int) -> list[Path]:
    """``n`` WCRNN checkpoints (residual λ from 0.9 to 1.1, seeds 0..n-1) on pixel-wise digits."""
    task = build_task("digits")
    paths = []
    for i in range(n):
        lam = 0.9 + 0.2 * i / max(n - 1, 1)
        net = build_model("wcrnn", input_size=task.input_size, hidden_size=hidden_size,
                                           output_size=task.output_size, epsilon=0.1, residual="identity",
                                           residual_scale=lam, seed=i)
        record = {"format_version": 1, "model": net.spec(), "state_dict_prefix": "net.",
                  "task": task.spec(), "training": {"optimizer": "adam", "lr": 1e-3}}
        path = folder / f"run{i}" / "model.ckpt"
        path.parent.mkdir(parents=True)
        torch.save({"epoch": 0, "global_step": 0, "dynalysis": record,
                    "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()}}, path)
        paths.append(path)
    return paths


def sweep_scaling(quick: bool) -> list[Row]:
    """Two rows: warm clusters (workers started and imported; large sweeps) and cold, end to end."""
    n, steps, repeats = (4, 500, 1) if quick else (8, 2000, 2)
    hidden = 64
    options = dict(analyses="lyapunov", steps=steps, transient=100, n_trajectories=8)
    case = f"{n} checkpoints, WCRNN N={hidden}, Lyapunov, 8 × {steps} steps"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_checkpoints(tmp / "runs", n, hidden)
        pattern = str(tmp / "runs" / "**" / "*.ckpt")
        counter = iter(range(10**6))

        def run(**how):
            def go():
                outcomes = dynalysis.analyze_checkpoints(pattern, tmp / f"out{next(counter)}", progress=False,
                                                         **how, **options)
                assert all(o.status == "done" for o in outcomes), outcomes
            return go

        with local_cluster(1) as one, local_cluster(2) as two:
            warm = fastest({"1": run(scheduler=one.scheduler_address),
                            "2": run(scheduler=two.scheduler_address)}, repeats)
        cold = {w: timed(run(workers=int(w)))[0] for w in ("1", "2")}
        in_process = fastest({"0": run(workers=0)}, 1)["0"]
    rows = []
    for label, t in (("warm cluster", warm), ("cold start, end to end", cold)):
        ratio = t["1"] / t["2"]
        rows.append(Row("Sweep", f"{case}: 2 workers vs 1, {label}", f"1 worker: {fmt_time(t['1'])}",
                        f"2 workers: {fmt_time(t['2'])}", ratio,
                        "≥ 1.5 with 2 free cores" if label == "warm cluster" else "informational",
                        ratio >= 1.5 if label == "warm cluster" else None,
                        f"in-process (--workers 0): {fmt_time(in_process)}" if label == "warm cluster"
                        else "includes starting the workers and their imports"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sweep, a smoke test")
    args = parser.parse_args(argv)
    for key, value in environment().items():
        print(f"- {key}: {value}")
    print()
    print(table(sweep_scaling(args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
