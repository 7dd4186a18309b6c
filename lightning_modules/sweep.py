"""``cli.py sweep``: a grid of training runs from one config, run here or submitted as jobs.

Each run gets a folder ``OUT/<key=value_...>/`` holding ``config.yaml``: the base config with
the run's values set, resolved by the Lightning CLI parser (``--print_config``), with
``trainer.default_root_dir`` pointing at the folder. Before anything is written (and with
``--dry-run``), every run's config goes through what ``fit`` does before training: parsing,
then instantiating the model, the data module and the trainer, so a value that ``fit`` would
reject (a typo in a number, an unknown cell option) fails the plan, not the run. Every run is
the command ``python -m lightning_modules fit --config OUT/<run>/config.yaml --ckpt_path last``,
so re-running it resumes from its last checkpoint (a finished run returns at once); the local
runner marks finished runs with ``OUT/<run>/done`` and skips them on the next call.
"""
from __future__ import annotations

import contextlib
import copy
import io
import itertools
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dynalysis.cli import user_error
from dynalysis.errors import DynalysisError, OptionError, first_line

from .console import quiet_lightning_console

__all__ = ["run_sweep", "plan_runs", "check_config"]

SEED_KEYS = ("seed_everything", "model.init_args.cell_options.seed", "data.init_args.shuffle_seed")


def _split_values(text: str) -> list[str]:
    """Split on commas outside brackets: ``"1,[2,3],x"`` → ``["1", "[2,3]", "x"]``."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += (ch in "[{") - (ch in "]}")
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [p.strip() for p in parts + [cur]]


def parse_grid(specs: list[str]) -> dict[str, list]:
    """``["a.b=1,2", "c=x"]`` → ``{"a.b": [1, 2], "c": ["x"]}`` (values read as YAML)."""
    import yaml

    grid: dict[str, list] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip() or any(not part for part in key.split(".")):
            raise OptionError(f"invalid --grid {spec!r}; allowed form: dotted.config.key=value1,value2,...")
        if key in grid:
            raise OptionError(f"--grid {key} given twice; list all its values in one --grid")
        try:
            grid[key] = [yaml.safe_load(v) for v in _split_values(values)]
        except yaml.YAMLError as e:
            raise OptionError(f"invalid --grid {spec!r}: a value is not valid YAML ({first_line(e)})") from None
        if any(v == "" or v is None for v in grid[key]):
            raise OptionError(f"invalid --grid {spec!r}: empty value; allowed form: key=value1,value2,...")
    return grid


def parse_seeds(text: str | None) -> list[int]:
    if text is None:
        return []
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise OptionError(f"invalid --seeds {text!r}; allowed: comma-separated integers >= 0") from None
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise OptionError(f"invalid --seeds {text!r}; allowed: distinct integers >= 0")
    return seeds


def _set(config: dict, dotted: str, value) -> None:
    node = config
    *parents, leaf = dotted.split(".")
    for part in parents:
        if not isinstance(node.get(part, {}), dict):
            raise OptionError(f"cannot set {dotted}: {part} is not a section of the config")
        node = node.setdefault(part, {})
    node[leaf] = value


def _label(value) -> str:
    text = json.dumps(value, separators=(",", ":")) if isinstance(value, (list, dict)) else str(value)
    return text.replace("/", "-").replace(" ", "")


def plan_runs(base: dict, grid: dict[str, list], seeds: list[int], out: Path) -> list[tuple[str, dict]]:
    """``[(run name, config), ...]``: one per combination of grid values and seeds.

    The name lists the keys with several values and the seed (``residual_scale=0.9_seed=1``);
    a key given one value is an override of the base config and not part of the name.
    """
    leaves = [k.rsplit(".", 1)[-1] for k in grid]
    names = [leaf if leaves.count(leaf) == 1 else key for key, leaf in zip(grid, leaves)]
    runs = []
    for combo in itertools.product(*grid.values(), *([seeds] if seeds else [])):
        config = copy.deepcopy(base)
        labels = []
        for (key, name), value in zip(zip(grid, names), combo):
            _set(config, key, value)
            if len(grid[key]) > 1:  # single values are plain overrides: not part of the name
                labels.append(f"{name}={_label(value)}")
        if seeds:
            for key in SEED_KEYS:
                _set(config, key, combo[-1])
            labels.append(f"seed={combo[-1]}")
        name = "_".join(labels) or "run"
        _set(config, "trainer.default_root_dir", str((out / name).resolve()))
        runs.append((name, config))
    return runs


class _Checked(Exception):
    """Raised by `_CheckOnlyCLI` where ``fit`` would start training."""


def _check_only_cli():
    from .cli import DynalysisCLI

    class CheckOnlyCLI(DynalysisCLI):
        def before_fit(self) -> None:
            super().before_fit()
            raise _Checked

    return CheckOnlyCLI


def _last_line(text: str, default: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else default


def check_config(config: dict) -> str:
    """The Lightning CLI's resolved ``config`` (``fit --print_config``), after checking that ``fit``
    accepts it: parsed, and the model, data module and trainer instantiated (nothing trains,
    nothing is written). Raises `OptionError` with one line saying what ``fit`` rejects."""
    import yaml

    from .cli import cli_main

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), quiet_lightning_console():
                cli_main(["fit", "--config", str(path), "--print_config"])
        except SystemExit as e:
            if e.code not in (0, None):
                raise OptionError(first_line(ValueError(_last_line(err.getvalue(), f"exit status {e.code}")),
                                             limit=400)) from None
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                    quiet_lightning_console():
                cli_main(["fit", "--config", str(path), "--trainer.logger", "false"], cli_class=_check_only_cli())
        except _Checked:
            pass
        except SystemExit as e:
            raise OptionError(f"the config does not parse (exit status {e.code})") from None
        except Exception as e:  # what `fit` would raise when building the model, data or trainer
            cause = user_error(e)
            if cause is not None:
                raise OptionError(first_line(cause, limit=400)) from None
            while e.__cause__ or e.__context__:  # jsonargparse wraps the constructor's error
                e = e.__cause__ or e.__context__
            raise OptionError(f"{type(e).__name__}: {first_line(e, limit=400)}") from None
    return out.getvalue()


def _command(config: Path) -> list[str]:
    return [sys.executable, "-m", "lightning_modules", "fit", "--config", str(config.resolve()),
            "--ckpt_path", "last"]


def run_sweep(config: Path, grid_specs: list[str], seeds: str | None, out: Path, *,
              dry_run: bool = False, print_commands: bool = False) -> int:
    """Plan, check, write and (unless told otherwise) train every run; returns the exit status."""
    import yaml

    if not config.is_file():
        raise OptionError(f"--config {config}: no such file")
    try:
        base = yaml.safe_load(config.read_text())
    except yaml.YAMLError as e:
        raise OptionError(f"--config {config} is not valid YAML ({first_line(e)})") from None
    if not isinstance(base, dict):
        raise OptionError(f"--config {config} does not hold a mapping of config sections")
    runs = plan_runs(base, parse_grid(grid_specs), parse_seeds(seeds), out)
    log = sys.stderr if print_commands else sys.stdout
    print(f"sweep: {len(runs)} runs under {out}; checking their configs with the Lightning CLI", file=log, flush=True)
    resolved = []
    for name, cfg in runs:
        try:
            resolved.append(check_config(cfg))
        except OptionError as e:
            raise OptionError(f"run {name}: invalid config ({e})") from None
    folders = [out / name for name, _ in runs]
    for folder, text in zip(folders, resolved):
        saved = folder / "config.yaml"
        if saved.exists() and saved.read_text() != text:
            raise DynalysisError(f"{saved} exists with another config; use another --out, or delete the folder")
    if dry_run:
        for folder in folders:
            print(f"{folder.name}: {shlex.join(_command(folder / 'config.yaml'))}")
        print(f"dry run: {len(runs)} configs checked, nothing written")
        return 0
    for folder, text in zip(folders, resolved):
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "config.yaml").exists():
            (folder / "config.yaml").write_text(text)
    if print_commands:
        for folder in folders:
            print(shlex.join(_command(folder / "config.yaml")))
        return 0
    return _train_all(folders)


def _train_all(folders: list[Path]) -> int:
    failed = skipped = 0
    for i, folder in enumerate(folders, 1):
        head = f"[{i}/{len(folders)}] {folder.name}"
        if (folder / "done").exists():
            skipped += 1
            print(f"{head}: skipped (finished earlier)", flush=True)
            continue
        print(f"{head}: training (log: {folder / 'train.log'})", flush=True)
        start = time.perf_counter()
        with open(folder / "train.log", "a") as logfile:
            rc = subprocess.call(_command(folder / "config.yaml"), stdout=logfile, stderr=subprocess.STDOUT)
        if rc == 0:
            (folder / "done").write_text(f"finished {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
            print(f"{head}: done ({time.perf_counter() - start:.0f} s)", flush=True)
        else:
            failed += 1
            tail = [ln for ln in (folder / "train.log").read_text().splitlines() if ln.strip()][-1:]
            print(f"{head}: failed (exit status {rc}): {tail[0] if tail else ''}", file=sys.stderr, flush=True)
    print(f"sweep: {len(folders) - failed - skipped} done, {skipped} skipped (finished earlier), {failed} failed")
    return 1 if failed else 0
