"""Tasks (pure torch) shared by the DataModules and the analyses."""
from ._base import SPLITS as SPLITS, TASKS as TASKS, Split as Split, Task as Task
from ._base import build_task as build_task
from .digits import DigitsTask as DigitsTask
