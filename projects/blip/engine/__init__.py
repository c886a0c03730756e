"""Runner pieces (loops, hooks) of the ``blip`` scope."""

from .corpus_epoch_hook import CorpusEpochHook
from .random_state_hook import RandomStateHook
from .retrieval_loop import RetrievalTestLoop, RetrievalValLoop
from .warmup_param_hook import WarmupParamHook

__all__ = ['CorpusEpochHook', 'RandomStateHook', 'RetrievalTestLoop', 'RetrievalValLoop', 'WarmupParamHook']
