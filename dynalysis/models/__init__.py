"""Recurrent networks (pure torch) shared by training and analysis.

Cells by name (`build_model`): "wcrnn" (`WCRNN`), "elman" (`Elman`), "lstm" (`LSTM`),
"gru" (`GRU`), "linear" (`LinearRNN`); `cell_options` lists what a cell accepts and
`check_cell_options` checks option names without building. Initializers:
`dynalysis.models.initializers`.
"""
from . import initializers as initializers
from ._base import MODELS as MODELS
from ._base import RecurrentNet as RecurrentNet
from ._base import build_model as build_model
from ._base import cell_options as cell_options
from ._base import check_cell_options as check_cell_options
from ._base import register_model as register_model
from .ctrnn import CTRNN as CTRNN
from .elman import Elman as Elman
from .gru import GRU as GRU
from .linear import LinearRNN as LinearRNN
from .lru import LRU as LRU
from .lstm import LSTM as LSTM
from .selective_ssm import SelectiveSSM as SelectiveSSM
from .wcrnn import WCRNN as WCRNN
