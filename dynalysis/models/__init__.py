"""Recurrent networks (pure torch) shared by training and analysis."""
from ._base import MODELS as MODELS, RecurrentNet as RecurrentNet, build_model as build_model
from .wcrnn import WCRNN as WCRNN
