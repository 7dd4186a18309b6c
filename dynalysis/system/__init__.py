"""The step map: the one contract between trained networks and every analysis.

`System` is the abstract step map ``h_t = F(h_{t-1}, x_t)`` (batched, ``(batch, state_size)``);
`MapSystem` wraps a hand-written torch function, `ModuleSystem` a network of
`dynalysis.models`, and `dynalysis.from_module` a torch module such as ``nn.LSTM``.
`dynalysis.testing.check_system` checks the contract.
"""
from ._base import System as System
from ._base import differentiable_tangents as differentiable_tangents
from ._base import jacobian_reverse as jacobian_reverse
from ._map import MapSystem as MapSystem
from ._module import ModuleSystem as ModuleSystem

__all__ = ["System", "MapSystem", "ModuleSystem", "jacobian_reverse", "differentiable_tangents"]
