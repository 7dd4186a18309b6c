"""Expand the file arguments users give (files, folders, glob patterns) into a file list."""
from __future__ import annotations

import glob
import os
from pathlib import Path

__all__ = ["expand_paths", "common_folder", "check_pattern"]


def expand_paths(paths, *, suffix: str, error: type[Exception], hint: str = "") -> list[Path]:
    """Sorted, de-duplicated files from files, folders (recursive ``*suffix``) and glob patterns.

    Explicit files are kept as given (a missing one is reported when it is opened); ``**`` in
    a pattern spans folders; files reached twice (e.g. a symlink next to its target) appear
    once. A folder without ``*suffix`` files or a pattern without matches raises ``error``.
    """
    out: list[Path] = []
    for p in [paths] if isinstance(paths, (str, os.PathLike)) else paths:
        p = str(p)
        if glob.has_magic(p):
            check_pattern(p, error)
            found = sorted(Path(m) for m in glob.glob(p, recursive=True) if Path(m).is_file())
            if not found:
                raise error(f"pattern {p!r} matches no file{hint}")
            out += found
        elif Path(p).is_dir():
            found = sorted(Path(p).rglob(f"*{suffix}"))
            if not found:
                raise error(f"{p} contains no {suffix} files{hint}")
            out += found
        else:
            out.append(Path(p))
    unique: dict[Path, Path] = {}
    for f in out:
        unique.setdefault(f.resolve() if f.exists() else f, f)
    return sorted(unique.values())


def check_pattern(pattern: str, error: type[Exception]) -> None:
    """Refuse ``..`` after a wildcard: the matches would not lie below the pattern's fixed
    folder, from which results files are named.

    >>> check_pattern("runs/**/*.ckpt", ValueError)
    >>> check_pattern("runs/*/../*.ckpt", ValueError)
    Traceback (most recent call last):
    ...
    ValueError: pattern 'runs/*/../*.ckpt' has '..' after a wildcard; give a pattern without '..' after its first wildcard
    """
    parts = Path(pattern).parts
    first = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    if ".." in parts[first:]:
        raise error(f"pattern {pattern!r} has '..' after a wildcard; give a pattern without '..' "
                    "after its first wildcard")


def common_folder(paths) -> Path:
    """The deepest folder containing every argument: a pattern counts by the folders before its
    first wildcard, a folder by itself, a file by its parent. It depends only on the arguments,
    not on which files a pattern matches today, so names derived from it stay stable."""
    bases = []
    for p in [paths] if isinstance(paths, (str, os.PathLike)) else paths:
        p = str(p)
        if glob.has_magic(p):
            parts = Path(p).parts
            fixed = next(i for i, part in enumerate(parts) if glob.has_magic(part))
            bases.append(Path(*parts[:fixed]) if fixed else Path("."))
        else:
            bases.append(Path(p) if Path(p).is_dir() else Path(p).parent)
    return Path(os.path.commonpath([os.path.abspath(b) for b in bases]))
