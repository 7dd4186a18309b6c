"""LightningModules and DataModules for training the networks that dynalysis analyses."""
from .data import AddingDataModule as AddingDataModule
from .data import CopyDataModule as CopyDataModule
from .data import DelayedRecallDataModule as DelayedRecallDataModule
from .data import DigitsDataModule as DigitsDataModule
from .data import FlipFlopDataModule as FlipFlopDataModule
from .data import LinearTeacherDataModule as LinearTeacherDataModule
from .data import MNISTDataModule as MNISTDataModule
from .data import NeurogymDataModule as NeurogymDataModule
from .data import TaskDataModule as TaskDataModule
from .data import TomitaDataModule as TomitaDataModule
from .model import SequenceModel as SequenceModel
from .train import RunResult as RunResult
from .train import train_run as train_run
