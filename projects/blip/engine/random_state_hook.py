"""Save the random number generators with each checkpoint; restore them on resume.

mmengine seeds the generators once when a run starts, so a resumed run would
draw other dropout masks and data orders than the uninterrupted run. With this
hook a run killed after a checkpoint and resumed with ``--resume`` continues
with the same random streams and ends with the same weights and metrics.
"""

import random

import numpy as np
import torch
from mmengine.hooks import Hook

from blip.registry import HOOKS


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Store python, numpy and torch generator states in ``checkpoint['rng_state']``."""

    priority = 'VERY_LOW'

    def __init__(self):
        self._loaded_state = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        python_state = random.getstate()
        numpy_state = np.random.get_state()
        checkpoint['rng_state'] = {
            'python': [python_state[0], list(python_state[1]), python_state[2]],
            'numpy': [numpy_state[0], numpy_state[1], *numpy_state[2:]],
            'torch': torch.get_rng_state(),
            'cuda': torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded_state = checkpoint.get('rng_state')

    def before_train(self, runner) -> None:
        # Only a resumed run continues the streams; load_from starts afresh.
        state, self._loaded_state = self._loaded_state, None
        if state is None or not getattr(runner, '_resume', False):
            return
        python_state = state['python']
        random.setstate((python_state[0], tuple(python_state[1]), python_state[2]))
        np.random.set_state(tuple(state['numpy']))
        torch.set_rng_state(state['torch'])
        if state['cuda'] and torch.cuda.is_available() and len(state['cuda']) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state['cuda'])
