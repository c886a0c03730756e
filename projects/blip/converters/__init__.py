"""Converters of other projects' checkpoints and configs to ours."""

from .hf_blip import TASKS, guess_hf_task, hf_blip_to_blip, is_hf_blip
from .mmpretrain_config import mmpretrain_model_config

__all__ = ['TASKS', 'guess_hf_task', 'hf_blip_to_blip', 'is_hf_blip', 'mmpretrain_model_config']
