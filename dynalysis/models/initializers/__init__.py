"""Initializers for recurrent and input matrices, pure torch, usable on their own.

Each returns a new matrix (row = receiving unit); random ones take ``generator=`` and all take
``dtype=``. Cells select them by name through their ``init`` / ``input_init`` options
(`recurrent_init`, `input_init`).

>>> from dynalysis.models import initializers as I
>>> I.chain(3, alpha=1.0)
tensor([[0., 0., 0.],
        [1., 0., 0.],
        [0., 1., 0.]])
"""
from ._chain import antisymmetric_ramp as antisymmetric_ramp
from ._chain import chain as chain
from ._chain import chain_feedback as chain_feedback
from ._chain import mixed as mixed
from ._chain import source_input as source_input
from ._common import make_generator as make_generator
from ._dense import identity as identity
from ._dense import kaiming as kaiming
from ._dense import normal as normal
from ._dense import np_rnn as np_rnn
from ._dense import orthogonal as orthogonal
from ._dense import uniform as uniform
from ._dense import xavier as xavier
from ._eigen import blockdiag_rotations as blockdiag_rotations
from ._eigen import eigen as eigen
from ._registry import INPUT_INITS as INPUT_INITS
from ._registry import RECURRENT_INITS as RECURRENT_INITS
from ._registry import input_init as input_init
from ._registry import recurrent_init as recurrent_init
from ._residual import LINEAR_RESIDUALS as LINEAR_RESIDUALS
from ._residual import heterogeneous_scales as heterogeneous_scales
from ._residual import residual_matrix as residual_matrix
from ._residual import rotational as rotational
from ._residual import wcrnn as wcrnn
