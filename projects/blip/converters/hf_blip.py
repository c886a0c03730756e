"""Hugging Face ``transformers`` BLIP state dicts -> our (mmpretrain's) parameter names.

Pure functions on state dicts: nothing is downloaded and no model is built, so
the mapping is testable on its own (as timm's ``checkpoint_filter_fn``).

The mapping is data: each BLIP tower (the ViT, the BERT text transformer, the
LM head) has one table of renames, and each task lists which Hugging Face
sub-model becomes which of our modules, plus the keys Hugging Face may leave
out that we derive (tied weights, the position-id buffer). Every key of the
input must be mapped or listed as ignored with a reason, and every key a
tower needs must be present: anything else is an error naming the keys.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor

from blip.models.itc_head import QUEUE_SIZE

LINEAR = ('weight', 'bias')
EMBEDDING = ('weight',)


@dataclass(frozen=True)
class Rename:
    """One Hugging Face name and ours, relative to the tower prefixes.

    Args:
        hf: Hugging Face name; ``{i}`` stands for a layer index.
        ours: Our name; ``{i}`` as in ``hf``.
        params: Parameter names under the module (``hf``/``ours`` end with a
            dot), or ``()`` when the name is the tensor itself.
        optional: Some exports leave the key out; the task derives it then.
    """

    hf: str
    ours: str
    params: tuple[str, ...] = LINEAR
    optional: bool = False


def _same(*names: str, params: tuple[str, ...] = LINEAR) -> tuple[Rename, ...]:
    return tuple(Rename(name, name, params) for name in names)


@dataclass(frozen=True)
class Tower:
    """The renames of one sub-model.

    Args:
        renames: The table of renames.
        layers: Hugging Face name of the layer list (e.g. ``'encoder.layers.'``);
            the layer indices found under it fill ``{i}``.
        token_tensors: Our names of tensors stored as a token sequence
            ``(1, N, C)``; Hugging Face exports may store them as ``(C,)`` or
            ``(N, C)``.
    """

    renames: tuple[Rename, ...]
    layers: str = ''
    token_tensors: tuple[str, ...] = ()

    def expand(self, hf_prefix: str, our_prefix: str, hf_keys: set[str]) -> list[tuple[str, str, bool]]:
        """``(hf_key, our_key, optional)`` for every tensor of the tower."""
        num_layers = _num_layers(hf_keys, hf_prefix + self.layers) if self.layers else 0
        entries = []
        for rename in self.renames:
            indices = range(num_layers) if '{i}' in rename.hf else [None]
            for i in indices:
                hf, ours = rename.hf.format(i=i), rename.ours.format(i=i)
                for param in rename.params or ('',):
                    entries.append((hf_prefix + hf + param, our_prefix + ours + param, rename.optional))
        return entries


def _num_layers(hf_keys: set[str], layers_prefix: str) -> int:
    indices = {key[len(layers_prefix) :].split('.', 1)[0] for key in hf_keys if key.startswith(layers_prefix)}
    # A gap in the indices shows up as the missing keys of the absent layers.
    return max((int(i) for i in indices if i.isdigit()), default=-1) + 1


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


def text_tower(cross_attention: bool) -> Tower:
    """Hugging Face ``BlipTextModel`` -> our ``TextTransformer`` (BERT names on both sides)."""
    blocks = ('attention', 'crossattention') if cross_attention else ('attention',)
    parts = ('self.query.', 'self.key.', 'self.value.', 'output.dense.', 'output.LayerNorm.')
    per_layer = [f'encoder.layer.{{i}}.{block}.{part}' for block in blocks for part in parts]
    per_layer += ['encoder.layer.{i}.intermediate.dense.', 'encoder.layer.{i}.output.dense.']
    per_layer += ['encoder.layer.{i}.output.LayerNorm.']
    return Tower(
        layers='encoder.layer.',
        renames=(
            *_same('embeddings.word_embeddings.', 'embeddings.position_embeddings.', params=EMBEDDING),
            *_same('embeddings.LayerNorm.'),
            # Not saved by current transformers (a non-persistent buffer); older versions saved it.
            Rename('embeddings.position_ids', 'embeddings.position_ids', (), optional=True),
            *_same(*per_layer),
        ),
    )


#: Hugging Face ``BlipTextOnlyMLMHead`` -> our ``LMHead`` (same names).
LM_HEAD = Tower(
    renames=(
        *_same('predictions.transform.dense.', 'predictions.transform.LayerNorm.'),
        Rename('predictions.bias', 'predictions.bias', ()),
        # Tied copies of the word embeddings and of ``predictions.bias``;
        # ``save_pretrained`` stores only the source of a tie.
        Rename('predictions.decoder.', 'predictions.decoder.', optional=True),
    ),
)


@dataclass(frozen=True)
class Derived:
    """One of our tensors computed from other converted tensors.

    When the Hugging Face export carries it too, the two must be equal: our
    model ties them, so a different value could not be represented.
    """

    key: str
    make: Callable[[Mapping[str, Tensor]], Tensor]
    reason: str


def _copy_of(source: str) -> Callable[[Mapping[str, Tensor]], Tensor]:
    return lambda converted: converted[source]


def _position_ids(position_embeddings: str) -> Callable[[Mapping[str, Tensor]], Tensor]:
    return lambda converted: torch.arange(converted[position_embeddings].shape[0])[None]


@dataclass(frozen=True)
class TaskMapping:
    """How a Hugging Face model of one task becomes ours.

    Args:
        hf_model: The Hugging Face class whose state dict this converts.
        towers: ``(hf_prefix, our_prefix, tower)`` for each sub-model.
        derived: Our tensors that Hugging Face leaves out or stores as a tie.
        ignored: Hugging Face keys with no counterpart in our model, each with
            the reason it is safe to drop.
        copies: ``(source_prefix, copy_prefix)``: our tensors under
            ``copy_prefix`` start as those under ``source_prefix`` (momentum
            encoders, which Hugging Face does not keep).
    """

    hf_model: str
    towers: tuple[tuple[str, str, Tower], ...]
    derived: tuple[Derived, ...] = ()
    ignored: Mapping[str, str] = field(default_factory=dict)
    copies: tuple[tuple[str, str], ...] = ()


_DECODER = 'seq_gen_head.decoder.'

#: A linear layer (``weight``, ``bias``) whose module is the tower itself.
LINEAR_LAYER = Tower(renames=(Rename('', ''),))
#: BLIP's ITC queue length (the ITC head's default).
ITC_QUEUE_SIZE = QUEUE_SIZE


def _constant(make: Callable[[], Tensor]) -> Callable[[Mapping[str, Tensor]], Tensor]:
    return lambda converted: make()


def _empty_queue(projection: str) -> Callable[[Mapping[str, Tensor]], Tensor]:
    return lambda converted: torch.zeros(converted[projection].shape[0], ITC_QUEUE_SIZE)


_VQA_DECODER = 'vqa_head.decoder.'

TASKS: dict[str, TaskMapping] = {
    'caption': TaskMapping(
        hf_model='BlipForConditionalGeneration',
        towers=(
            ('vision_model.', 'visual_encoder.', VISION_TOWER),
            ('text_decoder.bert.', _DECODER + 'bert.', text_tower(cross_attention=True)),
            ('text_decoder.cls.', _DECODER + 'cls.', LM_HEAD),
        ),
        derived=(
            Derived(
                _DECODER + 'bert.embeddings.position_ids',
                _position_ids(_DECODER + 'bert.embeddings.position_embeddings.weight'),
                'our model numbers positions 0..N-1 in a persistent buffer, as BLIP and mmpretrain do',
            ),
            Derived(
                _DECODER + 'cls.predictions.decoder.weight',
                _copy_of(_DECODER + 'bert.embeddings.word_embeddings.weight'),
                'the output projection is tied to the word embeddings',
            ),
            Derived(
                _DECODER + 'cls.predictions.decoder.bias',
                _copy_of(_DECODER + 'cls.predictions.bias'),
                'the output bias is tied to cls.predictions.bias',
            ),
        ),
    ),
    'vqa': TaskMapping(
        hf_model='BlipForQuestionAnswering',
        towers=(
            ('vision_model.', 'vision_backbone.', VISION_TOWER),
            ('text_encoder.', 'multimodal_backbone.', text_tower(cross_attention=True)),
            ('text_decoder.bert.', _VQA_DECODER + 'bert.', text_tower(cross_attention=True)),
            ('text_decoder.cls.', _VQA_DECODER + 'cls.', LM_HEAD),
        ),
        derived=(
            Derived(
                'multimodal_backbone.embeddings.position_ids',
                _position_ids('multimodal_backbone.embeddings.position_embeddings.weight'),
                'our model numbers positions 0..N-1 in a persistent buffer, as BLIP and mmpretrain do',
            ),
            Derived(
                _VQA_DECODER + 'bert.embeddings.position_ids',
                _position_ids(_VQA_DECODER + 'bert.embeddings.position_embeddings.weight'),
                'our model numbers positions 0..N-1 in a persistent buffer, as BLIP and mmpretrain do',
            ),
            Derived(
                _VQA_DECODER + 'cls.predictions.decoder.weight',
                _copy_of(_VQA_DECODER + 'bert.embeddings.word_embeddings.weight'),
                'the output projection is tied to the word embeddings',
            ),
            Derived(
                _VQA_DECODER + 'cls.predictions.decoder.bias',
                _copy_of(_VQA_DECODER + 'cls.predictions.bias'),
                'the output bias is tied to cls.predictions.bias',
            ),
        ),
    ),
    'retrieval': TaskMapping(
        hf_model='BlipForImageTextRetrieval',
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
                _position_ids('text_backbone.embeddings.position_embeddings.weight'),
                'our model numbers positions 0..N-1 in a persistent buffer, as BLIP and mmpretrain do',
            ),
            # Training state Hugging Face does not keep: BLIP's initial temperature
            # and empty queues (no entry is a positive: ids -100).
            Derived(
                'temp', _constant(lambda: torch.tensor(0.07)), 'the ITC temperature, used in training only'
            ),
            Derived('head.temp', _copy_of('temp'), "one parameter with 'temp'"),
            Derived('head.image_queue', _empty_queue('vision_neck.weight'), 'ITC queue, training only'),
            Derived('head.text_queue', _empty_queue('text_neck.weight'), 'ITC queue, training only'),
            Derived(
                'head.idx_queue',
                _constant(lambda: torch.full((1, ITC_QUEUE_SIZE), -100)),
                'image ids of the queue, training only',
            ),
            Derived('head.queue_ptr', _constant(lambda: torch.zeros(1, dtype=torch.long)), 'queue position'),
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
    mapping = _task_mapping(task)
    if not is_hf_blip(state_dict):
        hint = " (it is already in blip's format)" if 'visual_encoder.cls_token' in state_dict else ''
        raise ValueError(
            f'not a Hugging Face BLIP state dict: no vision_model.embeddings.class_embedding{hint}'
        )

    hf_keys = set(state_dict)
    names: dict[str, str] = {}
    required: set[str] = set()
    for hf_prefix, our_prefix, tower in mapping.towers:
        for hf_key, our_key, optional in tower.expand(hf_prefix, our_prefix, hf_keys):
            names[hf_key] = our_key
            if not optional:
                required.add(hf_key)
    unknown = sorted(hf_keys - set(names) - set(mapping.ignored))
    missing = sorted(required - hf_keys)
    if unknown or missing:
        raise ValueError(_key_report(task, mapping, state_dict, unknown, missing))

    converted = {names[key]: tensor for key, tensor in state_dict.items() if key in names}
    for _, our_prefix, tower in mapping.towers:
        for name in tower.token_tensors:
            tensor = converted[our_prefix + name]
            converted[our_prefix + name] = tensor.reshape(1, -1, tensor.shape[-1])
    for derived in mapping.derived:
        value = derived.make(converted)
        given = converted.get(derived.key)
        if given is not None and (
            given.shape != value.shape or not torch.equal(given, value.to(given.dtype))
        ):
            raise ValueError(
                f'{derived.key}: the Hugging Face tensor differs from the value our model '
                f'needs ({derived.reason})'
            )
        converted[derived.key] = value
    for source, copy in mapping.copies:
        converted.update(
            {copy + key[len(source) :]: converted[key] for key in list(converted) if key.startswith(source)}
        )
    return converted


def _task_mapping(task: str) -> TaskMapping:
    if task in TASKS:
        return TASKS[task]
    raise ValueError(f'unknown task {task!r}; known: {sorted(TASKS)}')


def _key_report(
    task: str, mapping: TaskMapping, state_dict: Mapping[str, Tensor], unknown: list[str], missing: list[str]
) -> str:
    lines = [f'not a {mapping.hf_model} state dict (task {task!r}):']
    guessed = guess_hf_task(state_dict)
    if guessed not in (None, task):
        lines.append(f'  the keys look like task {guessed!r} ({TASKS[guessed].hf_model})')
    if unknown:
        lines.append(_listing('unknown keys', unknown))
    if missing:
        lines.append(_listing('missing keys', missing))
    return '\n'.join(lines)


def _listing(title: str, keys: list[str], limit: int = 30) -> str:
    more = f', ... and {len(keys) - limit} more' if len(keys) > limit else ''
    return f'  {len(keys)} {title}: ' + ', '.join(keys[:limit]) + more
