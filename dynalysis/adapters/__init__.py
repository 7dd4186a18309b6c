"""Your own torch network as a step map: `from_module`.

- ``nn.RNN`` (tanh, relu), ``nn.GRU``, ``nn.LSTM`` (any ``num_layers``, ``batch_first``,
  with or without bias, LSTM ``proj_size``) and ``nn.RNNCell``/``GRUCell``/``LSTMCell``:
  `TorchRNNSystem`, an analytic J·Q from the module's weights;
- any other ``nn.Module`` that advances a state (``forward(x_t, state) -> state`` or a
  method you name), with a tensor, tuple or dict state: `ProtocolSystem`;
- a `dynalysis.models` network: `dynalysis.ModuleSystem`.

The module is never modified; analyses run in float64 on converted copies of its weights.
"""
from ._from_module import from_module as from_module
from ._protocol import ProtocolSystem as ProtocolSystem
from ._protocol import StateLayout as StateLayout
from ._torch_rnn import TorchRNNSystem as TorchRNNSystem

__all__ = ["from_module", "TorchRNNSystem", "ProtocolSystem", "StateLayout"]
