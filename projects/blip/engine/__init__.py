"""Runner pieces (loops, hooks) of the ``blip`` scope."""

from .random_state_hook import RandomStateHook
from .retrieval_loop import RetrievalTestLoop, RetrievalValLoop
from .warmup_param_hook import WarmupParamHook

__all__ = ['RandomStateHook', 'RetrievalTestLoop', 'RetrievalValLoop', 'WarmupParamHook']
