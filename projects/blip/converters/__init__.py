"""Converters of other projects' checkpoints to our parameter names."""

from .hf_blip import TASKS, guess_hf_task, hf_blip_to_blip, is_hf_blip

__all__ = ['TASKS', 'guess_hf_task', 'hf_blip_to_blip', 'is_hf_blip']
