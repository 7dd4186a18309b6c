"""`from_module`: one call from a trained torch module to a step map every analysis takes."""
from __future__ import annotations

from torch import nn

from ..errors import OptionError, StepMapError
from ..system import ModuleSystem, System
from ._protocol import ProtocolSystem
from ._torch_rnn import TORCH_RECURRENT_MODULES, TorchRNNSystem, _torch_base

__all__ = ["from_module"]


def from_module(module: nn.Module, *, readout=None, step=None, initial_state=None,
                input_size: int | None = None, name: str | None = None, live: bool = False) -> System:
    """The step map of a trained torch module, ready for every analysis.

    Parameters
    ----------
    module : nn.Module
        - ``nn.RNN`` (tanh or relu), ``nn.GRU``, ``nn.LSTM`` with any ``num_layers``,
          ``batch_first`` either way, with or without bias, LSTM ``proj_size`` included; or
          ``nn.RNNCell``, ``nn.GRUCell``, ``nn.LSTMCell``. The state is every layer's ``h``
          (and ``c``), layer-major: ``[h_0 | … | h_{L−1}]`` (``state_size = L·H``), for the
          LSTM ``[h_0 | … | h_{L−1} | c_0 | … | c_{L−1}]`` (``L·(P + H)``, ``2·L·H`` without
          projection). J·Q is analytic.
        - Any other module that advances a state one step: ``module.forward(x_t, state) ->
          state`` (or the method ``step`` names, or ``step(module, x_t, state)``), with
          ``x_t (batch, input_size)`` and a state that is a tensor or a tuple/list/dict of
          ``(batch, …)`` tensors; pass ``initial_state`` (batch 1, in that structure) and
          ``input_size``. J·Q is automatic differentiation.
        - A `dynalysis.models` network: the same as `dynalysis.ModuleSystem`.
    readout : nn.Module or callable, optional
        Map to outputs, e.g. the model's ``nn.Linear`` head: applied to the top layer's ``h``
        ``(batch, P)`` for torch RNNs, to the state in the module's own structure otherwise.
        Enables `dynalysis.memory_kernel` and fixed-point readouts.
    step : str or callable, optional
        Other modules only (default ``"forward"``).
    initial_state : tensor, tuple or dict of tensors, optional
        Other modules only: one state (batch 1) in the module's structure; it is the initial
        state of every trajectory and defines how the state is flattened.
    input_size : int, optional
        Other modules only.
    name : str, optional
        Recorded in results' provenance (default: the module's class name).
    live : bool, default False
        Torch RNNs and `dynalysis.models` networks: compute with the module's parameters
        themselves instead of detached aliases, so that a loss built from the step map (e.g.
        `dynalysis.lyapunov_exponents` for gradient flossing) sends gradients to them. Analyses
        are unaffected; `recurrent_matrix` and `gate_matrices` stay detached.

    Returns
    -------
    System
        `TorchRNNSystem`, `ProtocolSystem` or `dynalysis.ModuleSystem`.

    Raises
    ------
    StepMapError
        For what is not a causal step map: a bidirectional module (its backward direction
        reads the inputs from the end); a subclass of a torch RNN that overrides ``forward``
        without ``step=``. Packed sequences are refused where sequences are passed
        (`TorchRNNSystem.run`): their sequences end at different times.
    OptionError
        For options that do not apply to the module, a missing ``initial_state`` or
        ``input_size``, or a readout that does not fit.

    Notes
    -----
    The module is never modified: no parameter is frozen, its dtype, device and training
    mode stay as they are. The step map reads detached aliases of its weights (in-place
    updates, e.g. optimizer steps, are seen); analyses convert copies to float64 (`to`), so a
    float32 module on a GPU is analysed as it was trained without casting anything. Dropout
    is off (a step map is deterministic): a trained module in training mode is analysed as
    in eval mode.

    A checkpoint of a model this project did not train (a Lightning ``.ckpt`` or a plain
    ``state_dict``) loads in one call with `dynalysis.load_checkpoint` (``module=YourClass,
    rnn="encoder.rnn", readout="head"``): it builds your class, loads the weights, picks the
    submodules by dotted name and calls ``from_module``.

    Examples
    --------
    >>> import torch, dynalysis
    >>> lstm = torch.nn.LSTM(input_size=3, hidden_size=4, num_layers=2, batch_first=True)
    >>> system = dynalysis.from_module(lstm, readout=torch.nn.Linear(4, 2))
    >>> system.state_size, system.output_size  # [h_0, h_1, c_0, c_1]
    (16, 2)
    >>> x = torch.randn(5, 30, 3)
    >>> out, (h_n, c_n) = lstm(x)
    >>> out64, (h64, c64) = system.to(dtype=torch.float64).run(x.double())
    >>> bool(torch.allclose(out64.float(), out, atol=1e-6) and torch.allclose(c64.float(), c_n, atol=1e-6))
    True
    >>> dynalysis.lyapunov_spectrum(system, x, transient=10).sizes["exponent_index"]
    16
    """
    from ..models import RecurrentNet

    if not isinstance(module, nn.Module):
        raise OptionError(f"from_module takes a torch.nn.Module, got {type(module).__name__}")
    protocol = {"step": step, "initial_state": initial_state, "input_size": input_size}
    given = [k for k, v in protocol.items() if v is not None]
    if isinstance(module, RecurrentNet):
        if given or readout is not None:
            raise OptionError(f"a dynalysis.models network steps and reads out itself; "
                              f"{', '.join(given + (['readout'] if readout is not None else []))} "
                              "do not apply")
        return ModuleSystem(module, {"system": "from_module", "module": type(module).__name__,
                                     **module.spec()}, live=live)
    if isinstance(module, TORCH_RECURRENT_MODULES) and step is None:
        base = _torch_base(module)
        if type(module).forward is not base.forward:
            raise StepMapError(
                f"{type(module).__name__} overrides {base.__name__}.forward, which from_module "
                "would ignore (it reads the weights); pass step=, initial_state= and input_size= "
                "to analyse your forward as a step")
        if given:
            raise OptionError(f"{', '.join(given)} apply to modules other than torch's RNNs; a "
                              f"{base.__name__} starts from zeros (layout: "
                              "TorchRNNSystem.pack_state)")
        return TorchRNNSystem(module, readout=readout, name=name, live=live)
    if live:
        raise OptionError(f"live=True applies to torch's RNN modules and dynalysis.models networks, not "
                          f"to {type(module).__name__}; drop live= (its step map computes with copies)")
    missing = [k for k in ("initial_state", "input_size") if protocol[k] is None]
    if missing:
        raise OptionError(
            f"{type(module).__name__} is not one of torch's RNN modules; to analyse it as a step "
            f"map, give {' and '.join(f'{k}=' for k in missing)} (and step= unless forward(x_t, "
            "state) -> state advances it)")
    return ProtocolSystem(module, initial_state=initial_state, input_size=input_size,
                          step="forward" if step is None else step, readout=readout, name=name)
