"""lstm_teach: the LSTM and backpropagation through time, one step at a time, in numpy.

The reference implementation is written to be read: one module per step of the derivation
(params -> activations -> cell -> sequence), every quantity under the seed's name.
lstm_teach.fast computes the same numbers faster.
"""

from . import activations, cell, gradcheck, gru, losses, params, peephole, sequence, stack
from .activations import sigmoid, tanh
from .cell import CellCache, CellGrads, StepGrads, cell_backward, cell_forward
from .losses import linear_backward, linear_forward, mse_loss, softmax, softmax_cross_entropy
from .params import (
    GATES,
    LSTMParams,
    check_params,
    from_fused,
    from_torch_state_dict,
    init_params,
    to_fused,
    to_torch_state_dict,
)
from .sequence import SeqCache, SeqGrads, lstm_backward, lstm_forward
from .stack import (
    StackCache,
    StackGrads,
    init_stack,
    stack_backward,
    stack_forward,
    stack_from_torch_state_dict,
    stack_to_torch_state_dict,
)

__version__ = "0.1.0"

__all__ = [
    "GATES", "CellCache", "CellGrads", "LSTMParams", "SeqCache", "SeqGrads", "StackCache",
    "StackGrads", "StepGrads",
    "activations", "cell", "gru", "peephole",
    "cell_backward", "cell_forward", "check_params", "from_fused", "from_torch_state_dict",
    "gradcheck", "init_params", "linear_backward", "linear_forward", "losses", "lstm_backward",
    "lstm_forward", "mse_loss", "params", "sequence", "sigmoid", "softmax",
    "softmax_cross_entropy", "stack", "stack_backward", "stack_forward",
    "stack_from_torch_state_dict", "stack_to_torch_state_dict", "tanh", "to_fused",
    "to_torch_state_dict", "init_stack",
]


def __getattr__(name):
    # lstm_teach.fast, .train, ... load on first use: `import lstm_teach` stays light, and a
    # module still being written cannot break the reference.
    import importlib

    if name in ("fast", "optim", "train", "datasets", "rnn", "plots", "check", "grading",
                "selfcheck"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'lstm_teach' has no attribute {name!r}")
