"""The architecture's rules, checked on the sources (ast) and on what a process imports.

1. No module under ``dynalysis/`` imports Lightning or ``lightning_modules`` (neither by an
   import statement nor by naming them in ``import_module``/``__import__``).
2. ``lightning_modules/`` and ``analyses/`` use only public dynalysis modules and names (no
   ``dynalysis._x``, ``dynalysis.x._y``, nor ``from dynalysis.x import _y``).
3. The checkpoint record is defined once (`dynalysis.io.record`): no other source spells its
   keys.
4. ``import dynalysis``, ``cli.py --help``, ``cli.py analyze --help`` and ``cli.py plot --help``
   import neither torch nor Lightning.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRAINING = ("lightning", "pytorch_lightning", "lightning_modules", "lightning_fabric")


def _sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _imports(path: Path, package: str | None = None) -> list[tuple[int, str, tuple[str, ...]]]:
    """``(line, module, names)`` of every import in ``path``, including ``import_module("x")``
    and ``__import__("x")`` with a literal name (relative imports resolved in ``package``,
    by default the file's own)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    if package is None:
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.append((node.lineno, base, tuple(a.name for a in node.names)))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__"):
                found.append((node.lineno, node.args[0].value, ()))
    return found


def _top(module: str) -> str:
    return module.split(".")[0]


def test_the_analysis_package_never_imports_training():
    bad = [f"{p.relative_to(ROOT)}:{line} imports {module}"
           for p in _sources("dynalysis") for line, module, _ in _imports(p) if _top(module) in TRAINING]
    assert not bad, bad


def test_the_import_scanner_sees_every_form(tmp_path):
    """The rule above cannot pass vacuously: the scanner finds each way of importing."""
    probe = tmp_path / "probe.py"
    probe.write_text("import lightning_modules\nfrom pytorch_lightning import cli\n"
                     "import importlib\nimportlib.import_module('lightning.pytorch')\n"
                     "__import__('lightning_fabric')\nfrom . import errors\n")
    modules = [m for _, m, _ in sorted(_imports(probe, package="dynalysis"))]
    assert modules == ["lightning_modules", "pytorch_lightning", "importlib", "lightning.pytorch",
                       "lightning_fabric", "dynalysis"]


def _private(module: str, names: tuple[str, ...]) -> bool:
    if _top(module) != "dynalysis":
        return False
    return any(part.startswith("_") for part in module.split(".")) or any(
        n.startswith("_") and n != "__version__" for n in names)


@pytest.mark.parametrize("folder", ["lightning_modules", "analyses"])
def test_training_and_studies_use_only_public_dynalysis_names(folder):
    bad = [f"{p.relative_to(ROOT)}:{line} imports {module} {names or ''}"
           for p in _sources(folder) for line, module, names in _imports(p) if _private(module, names)]
    assert not bad, bad


def test_the_checkpoint_record_is_defined_once():
    """Only `dynalysis/io/record.py` spells the record's keys; the writer and the reader use it."""
    keys = ("format_version", "state_dict_prefix")
    spelled = sorted({str(p.relative_to(ROOT)) for folder in ("dynalysis", "lightning_modules")
                      for p in _sources(folder) for key in keys if f'"{key}"' in p.read_text()})
    assert spelled == ["dynalysis/io/record.py"]
    writer = [m for _, m, names in _imports(ROOT / "lightning_modules" / "model.py")
              if "make_checkpoint_record" in names]
    reader = [m for _, m, names in _imports(ROOT / "dynalysis" / "io" / "checkpoint.py")
              if "read_checkpoint_record" in names]
    assert writer == ["dynalysis.io.record"] and reader == ["dynalysis.io.record"]


HEAVY = ("torch", "lightning", "pytorch_lightning", "lightning_fabric", "lightning_modules")


@pytest.mark.parametrize("argv", [None, ["--help"], ["analyze", "--help"], ["plot", "--help"]],
                         ids=["import", "help", "analyze-help", "plot-help"])
def test_light_entry_points_import_neither_torch_nor_lightning(argv):
    code = ("import sys, dynalysis\n"
            + ("" if argv is None else
               f"sys.argv = ['cli.py', *{argv!r}]\nfrom dynalysis.cli import main\n"
               "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n")
            + f"bad = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
            "assert not bad, bad\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stderr


def test_cli_py_dispatches_plainly():
    """cli.py sends training commands to lightning_modules and the rest to dynalysis.cli."""
    tree = ast.parse((ROOT / "cli.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"lightning_modules.commands", "dynalysis.cli"}


def test_the_console_script_finds_the_training_commands_by_entry_point(tmp_path):
    """`dynalysis` lists and runs the commands of the `dynalysis.commands` group (from a folder
    where no source tree shadows the installed metadata)."""
    script = Path(sys.executable).with_name("dynalysis")
    listed = subprocess.run([str(script), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and "{fit,validate,test,predict,analyze,plot,demo,sweep}" in listed.stdout
    ran = subprocess.run([str(script), "sweep", "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0 and ran.stdout.startswith("usage: cli.py sweep")
    module = subprocess.run([sys.executable, "-m", "lightning_modules", "demo", "--help"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert module.returncode == 0 and "--steps" in module.stdout
