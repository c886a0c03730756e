"""BLIP's pre-training layout: the official ``BLIP_Pretrain`` checkpoints into
our :class:`~blip.models.BlipPretrain`, and our pre-training checkpoints into
every task model.

The official pre-training checkpoints (``model_base.pth``,
``model_base_14M.pth``, ``model_base_capfilt_large.pth``,
``model_large.pth``) convert by one more table of :mod:`.official`, built from
its towers: the ViT's timm names become ours, the BERT names stay, the
modules take our names (``visual_encoder`` -> ``image_encoder``,
``vision_proj`` -> ``image_proj``, the queues and the pointer go to
``itc_head``). The tensors the official model ties (the text encoder and
decoder share all but their self-attention; the LM head's output projection
is the word embeddings) are checked to be equal, as our model holds them once.

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

from .official import (
    CONVERSIONS,
    LINEAR_LAYER,
    TASK_MODELS,
    TENSOR,
    TEXT_TOWER,
    VISION_TOWER,
    _decoder,
    _decoder_derived,
    _position_ids,
    official_to_blip,
)
from .tables import Conversion, Derived, Rename, copy_of

#: Our task name of the pre-training model.
TASK = 'pretrain'

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
PRETRAIN_CONVERSION = Conversion(
    'BLIP_Pretrain',
    (
        ('visual_encoder.', 'image_encoder.', VISION_TOWER),
        ('visual_encoder_m.', 'image_encoder_m.', VISION_TOWER),
        ('text_encoder.', 'text_encoder.', TEXT_TOWER),
        ('text_encoder_m.', 'text_encoder_m.', TEXT_TOWER),
        *_decoder('text_decoder.', 'text_decoder.'),
        ('vision_proj.', 'image_proj.', LINEAR_LAYER),
        ('vision_proj_m.', 'image_proj_m.', LINEAR_LAYER),
        ('text_proj.', 'text_proj.', LINEAR_LAYER),
        ('text_proj_m.', 'text_proj_m.', LINEAR_LAYER),
        ('itm_head.', 'itm_head.fc.', LINEAR_LAYER),
        ('temp', 'temp', TENSOR),
        ('image_queue', 'itc_head.image_queue', TENSOR),
        ('text_queue', 'itc_head.text_queue', TENSOR),
        ('queue_ptr', 'itc_head.queue_ptr', TENSOR),
    ),
    derived=(
        *_position_ids('text_encoder.', 'text_encoder_m.'),
        *_decoder_derived('text_decoder.'),
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


def register() -> None:
    """Add the pre-training model to :mod:`.official`'s tasks and conversions."""
    TASK_MODELS[TASK] = ('BlipPretrain', 224, ('BLIP_Pretrain',))
    CONVERSIONS['BLIP_Pretrain', TASK] = PRETRAIN_CONVERSION


def is_blip_pretrain(state_dict: Mapping[str, Tensor]) -> bool:
    """Whether ``state_dict`` is one of our :class:`~blip.models.BlipPretrain`'s."""
    return 'text_decoder.bert.embeddings.word_embeddings.weight' in state_dict and (
        'image_encoder.pos_embed' in state_dict
    )


def _inverse_names(table: Conversion, keys: list[str]) -> dict[str, str]:
    """Our key -> the source key that ``table`` renames into it, for the keys it renames."""
    patterns = []
    for source_prefix, our_prefix, tower in table.towers:
        for entry in tower.renames:
            if not isinstance(entry, Rename):
                continue
            for target in entry.targets:
                for param in entry.params or ('',):
                    pattern = re.escape(our_prefix + target + param).replace(r'\{i\}', r'(?P<i>\d+)')
                    patterns.append((re.compile(pattern + '$'), source_prefix + entry.source + param))
    names = {}
    for key in keys:
        for pattern, source in patterns:
            match = pattern.match(key)
            if match:
                names[key] = source.format(**match.groupdict())
                break
    return names


def pretrain_to_official(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Our :class:`~blip.models.BlipPretrain` state dict in the official
    ``BLIP_Pretrain`` layout (the pre-training table read backwards).

    Raises:
        ValueError: A key the table neither renames nor derives.
    """
    names = _inverse_names(PRETRAIN_CONVERSION, list(state_dict))
    derived = {d.key for d in PRETRAIN_CONVERSION.derived}
    unknown = sorted(k for k in state_dict if k not in names and k not in derived)
    if unknown:
        raise ValueError(f'not a BlipPretrain state dict: unknown keys {unknown[:20]}')
    return {names[key]: value for key, value in state_dict.items() if key in names}


def pretrain_to_task(state_dict: Mapping[str, Tensor], task: str) -> dict[str, Tensor]:
    """Our pre-training checkpoint converted into ``task``'s model, as the official one would be."""
    return official_to_blip(pretrain_to_official(state_dict), task)
