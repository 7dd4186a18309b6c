"""Tasks (pure torch) shared by the DataModules and the analyses."""
from ._base import SPLITS as SPLITS, TASKS as TASKS, Split as Split, Task as Task
from ._base import build_task as build_task
from ._idx import DataFileError as DataFileError
from ._idx import read_idx as read_idx
from ._idx import write_idx as write_idx
from .adding import AddingTask as AddingTask
from .copy import CopyTask as CopyTask
from .digits import DigitsTask as DigitsTask
from .flipflop import FlipFlopTask as FlipFlopTask
from .memory import DelayedRecallTask as DelayedRecallTask
from .memory import LinearTeacherTask as LinearTeacherTask
from .mnist import MNIST_FILES as MNIST_FILES
from .mnist import MNISTTask as MNISTTask
from .neurogym import NeurogymTask as NeurogymTask
from .tomita import TOMITA_DFAS as TOMITA_DFAS
from .tomita import TomitaTask as TomitaTask
from .tomita import tomita_accepts as tomita_accepts
