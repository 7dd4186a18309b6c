"""From checkpoints to results files: the analysis registry, the options of `analyze`, one
checkpoint (`analyze_checkpoint`) and many on Dask (`analyze_checkpoints`)."""
from .analyze import analyze_checkpoint as analyze_checkpoint
from .batch import analyze_checkpoints as analyze_checkpoints
from .options import AnalyzeOptions as AnalyzeOptions
from .registry import ANALYSES as ANALYSES
