"""Hugging Face ``transformers`` BLIP state dicts -> our (mmpretrain's) parameter names.

Pure functions on state dicts: nothing is downloaded and no model is built, so
the mapping is testable on its own (as timm's ``checkpoint_filter_fn``).

The mapping is data: each BLIP tower (the ViT, the BERT text transformer, the
LM head) has one table of renames, and each task lists which Hugging Face
sub-model becomes which of our modules, plus the keys Hugging Face may leave
out that we derive (tied weights, the position-id buffer). Every key of the
input must be mapped or listed as dropped with a reason, and every key a
tower needs must be present: anything else is an error naming the keys.
"""

from collections.abc import Mapping

import torch
from torch import Tensor

from .tables import (
    EMBEDDING,
    Conversion,
    Derived,
    Rename,
    Tower,
    apply,
    constant,
    copy_of,
    listing,
    plan,
    position_ids,
    same,
)

#: Hugging Face ``BlipVisionModel`` -> our ``VisionTransformer``.
VISION_TOWER = Tower(
    layers='encoder.layers.',
    renames=(
        Rename('embeddings.class_embedding', 'cls_token', ()),
        Rename('embeddings.position_embedding', 'pos_embed', ()),
        Rename('embeddings.patch_embedding.', 'patch_embed.projection.'),
        Rename('encoder.layers.{i}.layer_norm1.', 'layers.{i}.ln1.'),
        Rename('encoder.layers.{i}.self_attn.qkv.', 'layers.{i}.attn.qkv.'),
        Rename('encoder.layers.{i}.self_attn.projection.', 'layers.{i}.attn.proj.'),
        Rename('encoder.layers.{i}.layer_norm2.', 'layers.{i}.ln2.'),
        Rename('encoder.layers.{i}.mlp.fc1.', 'layers.{i}.ffn.layers.0.0.'),
        Rename('encoder.layers.{i}.mlp.fc2.', 'layers.{i}.ffn.layers.1.'),
        # Hugging Face's post_layernorm is the final norm our ViT calls ln1.
        Rename('post_layernorm.', 'ln1.'),
    ),
    token_tensors=('cls_token', 'pos_embed'),
)


#: BERT's names below each layer, without the cross-attention.
BERT_LAYER = (
    'attention.self.query.',
    'attention.self.key.',
    'attention.self.value.',
    'attention.output.dense.',
    'attention.output.LayerNorm.',
    'intermediate.dense.',
    'output.dense.',
    'output.LayerNorm.',
)
#: BERT's names of a layer's cross-attention.
CROSS_ATTENTION = tuple(f'cross{name}' for name in BERT_LAYER[:5])


def text_tower(cross_attention: bool) -> Tower:
    """Hugging Face ``BlipTextModel`` -> our ``TextTransformer`` (BERT names on both sides)."""
    per_layer = BERT_LAYER + (CROSS_ATTENTION if cross_attention else ())
    return Tower(
        layers='encoder.layer.',
        renames=(
            *same('embeddings.word_embeddings.', 'embeddings.position_embeddings.', params=EMBEDDING),
            *same('embeddings.LayerNorm.'),
            # Not saved by current transformers (a non-persistent buffer); older versions saved it.
            Rename('embeddings.position_ids', 'embeddings.position_ids', (), optional=True),
            *same(*(f'encoder.layer.{{i}}.{name}' for name in per_layer)),
        ),
    )


#: Hugging Face ``BlipTextOnlyMLMHead`` -> our ``LMHead`` (same names).
LM_HEAD = Tower(
    renames=(
        *same('predictions.transform.dense.', 'predictions.transform.LayerNorm.'),
        Rename('predictions.bias', 'predictions.bias', ()),
        # Tied copies of the word embeddings and of ``predictions.bias``;
        # ``save_pretrained`` stores only the source of a tie.
        Rename('predictions.decoder.', 'predictions.decoder.', optional=True),
    ),
)


class TaskMapping(Conversion):
    """How a Hugging Face model of one task becomes ours: a :class:`Conversion`
    whose ``source`` is the Hugging Face class."""

    @property
    def hf_model(self) -> str:
        """The Hugging Face class whose state dict this converts."""
        return self.source


_DECODER = 'seq_gen_head.decoder.'

#: A linear layer (``weight``, ``bias``) whose module is the tower itself.
LINEAR_LAYER = Tower(renames=(Rename('', ''),))
#: BLIP's ITC queue length, ``ITCHead``'s default ``queue_size`` (the configs do not repeat it).
ITC_QUEUE_SIZE = 57600


def _empty_queue(projection: str):
    return lambda converted, key: torch.zeros(converted[projection].shape[0], ITC_QUEUE_SIZE)


_VQA_DECODER = 'vqa_head.decoder.'

TASKS: dict[str, TaskMapping] = {
    'caption': TaskMapping(
        source='BlipForConditionalGeneration',
        towers=(
            ('vision_model.', 'visual_encoder.', VISION_TOWER),
            ('text_decoder.bert.', _DECODER + 'bert.', text_tower(cross_attention=True)),
            ('text_decoder.cls.', _DECODER + 'cls.', LM_HEAD),
        ),
        derived=(
            Derived(
                _DECODER + 'bert.embeddings.position_ids',
                position_ids(_DECODER + 'bert.embeddings.position_embeddings.weight'),
                'our model numbers positions 0..N-1 in a persistent buffer, as BLIP and mmpretrain do',
            ),
            Derived(
                _DECODER + 'cls.predictions.decoder.weight',
                copy_of(_DECODER + 'bert.embeddings.word_embeddings.weight'),
                'the output projection is tied to the word embeddings',
            ),
            Derived(
                _DECODER + 'cls.predictions.decoder.bias',
                copy_of(_DECODER + 'cls.predictions.bias'),
                'the output bias is tied to cls.predictions.bias',
            ),
        ),
    ),
    'vqa': TaskMapping(
        source='BlipForQuestionAnswering',
        towers=(
            ('vision_model.', 'vision_backbone.', VISION_TOWER),
            ('text_encoder.', 'multimodal_backbone.', text_tower(cross_attention=True)),
            ('text_decoder.bert.', _VQA_DECODER + 'bert.', text_tower(cross_attention=True)),
            ('text_decoder.cls.', _VQA_DECODER + 'cls.', LM_HEAD),
        ),
        derived=(
            Derived(
                'multimodal_backbone.embeddings.position_ids',
                position_ids('multimodal_backbone.embeddings.position_embeddings.weight'),
                'our model numbers positions 0..N-1 in a persistent buffer, as BLIP and mmpretrain do',
            ),
            Derived(
                _VQA_DECODER + 'bert.embeddings.position_ids',
                position_ids(_VQA_DECODER + 'bert.embeddings.position_embeddings.weight'),
                'our model numbers positions 0..N-1 in a persistent buffer, as BLIP and mmpretrain do',
            ),
            Derived(
                _VQA_DECODER + 'cls.predictions.decoder.weight',
                copy_of(_VQA_DECODER + 'bert.embeddings.word_embeddings.weight'),
                'the output projection is tied to the word embeddings',
            ),
            Derived(
                _VQA_DECODER + 'cls.predictions.decoder.bias',
                copy_of(_VQA_DECODER + 'cls.predictions.bias'),
                'the output bias is tied to cls.predictions.bias',
            ),
        ),
    ),
    'retrieval': TaskMapping(
        source='BlipForImageTextRetrieval',
        towers=(
            ('vision_model.', 'vision_backbone.', VISION_TOWER),
            ('text_encoder.', 'text_backbone.', text_tower(cross_attention=True)),
            ('vision_proj.', 'vision_neck.', LINEAR_LAYER),
            ('text_proj.', 'text_neck.', LINEAR_LAYER),
            ('itm_head.', 'multimodal_head.fc.', LINEAR_LAYER),
        ),
        derived=(
            Derived(
                'text_backbone.embeddings.position_ids',
                position_ids('text_backbone.embeddings.position_embeddings.weight'),
                'our model numbers positions 0..N-1 in a persistent buffer, as BLIP and mmpretrain do',
            ),
            # Training state Hugging Face does not keep: BLIP's initial temperature
            # and empty queues (no entry is a positive: ids -100).
            Derived(
                'temp', constant(lambda: torch.tensor(0.07)), 'the ITC temperature, used in training only'
            ),
            Derived('head.temp', copy_of('temp'), "one parameter with 'temp'"),
            Derived('head.image_queue', _empty_queue('vision_neck.weight'), 'ITC queue, training only'),
            Derived('head.text_queue', _empty_queue('text_neck.weight'), 'ITC queue, training only'),
            Derived(
                'head.idx_queue',
                constant(lambda: torch.full((1, ITC_QUEUE_SIZE), -100)),
                'image ids of the queue, training only',
            ),
            Derived('head.queue_ptr', constant(lambda: torch.zeros(1, dtype=torch.long)), 'queue position'),
        ),
        copies=(
            ('vision_backbone.', 'vision_backbone_m.'),
            ('text_backbone.', 'text_backbone_m.'),
            ('vision_neck.', 'vision_neck_m.'),
            ('text_neck.', 'text_neck_m.'),
        ),
    ),
}
#: Tasks whose Hugging Face class is known but whose mapping is not written yet.
PLANNED_TASKS: dict[str, str] = {}


def is_hf_blip(state_dict: Mapping[str, Tensor]) -> bool:
    """Whether ``state_dict`` uses Hugging Face BLIP names (any task)."""
    return 'vision_model.embeddings.class_embedding' in state_dict


def guess_hf_task(state_dict: Mapping[str, Tensor]) -> str | None:
    """The task of a Hugging Face BLIP state dict, judged by its sub-models."""
    tops = {key.split('.', 1)[0] for key in state_dict}
    if 'itm_head' in tops:
        return 'retrieval'
    if 'text_encoder' in tops and 'text_decoder' in tops:
        return 'vqa'
    if 'text_decoder' in tops:
        return 'caption'
    return None


def hf_blip_to_blip(state_dict: Mapping[str, Tensor], task: str = 'caption') -> dict[str, Tensor]:
    """Convert a Hugging Face BLIP state dict to our parameter names.

    Args:
        state_dict: ``model.state_dict()`` of a Hugging Face BLIP model, or the
            tensors of its ``model.safetensors`` / ``pytorch_model.bin``.
        task: ``'caption'`` (``BlipForConditionalGeneration``), ``'vqa'``
            (``BlipForQuestionAnswering``) or ``'retrieval'``
            (``BlipForImageTextRetrieval``).

    Returns:
        A state dict that loads strictly into our model of that task
        (``BlipCaption`` for ``'caption'``, ``BlipVQA`` for ``'vqa'``,
        ``BlipRetrieval`` for ``'retrieval'``, whose momentum encoders start as
        copies of the encoders and whose ITC state starts afresh). Tensors are
        shared, not copied.

    Raises:
        ValueError: ``state_dict`` is not a Hugging Face BLIP state dict, has
            keys the task does not map, lacks keys it needs, or stores a tied
            tensor that differs from its source.
        NotImplementedError: ``task`` is a BLIP task not mapped yet.
    """
    conversion = _task_mapping(task)
    if not is_hf_blip(state_dict):
        hint = " (it is already in blip's format)" if 'visual_encoder.cls_token' in state_dict else ''
        raise ValueError(
            f'not a Hugging Face BLIP state dict: no vision_model.embeddings.class_embedding{hint}'
        )

    mapping = plan(conversion, state_dict)
    if mapping.unknown or mapping.missing:
        raise ValueError(_key_report(task, conversion, state_dict, mapping.unknown, mapping.missing))
    return apply(conversion, state_dict, mapping)


def _task_mapping(task: str) -> TaskMapping:
    if task in TASKS:
        return TASKS[task]
    if task in PLANNED_TASKS:
        raise NotImplementedError(f'converting {PLANNED_TASKS[task]} (task {task!r}) is not implemented yet')
    raise ValueError(f'unknown task {task!r}; known: {sorted(TASKS)}')


def _key_report(
    task: str,
    conversion: TaskMapping,
    state_dict: Mapping[str, Tensor],
    unknown: list[str],
    missing: list[str],
) -> str:
    lines = [f'not a {conversion.hf_model} state dict (task {task!r}):']
    guessed = guess_hf_task(state_dict)
    if guessed not in (None, task):
        hf_model = TASKS[guessed].hf_model if guessed in TASKS else PLANNED_TASKS[guessed]
        lines.append(f'  the keys look like task {guessed!r} ({hf_model})')
    if unknown:
        lines.append(listing('unknown keys', unknown))
    if missing:
        lines.append(listing('missing keys', missing))
    return '\n'.join(lines)
