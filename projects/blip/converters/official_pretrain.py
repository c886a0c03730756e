"""BLIP's pre-training layout: the official ``BLIP_Pretrain`` checkpoints into
our :class:`~blip.models.BlipPretrain`, and our pre-training checkpoints into
every task model.

The official pre-training checkpoints (``model_base.pth``,
``model_base_14M.pth``, ``model_base_capfilt_large.pth``,
``model_large.pth``) convert by :mod:`.official`'s module tables
(:func:`.official.pretraining_conversion`): every module is kept under our
name (``visual_encoder`` -> ``image_encoder``, ``vision_proj`` ->
``image_proj``, the queues and the pointer go to ``itc_head``), the ViT's timm
names become ours and the BERT names stay. The tensors the official model ties
(the text encoder and decoder share all but their self-attention; the LM
head's output projection is the word embeddings) are checked to be equal, as
our model holds them once. Importing this module registers the task
``'pretrain'`` (:func:`.official.register_task`).

A checkpoint of our :class:`~blip.models.BlipPretrain` starts a fine-tuning
run exactly as an official pre-training checkpoint does: the same table read
backwards gives the official layout, which :func:`.official.official_to_blip`
converts into the task's model (queues kept, retrieval ids and pointer
afresh, NLVR2's twin cross-attention from the single one ...).
"""

import re
from collections.abc import Mapping

import torch
from torch import Tensor

from .official import official_to_blip, pretraining_conversion, register_task, text_derived
from .tables import Derived, copy_of, source_names

#: Our task name of the pre-training model.
TASK = 'pretrain'

#: Our :class:`~blip.models.BlipPretrain`'s names of the official pre-training modules.
PRETRAIN_NAMES = {
    'visual_encoder': 'image_encoder.',
    'visual_encoder_m': 'image_encoder_m.',
    'text_encoder': 'text_encoder.',
    'text_encoder_m': 'text_encoder_m.',
    'text_decoder': 'text_decoder.',
    'vision_proj': 'image_proj.',
    'vision_proj_m': 'image_proj_m.',
    'text_proj': 'text_proj.',
    'text_proj_m': 'text_proj_m.',
    'itm_head': 'itm_head.fc.',
    'temp': 'temp',
    'image_queue': 'itc_head.image_queue',
    'text_queue': 'itc_head.text_queue',
    'queue_ptr': 'itc_head.queue_ptr',
}

#: The text decoder's tensors that are the text encoder's (all but self-attention), as patterns.
SHARED_TEXT_TENSORS = re.compile(
    r'(embeddings\.(word_embeddings|position_embeddings|LayerNorm)'
    r'|encoder\.layer\.\d+\.(crossattention\.self\.(query|key|value)|crossattention\.output\.(dense|LayerNorm)'
    r'|intermediate\.dense|output\.(dense|LayerNorm)))\.(weight|bias)'
)


def _tied_to_encoder(converted: Mapping[str, Tensor], key: str) -> Tensor:
    """The word embeddings, once every tensor the decoder shares with the encoder is checked equal."""
    for name, tensor in converted.items():
        rest = name.removeprefix('text_decoder.bert.')
        if rest != name and SHARED_TEXT_TENSORS.fullmatch(rest):
            encoder = converted['text_encoder.' + rest]
            if encoder.shape != tensor.shape or not torch.equal(encoder, tensor):
                raise ValueError(
                    f'{name}: the BLIP_Pretrain tensor differs from text_encoder.{rest}; the official '
                    'model ties them (the text decoder shares all but its self-attention with the encoder)'
                )
    return converted['text_encoder.embeddings.word_embeddings.weight']


#: ``BLIP_Pretrain`` -> :class:`~blip.models.BlipPretrain`.
PRETRAIN_CONVERSION = pretraining_conversion(
    PRETRAIN_NAMES,
    (
        *text_derived(encoders=('text_encoder.', 'text_encoder_m.'), decoders=('text_decoder.',)),
        Derived(
            'text_decoder.bert.embeddings.word_embeddings.weight',
            _tied_to_encoder,
            'the text decoder shares all but its self-attention with the text encoder (every shared '
            'tensor is checked)',
        ),
        Derived('itc_head.temp', copy_of('temp'), "one parameter with 'temp'"),
        Derived(
            'itc_head.idx_queue',
            lambda converted, key: torch.full((1, converted['itc_head.image_queue'].shape[1]), -100),
            'the official pre-training queue keeps no image ids: every queued feature is a negative (-100)',
        ),
    ),
)

register_task(TASK, 'BlipPretrain', 224, {'BLIP_Pretrain': PRETRAIN_CONVERSION})


def is_blip_pretrain(state_dict: Mapping[str, Tensor]) -> bool:
    """Whether ``state_dict`` is one of our :class:`~blip.models.BlipPretrain`'s."""
    return 'text_decoder.bert.embeddings.word_embeddings.weight' in state_dict and (
        'image_encoder.pos_embed' in state_dict
    )


def pretrain_to_official(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Our :class:`~blip.models.BlipPretrain` state dict in the official
    ``BLIP_Pretrain`` layout (the pre-training table read backwards).

    Raises:
        ValueError: A key the table neither renames nor derives.
    """
    names = source_names(PRETRAIN_CONVERSION, list(state_dict))
    derived = {d.key for d in PRETRAIN_CONVERSION.derived}
    unknown = sorted(k for k in state_dict if k not in names and k not in derived)
    if unknown:
        raise ValueError(f'not a BlipPretrain state dict: unknown keys {unknown[:20]}')
    return {names[key]: value for key, value in state_dict.items() if key in names}


def pretrain_to_task(state_dict: Mapping[str, Tensor], task: str) -> dict[str, Tensor]:
    """Our pre-training checkpoint converted into ``task``'s model, as the official one would be."""
    return official_to_blip(pretrain_to_official(state_dict), task)
