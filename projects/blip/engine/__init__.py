"""Runner pieces (loops, hooks) of the ``blip`` scope."""

from .random_state_hook import RandomStateHook

__all__ = ['RandomStateHook']
