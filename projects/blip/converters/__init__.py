"""Converters of other projects' checkpoints and configs to ours.

Our checkpoint format is mmpretrain's parameter names. The authors' official
BLIP checkpoints (:mod:`.official`) and Hugging Face's ``Blip*`` models
(:mod:`.hf_blip`) are converted by pure ``state_dict -> state_dict``
functions; :func:`to_blip` recognises the format and converts any of them.
Our pre-training model (:class:`~blip.models.BlipPretrain`) has a format of
its own (its attribute names): the official pre-training checkpoints convert
into it, and its checkpoints into every task model as the official ones do
(:mod:`.official_pretrain`, which registers the task ``'pretrain'`` with
:mod:`.official`).
"""

from collections.abc import Mapping

from torch import Tensor

from . import official_pretrain
from .hf_blip import TASKS, guess_hf_task, hf_blip_to_blip, is_hf_blip
from .mmpretrain_config import mmpretrain_model_config
from .official import (
    CLASSES,
    CONVERSIONS,
    MODULE_TABLES,
    TASK_MODELS,
    NotConvertibleError,
    explain_official,
    is_official_blip,
    module_towers,
    official_class,
    official_to_blip,
    pretraining_conversion,
    register_task,
    text_derived,
)
from .official_pretrain import is_blip_pretrain, pretrain_to_official, pretrain_to_task

#: Checkpoint formats :func:`to_blip` reads.
FORMATS = ('blip', 'official', 'hf', 'blip-pretrain')


def checkpoint_format(state_dict: Mapping[str, Tensor]) -> str:
    """``'official'`` (Salesforce BLIP), ``'hf'`` (transformers), ``'blip-pretrain'``
    (our pre-training model's) or ``'blip'`` (ours, mmpretrain's names)."""
    if is_official_blip(state_dict):
        return 'official'
    if is_hf_blip(state_dict):
        return 'hf'
    if is_blip_pretrain(state_dict):
        return 'blip-pretrain'
    return 'blip'


def to_blip(state_dict: Mapping[str, Tensor], task: str) -> Mapping[str, Tensor]:
    """``state_dict`` in our format for the model of ``task``: converted from an
    official or a Hugging Face BLIP state dict, or ``state_dict`` itself when
    it is ours already.

    Raises:
        ValueError: The state dict does not convert (the message names the keys,
            or what the checkpoint is and what the task takes).
    """
    kind = checkpoint_format(state_dict)
    if kind == 'official':
        return official_to_blip(state_dict, task)
    if kind == 'blip-pretrain':
        return state_dict if task == official_pretrain.TASK else pretrain_to_task(state_dict, task)
    if kind == 'hf':
        if task not in TASKS:
            raise NotConvertibleError(
                f'this is {describe(state_dict)}; transformers has no BLIP model for task {task!r} '
                f'(it has {sorted(TASKS)})'
            )
        return hf_blip_to_blip(state_dict, task)
    return state_dict


def describe(state_dict: Mapping[str, Tensor]) -> str:
    """What a BLIP state dict is, in words: its format, model and image tower."""
    kind = checkpoint_format(state_dict)
    if kind == 'official':
        return f'an official BLIP {official_class(state_dict).name} checkpoint{_vit(state_dict)}'
    if kind == 'blip-pretrain':
        return f'a BlipPretrain checkpoint{_vit(state_dict)}'
    if kind == 'hf':
        task = guess_hf_task(state_dict)
        model = TASKS[task].hf_model if task in TASKS else 'BLIP'
        return f'a Hugging Face {model} checkpoint{_vit(state_dict)}'
    tops = {key.split('.', 1)[0] for key in state_dict}
    for top, model in OUR_MODULES.items():
        if top in tops:
            return f'a {model} checkpoint{_vit(state_dict)}'
    return 'not a BLIP checkpoint (none of the BLIP models has its keys)'


#: A module only one of our task models has (checkpoint names) -> the model.
OUR_MODULES = {
    'seq_gen_head': 'BlipCaption',
    'vqa_head': 'BlipVQA',
    'multimodal_head': 'BlipRetrieval',
    'grounding_head': 'BlipGrounding',
    'head': 'BlipNLVR',
    'image_encoder': 'BlipFeatureExtractor',
}


def _vit(state_dict: Mapping[str, Tensor]) -> str:
    """``' (ViT-B, 768-d image tokens)'`` from the first position embeddings found."""
    pos_embed = next(
        (v for k, v in state_dict.items() if k.endswith(('pos_embed', 'position_embedding'))), None
    )
    if pos_embed is None:
        return ''
    width = pos_embed.shape[-1]
    return f' ({VIT_NAMES.get(width, "ViT")}, {width}-d image tokens)'


#: Image token width -> the ViT it is.
VIT_NAMES = {768: 'ViT-B', 1024: 'ViT-L'}

__all__ = [
    'CLASSES',
    'CONVERSIONS',
    'FORMATS',
    'MODULE_TABLES',
    'TASKS',
    'TASK_MODELS',
    'NotConvertibleError',
    'checkpoint_format',
    'describe',
    'explain_official',
    'guess_hf_task',
    'hf_blip_to_blip',
    'is_hf_blip',
    'is_blip_pretrain',
    'is_official_blip',
    'mmpretrain_model_config',
    'module_towers',
    'official_class',
    'official_to_blip',
    'pretrain_to_official',
    'pretrain_to_task',
    'pretraining_conversion',
    'register_task',
    'text_derived',
    'to_blip',
]
