"""Files: self-describing NetCDF results, the checkpoint record and loader, sweeps of results."""
from .checkpoint import find_checkpoints as find_checkpoints
from .checkpoint import find_last_checkpoint as find_last_checkpoint
from .checkpoint import load_checkpoint as load_checkpoint
from .netcdf import open_results as open_results
from .netcdf import result_groups as result_groups
from .netcdf import save_results as save_results
from .netcdf import verify_results as verify_results
from .sweep import open_sweep as open_sweep
