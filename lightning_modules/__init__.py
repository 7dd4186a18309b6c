"""LightningModules and DataModules for training the networks that dynalysis analyses.

Names are imported on first use (PEP 562), so the command dispatch (`lightning_modules.commands`,
``python -m lightning_modules``) loads Lightning only when a training command runs.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "AddingDataModule": ".data", "CopyDataModule": ".data", "DelayedRecallDataModule": ".data",
    "DigitsDataModule": ".data", "FlipFlopDataModule": ".data", "LinearTeacherDataModule": ".data",
    "MNISTDataModule": ".data", "NeurogymDataModule": ".data", "TaskDataModule": ".data",
    "TomitaDataModule": ".data",
    "SequenceModel": ".model",
    "GradientFlossing": ".callbacks", "SpectrumMonitor": ".callbacks", "TrainingLossTerm": ".callbacks",
    "RunResult": ".train", "train_run": ".train",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
