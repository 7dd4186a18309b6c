"""What a sweep does with a file already at one of its targets: nothing is ever lost.

`inspect_target` decides from the file itself, before any work:

- nothing there, or an empty file: write it;
- a results file that this tool wrote (its root attributes say so: ``analysis = "analyze"``,
  ``request``, ``checkpoint_sha256``) from the same checkpoint bytes with the same options:
  (and the same ``inputs`` file bytes, or task data for both): skip it when it holds every requested analysis (or records why one failed), otherwise
  extend it with the missing ones, keeping the groups it has (verified against their
  checksums first);
- one of ours that is damaged (a checksum mismatch): redo it;
- anything else is refused, never replaced: a file this tool did not write (the user's own
  NetCDF file, a text file, a file too damaged to say who wrote it), or one of ours computed
  from another version of the checkpoint or with other options. ``overwrite=True`` replaces
  them.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..errors import DynalysisError, ResultsFileError, first_line
from .options import AnalyzeOptions

__all__ = ["Target", "inspect_target", "written_by_analyze"]


@dataclasses.dataclass(frozen=True)
class Target:
    """``action``: ``"write"``, ``"skip"``, ``"extend"`` (keep ``keep``), ``"redo"`` or
    ``"refuse"``; ``reason`` says why (for redo and refuse)."""

    action: str
    reason: str = ""
    keep: tuple[str, ...] = ()
    failed: dict = dataclasses.field(default_factory=dict)


def written_by_analyze(attrs: dict) -> bool:
    """Whether root attributes are those of a results file written by `analyze_checkpoint`."""
    return attrs.get("analysis") == "analyze" and "request" in attrs and "checkpoint_sha256" in attrs


def _refuse(out: Path, why: str) -> Target:
    return Target("refuse", f"{out} exists and {why}; it was left untouched (move it away, or pass "
                  "overwrite=True to replace it)")


def inspect_target(out: Path, options: AnalyzeOptions, checkpoint_sha: str,
                   inputs_sha: str | None = None) -> Target:
    """What to do with the target ``out`` of a checkpoint whose bytes hash to ``checkpoint_sha``,
    driven by the ``inputs`` file whose bytes hash to ``inputs_sha`` (None: the task data)."""
    from ..io.netcdf import read_root_attrs, verify_results

    if not out.exists() and not out.is_symlink():
        return Target("write")
    if not out.exists():
        return _refuse(out, "is a broken symbolic link")
    if out.is_dir():
        return _refuse(out, "is a directory")
    if out.stat().st_size == 0:
        return Target("redo", f"{out} was empty")
    try:
        attrs = read_root_attrs(out)
    except ResultsFileError as e:
        return _refuse(out, f"is not a results file of this tool ({first_line(e)})")
    if not written_by_analyze(attrs):
        return _refuse(out, "was not written by `analyze` (its attributes do not say so)")
    try:
        stored = AnalyzeOptions.from_request(attrs["request"])
        failed = json.loads(attrs.get("failed_analyses") or "{}")
    except (DynalysisError, ValueError, TypeError) as e:
        return _refuse(out, f"records options this version cannot read ({first_line(e)})")
    present = tuple(g for g in stored.analyses if g not in failed)
    try:
        verify_results(out, groups=present)
    except ResultsFileError as e:
        return Target("redo", first_line(e))
    if attrs.get("checkpoint_sha256") != checkpoint_sha:
        return _refuse(out, "was computed from another version of the checkpoint")
    if attrs.get("inputs_sha256") != inputs_sha:
        return _refuse(out, "was computed on other input sequences" if inputs_sha and attrs.get("inputs_sha256")
                       else "was computed on " + ("task data, not an inputs file" if inputs_sha else "an inputs file"))
    diff = options.differences(stored)
    if diff:
        return _refuse(out, f"was computed with other options ({', '.join(diff)}); use another "
                       "out_dir to keep both")
    if not set(options.analyses) - set(present) - set(failed):
        return Target("skip")
    return Target("extend", keep=present, failed=dict(failed))
