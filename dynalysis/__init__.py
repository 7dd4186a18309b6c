"""dynalysis: recurrent neural networks analysed as dynamical systems.

Every analysis takes a step map (`load_checkpoint` or `MapSystem`) and returns a labelled
`xarray.Dataset`; `save_results` writes it to NetCDF.
"""
__version__ = "0.1.0"

from ._analyze import analyze_checkpoint as analyze_checkpoint
from ._batch import analyze_checkpoints as analyze_checkpoints
from ._checkpoint import find_checkpoints as find_checkpoints
from ._checkpoint import find_last_checkpoint as find_last_checkpoint
from ._checkpoint import load_checkpoint as load_checkpoint
from ._errors import CheckpointError as CheckpointError
from ._errors import DynalysisError as DynalysisError
from ._errors import OptionError as OptionError
from ._errors import ResultsFileError as ResultsFileError
from ._fisher_memory import fisher_memory_curve as fisher_memory_curve
from ._fixed_points import find_fixed_points as find_fixed_points
from ._io import open_results as open_results
from ._io import result_groups as result_groups
from ._io import save_results as save_results
from ._io import verify_results as verify_results
from ._jacobian import jacobian_eigenvalues as jacobian_eigenvalues
from ._lyapunov import kaplan_yorke_dimension as kaplan_yorke_dimension
from ._lyapunov import lyapunov_spectrum as lyapunov_spectrum
from ._memory import memory_kernel as memory_kernel
from ._memory_capacity import memory_capacity as memory_capacity
from ._nonnormality import NumericalReliabilityWarning as NumericalReliabilityWarning
from ._nonnormality import nonnormality as nonnormality
from ._sweep import open_sweep as open_sweep
from ._system import MapSystem as MapSystem
from ._system import ModuleSystem as ModuleSystem
from ._system import System as System
from ._inputs import task_inputs as task_inputs
from ._validate import zero_inputs as zero_inputs
