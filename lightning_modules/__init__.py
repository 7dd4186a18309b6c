"""LightningModules and DataModules for training the networks that dynalysis analyses."""
from .data import DigitsDataModule as DigitsDataModule, TaskDataModule as TaskDataModule
from .model import SequenceModel as SequenceModel
