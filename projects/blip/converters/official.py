"""Salesforce BLIP's official checkpoints -> our (mmpretrain's) parameter names.

The authors released 13 checkpoints (github.com/salesforce/BLIP, README),
each the ``state_dict`` of one of their model classes under the key
``'model'``:

* ``BLIP_Pretrain``: ``model_base_14M.pth``, ``model_base.pth``,
  ``model_base_capfilt_large.pth`` (ViT-B) and ``model_large.pth`` (ViT-L), at 224 px;
* ``BLIP_Decoder`` (captioning): ``model_base_caption_capfilt_large.pth``, ``model_large_caption.pth``;
* ``BLIP_Retrieval``: ``model_{base,large}_retrieval_{coco,flickr}.pth``;
* ``BLIP_VQA``: ``model_vqa.pth``, ``model_base_vqa_capfilt_large.pth``;
* ``BLIP_NLVR``: ``model_base_nlvr.pth``.

Their demo and fine-tuning scripts also load a checkpoint into another
class: a pre-training checkpoint into every task model (that is how each
fine-tuning run starts), a retrieval one into ``BLIP_ITM``. This module does
all of these as pure ``state_dict -> state_dict`` functions, the way the
official loaders do, but strictly: every key of the source is mapped or
dropped with a stated reason, a key it does not know is an error naming it,
and a tensor the target needs and the source lacks is either derived (tied
copies, position ids), initialised as the official constructor initialises
it (NLVR2's classifier and merge layers from a pre-trained model), or an
error. Where the official code starts fine-tuning from a pre-trained model,
so do we: the contrastive queues are loaded, the retrieval queue's image ids
and pointer start afresh (``-100`` and 0: the official retrieval model names
its pointer ``ptr_queue``, the pre-training one ``queue_ptr``, so it is not
loaded), NLVR2's two cross-attention branches both start from the single
pre-trained one, and the position embeddings are resampled from 224 px to the
task's image size (bicubic, as the official ``interpolate_pos_embed``).

The BERT text towers have the same parameter names on both sides; the ViT's
follow timm (``blocks.N.norm1`` ...) and are renamed to mmpretrain's.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from blip.models.itc_head import QUEUE_SIZE

from .hf_blip import BERT_LAYER, CROSS_ATTENTION, LM_HEAD, text_tower
from .tables import (
    EMBEDDING,
    Conversion,
    Derived,
    Fresh,
    Plan,
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

#: The official ``VisionTransformer`` (timm's names) -> ours (mmpretrain's).
VISION_TOWER = Tower(
    layers='blocks.',
    renames=(
        Rename('cls_token', 'cls_token', ()),
        Rename('pos_embed', 'pos_embed', ()),
        Rename('patch_embed.proj.', 'patch_embed.projection.'),
        Rename('blocks.{i}.norm1.', 'layers.{i}.ln1.'),
        Rename('blocks.{i}.attn.qkv.', 'layers.{i}.attn.qkv.'),
        Rename('blocks.{i}.attn.proj.', 'layers.{i}.attn.proj.'),
        Rename('blocks.{i}.norm2.', 'layers.{i}.ln2.'),
        Rename('blocks.{i}.mlp.fc1.', 'layers.{i}.ffn.layers.0.0.'),
        Rename('blocks.{i}.mlp.fc2.', 'layers.{i}.ffn.layers.1.'),
        Rename('norm.', 'ln1.'),
    ),
)
#: The official BERT with cross-attention (``med.py``): the same names as ours.
TEXT_TOWER = text_tower(cross_attention=True)
#: Layers from this one on merge NLVR2's two image branches with a linear layer (``nlvr_encoder.py``).
NLVR_MERGE_LAYER = 6


def _nlvr_text_tower(twin_from_single: bool) -> Tower:
    """The NLVR2 text encoder: each layer cross-attends to the two images with
    weights of their own (``self0``/``self1``, ``dense0``/``dense1``), and
    merges them with ``merge_layer`` from layer 6 on.

    With ``twin_from_single`` the source is a one-image encoder (pre-training):
    both branches start from its cross-attention, and the merge layers are new.
    """
    single = tuple(f'encoder.layer.{{i}}.{name}' for name in BERT_LAYER)
    embeddings = (
        *same('embeddings.word_embeddings.', 'embeddings.position_embeddings.', params=EMBEDDING),
        *same('embeddings.LayerNorm.'),
        Rename('embeddings.position_ids', 'embeddings.position_ids', (), optional=True),
    )
    cross = 'encoder.layer.{i}.crossattention.'
    merge = cross + 'output.merge_layer.'
    if twin_from_single:
        twins = tuple(
            Rename(
                cross + part,
                (cross + part.replace('self.', 'self0.'), cross + part.replace('self.', 'self1.')),
            )
            for part in ('self.query.', 'self.key.', 'self.value.')
        )
        twins += (
            Rename(cross + 'output.dense.', (cross + 'output.dense0.', cross + 'output.dense1.')),
            *same(cross + 'output.LayerNorm.'),
            Fresh(
                merge,
                _bert_linear,
                "BLIP's pre-training has one image per text: the merge of the two images' "
                'branches is new, initialised as BERT initialises a linear layer (N(0, 0.02), zero bias)',
                first_layer=NLVR_MERGE_LAYER,
            ),
        )
    else:
        parts = [part.replace('self.', f'self{n}.') for n in (0, 1) for part in CROSS_ATTENTION[:3]]
        parts += ['crossattention.output.dense0.', 'crossattention.output.dense1.', CROSS_ATTENTION[4]]
        twins = (
            *same(*(f'encoder.layer.{{i}}.{part}' for part in parts)),
            Rename(merge, merge, first_layer=NLVR_MERGE_LAYER),
        )
    return Tower(layers='encoder.layer.', renames=(*embeddings, *same(*single), *twins))


def _bert_linear(converted: Mapping[str, Tensor], key: str) -> Tensor:
    """A merge layer's weight ``(C, 2C)`` (N(0, 0.02)) or bias (zeros), sized from ``dense0``."""
    width = converted[key.rsplit('merge_layer.', 1)[0] + 'dense0.weight'].shape[0]
    if key.endswith('.bias'):
        return torch.zeros(width)
    return torch.randn(width, 2 * width) * 0.02


def _torch_linear(out_features: int | None = None) -> Callable[[Mapping[str, Tensor], str], Tensor]:
    """``nn.Linear``'s default initialisation (uniform within 1/sqrt(fan_in)), sized from the text width."""

    def make(converted: Mapping[str, Tensor], key: str) -> Tensor:
        width = next(
            v for k, v in converted.items() if k.endswith('embeddings.word_embeddings.weight')
        ).shape[1]
        bound = width**-0.5
        shape = (out_features or width,) if key.endswith('.bias') else (out_features or width, width)
        return torch.empty(shape).uniform_(-bound, bound)

    return make


#: A linear layer (``weight``, ``bias``) whose module is the tower itself.
LINEAR_LAYER = Tower(renames=(Rename('', ''),))
#: A tensor whose key is the prefix itself (``temp``, the queues).
TENSOR = Tower(renames=(Rename('', '', ()),))
#: The NLVR2 classifier (``cls_head``: linear, ReLU, linear): our ``head``.
NLVR_HEAD = Tower(renames=(*same('0.', '2.'),))
NLVR_HEAD_FRESH = Tower(
    renames=tuple(
        Fresh(
            name,
            _torch_linear(out_features),
            "a pre-trained model has no NLVR2 classifier: new, initialised as the official BLIP_NLVR's "
            "nn.Linear layers are (PyTorch's default)",
        )
        for name, out_features in (('0.', None), ('2.', 2))
    )
)


@dataclass(frozen=True)
class OfficialClass:
    """One of the official model classes, as its state dict shows it.

    Args:
        name: The class name (``models/*.py``).
        modules: The first components of its keys.
        checkpoints: The released files of this class.
        what: What the class does, for messages.
    """

    name: str
    modules: frozenset[str]
    checkpoints: tuple[str, ...]
    what: str

    def __str__(self) -> str:
        files = f' ({", ".join(self.checkpoints)})' if self.checkpoints else ''
        return f'{self.name}{files}: {self.what}'


_ITC = ('vision_proj', 'text_proj', 'itm_head', 'temp', 'image_queue', 'text_queue')
_MOMENTUM = ('visual_encoder_m', 'text_encoder_m', 'vision_proj_m', 'text_proj_m')

#: The official classes whose state dicts this module reads, by name.
CLASSES: dict[str, OfficialClass] = {
    c.name: c
    for c in (
        OfficialClass(
            'BLIP_Pretrain',
            frozenset(('visual_encoder', 'text_encoder', 'text_decoder', 'queue_ptr', *_ITC, *_MOMENTUM)),
            ('model_base_14M.pth', 'model_base.pth', 'model_base_capfilt_large.pth', 'model_large.pth'),
            'the pre-trained model (image and text encoders, text decoder, contrastive training state)',
        ),
        OfficialClass(
            'BLIP_Decoder',
            frozenset(('visual_encoder', 'text_decoder')),
            ('model_base_caption_capfilt_large.pth', 'model_large_caption.pth'),
            'image captioning',
        ),
        OfficialClass(
            'BLIP_Retrieval',
            frozenset(('visual_encoder', 'text_encoder', 'idx_queue', 'ptr_queue', *_ITC, *_MOMENTUM)),
            (
                'model_base_retrieval_coco.pth',
                'model_base_retrieval_flickr.pth',
                'model_large_retrieval_coco.pth',
                'model_large_retrieval_flickr.pth',
            ),
            'image-text retrieval',
        ),
        OfficialClass(
            'BLIP_VQA',
            frozenset(('visual_encoder', 'text_encoder', 'text_decoder')),
            ('model_vqa.pth', 'model_base_vqa_capfilt_large.pth'),
            'visual question answering',
        ),
        OfficialClass(
            'BLIP_NLVR',
            frozenset(('visual_encoder', 'text_encoder', 'cls_head')),
            ('model_base_nlvr.pth',),
            'NLVR2 (a statement about two images)',
        ),
        OfficialClass(
            'BLIP_ITM',
            frozenset(('visual_encoder', 'text_encoder', 'vision_proj', 'text_proj', 'itm_head')),
            (),
            'image-text matching (the demo loads a retrieval checkpoint into it)',
        ),
        OfficialClass(
            'BLIP_Base',
            frozenset(('visual_encoder', 'text_encoder')),
            (),
            'feature extraction (the demo loads a pre-training checkpoint into it)',
        ),
    )
}

#: Our task -> (our model class, its image size in official use, the official classes it converts from).
TASK_MODELS: dict[str, tuple[str, int, tuple[str, ...]]] = {
    'caption': ('BlipCaption', 384, ('BLIP_Decoder', 'BLIP_Pretrain')),
    'vqa': ('BlipVQA', 480, ('BLIP_VQA', 'BLIP_Pretrain')),
    'retrieval': ('BlipRetrieval', 384, ('BLIP_Retrieval', 'BLIP_Pretrain', 'BLIP_ITM')),
    'nlvr': ('BlipNLVR', 384, ('BLIP_NLVR', 'BLIP_Pretrain')),
    'feature': ('BlipFeatureExtractor', 224, ('BLIP_Base', 'BLIP_Pretrain', 'BLIP_Retrieval', 'BLIP_ITM')),
}

#: The table of every official module (the first component of its keys), at
#: any size: ``(sub-prefix, tower)`` pairs below the module. A module that is one
#: tensor (``temp``, the queues and their pointers) has the sub-prefix ``''``.
#: NLVR2's text encoder has tables of its own (``_nlvr_text_tower``).
MODULE_TABLES: dict[str, tuple[tuple[str, Tower], ...]] = {
    'visual_encoder': (('', VISION_TOWER),),
    'visual_encoder_m': (('', VISION_TOWER),),
    'text_encoder': (('', TEXT_TOWER),),
    'text_encoder_m': (('', TEXT_TOWER),),
    'text_decoder': (('bert.', TEXT_TOWER), ('cls.', LM_HEAD)),
    **{name: (('', LINEAR_LAYER),) for name in ('vision_proj', 'text_proj', 'vision_proj_m', 'text_proj_m')},
    'itm_head': (('', LINEAR_LAYER),),
    'cls_head': (('', NLVR_HEAD),),
    **{
        name: (('', TENSOR),)
        for name in ('temp', 'image_queue', 'text_queue', 'queue_ptr', 'idx_queue', 'ptr_queue')
    },
}
#: Official modules that are a single tensor (their key is the name itself).
_TENSORS = {'temp', 'image_queue', 'text_queue', 'queue_ptr', 'idx_queue', 'ptr_queue'}


def module_towers(ours: Mapping[str, str]) -> tuple[tuple[str, str, Tower], ...]:
    """``(source prefix, our prefix, tower)`` of official modules renamed to ours.

    Args:
        ours: Official module -> our name for it: a prefix ending with a dot
            for a module (``{'visual_encoder': 'image_encoder.'}``: its keys
            below it, renamed by the module's table), a key for a one-tensor
            module (``{'temp': 'temp', 'image_queue': 'itc_head.image_queue'}``).
    """
    towers = []
    for module, prefix in ours.items():
        if module not in MODULE_TABLES:
            raise KeyError(f'{module!r} is not an official BLIP module; known: {sorted(MODULE_TABLES)}')
        for sub, tower in MODULE_TABLES[module]:
            source = module if module in _TENSORS else f'{module}.{sub}'
            towers.append((source, prefix + sub, tower))
    return tuple(towers)


def text_derived(*, encoders: tuple[str, ...] = (), decoders: tuple[str, ...] = ()) -> tuple[Derived, ...]:
    """The derived tensors of our text towers at these prefixes: every tower's
    position ids, and each decoder's tied output projection and bias (checked
    against the file's copies)."""
    return (*_position_ids(*encoders), *(d for prefix in decoders for d in _decoder_derived(prefix)))


def pretraining_conversion(ours: Mapping[str, str], derived: tuple[Derived, ...] = ()) -> Conversion:
    """A conversion that keeps every module of ``BLIP_Pretrain`` (a pre-training
    model of ours reads the official pre-trained checkpoints with it).

    Args:
        ours: Each of the 14 modules of ``CLASSES['BLIP_Pretrain'].modules``
            -> our name for it (see :func:`module_towers`).
        derived: Our tensors made from others (:func:`text_derived`).

    Raises:
        ValueError: ``ours`` leaves out a module of the pre-training layout.
    """
    left_out = sorted(CLASSES['BLIP_Pretrain'].modules - set(ours))
    if left_out:
        raise ValueError(f'a pre-training conversion keeps every module; no name for {left_out}')
    return Conversion('BLIP_Pretrain', module_towers(ours), {}, derived)


def register_task(task: str, model: str, image_size: int, conversions: Mapping[str, Conversion]) -> None:
    """Add a task to the official conversions (:mod:`.official_pretrain` adds
    pre-training so): ``conversions`` maps each official class it reads to its
    conversion; the model class converts on loading when its ``checkpoint_task``
    is ``task``."""
    unknown = sorted(set(conversions) - set(CLASSES))
    if unknown:
        raise ValueError(f'unknown official classes {unknown}; known: {sorted(CLASSES)}')
    TASK_MODELS[task] = (model, image_size, tuple(conversions))
    CONVERSIONS.update({(source, task): conversion for source, conversion in conversions.items()})


#: What each official module is, for the reasons of the keys a task drops.
_ROLES = {
    'visual_encoder_m': 'the momentum image encoder (a training target of the contrastive loss)',
    'text_encoder_m': 'the momentum text encoder (a training target of the contrastive loss)',
    'vision_proj_m': 'the momentum image projection (contrastive training)',
    'text_proj_m': 'the momentum text projection (contrastive training)',
    'vision_proj': 'the contrastive image projection',
    'text_proj': 'the contrastive text projection',
    'itm_head': 'the image-text matching head',
    'temp': 'the contrastive temperature (training)',
    'image_queue': 'the contrastive queue of image features (training)',
    'text_queue': 'the contrastive queue of text features (training)',
    'queue_ptr': "pre-training's queue position (training)",
    'idx_queue': 'the image ids of the retrieval queue (training)',
    'ptr_queue': "the retrieval queue's position (training)",
    'text_encoder': 'the text encoder',
    'text_decoder': 'the text decoder (language modelling)',
    'cls_head': 'the NLVR2 classifier',
}


def _decoder_derived(ours: str) -> tuple[Derived, ...]:
    return (
        *_position_ids(ours + 'bert.'),
        Derived(
            ours + 'cls.predictions.decoder.weight',
            copy_of(ours + 'bert.embeddings.word_embeddings.weight'),
            'the output projection is tied to the word embeddings',
        ),
        Derived(
            ours + 'cls.predictions.decoder.bias',
            copy_of(ours + 'cls.predictions.bias'),
            'the output bias is tied to cls.predictions.bias',
        ),
    )


def _position_ids(*text_prefixes: str) -> tuple[Derived, ...]:
    return tuple(
        Derived(
            prefix + 'embeddings.position_ids',
            position_ids(prefix + 'embeddings.position_embeddings.weight'),
            'positions 0..N-1 in a persistent buffer (the official files carry it; it is checked)',
        )
        for prefix in text_prefixes
    )


def _dropped(source: str, taken: set[str], model: str, **special: str) -> dict[str, str]:
    """The reasons for the source modules the target does not take."""
    return {
        (module if module in _TENSORS else module + '.'): special.get(
            module, f'{_ROLES[module]}: {model} has none'
        )
        for module in sorted(CLASSES[source].modules - taken)
    }


def _random_queue(projection: str):
    return lambda converted, key: F.normalize(torch.randn(converted[projection].shape[0], _QUEUE_SIZE), dim=0)


#: The official retrieval and pre-training queue length (the ITC head's default).
_QUEUE_SIZE = QUEUE_SIZE


#: Our retrieval model's names of the official retrieval modules (mmpretrain's checkpoint names).
_RETRIEVAL = {
    'visual_encoder': 'vision_backbone.',
    'text_encoder': 'text_backbone.',
    'vision_proj': 'vision_neck.',
    'text_proj': 'text_neck.',
    'itm_head': 'multimodal_head.fc.',
}
_RETRIEVAL_TRAINING = {
    'visual_encoder_m': 'vision_backbone_m.',
    'text_encoder_m': 'text_backbone_m.',
    'vision_proj_m': 'vision_neck_m.',
    'text_proj_m': 'text_neck_m.',
    'temp': 'temp',
    'image_queue': 'head.image_queue',
    'text_queue': 'head.text_queue',
}


def _retrieval_conversion(source: str) -> Conversion:
    names = dict(_RETRIEVAL)
    derived = list(text_derived(encoders=('text_backbone.',)))
    copies = ()
    if source == 'BLIP_ITM':
        # BLIP_ITM keeps no training state: momentum copies and queues start
        # as the official BLIP_Retrieval constructor starts them.
        copies = tuple(
            (ours, ours[:-1] + '_m.') for ours in _RETRIEVAL.values() if ours != 'multimodal_head.fc.'
        )
        derived += [
            Derived(
                'temp', constant(lambda: torch.tensor(0.07)), 'the initial ITC temperature of BLIP_Retrieval'
            ),
            Derived(
                'head.image_queue',
                _random_queue('vision_neck.weight'),
                'a new ITC queue (random, normalised)',
            ),
            Derived(
                'head.text_queue', _random_queue('text_neck.weight'), 'a new ITC queue (random, normalised)'
            ),
        ]
    else:
        names |= _RETRIEVAL_TRAINING
        derived += text_derived(encoders=('text_backbone_m.',))
    if source == 'BLIP_Retrieval':
        names |= {'idx_queue': 'head.idx_queue', 'ptr_queue': 'head.queue_ptr'}
    else:
        derived += [
            Derived(
                'head.idx_queue',
                lambda converted, key: torch.full((1, converted['head.image_queue'].shape[1]), -100),
                'the image ids of the queued features: none yet (-100), as BLIP_Retrieval starts',
            ),
            Derived(
                'head.queue_ptr',
                constant(lambda: torch.zeros(1, dtype=torch.long)),
                'the queue position starts at 0, as BLIP_Retrieval starts',
            ),
        ]
    derived.append(Derived('head.temp', copy_of('temp'), "one parameter with 'temp'"))
    dropped = _dropped(
        source,
        set(names),
        'BlipRetrieval',
        queue_ptr="pre-training's queue position: the official retrieval fine-tuning does not load it "
        '(BLIP_Retrieval names its pointer ptr_queue) and starts at 0, as head.queue_ptr does here',
    )
    return Conversion(source, module_towers(names), dropped, tuple(derived), copies)


def _conversion(
    source: str, names: Mapping[str, str], model: str, derived: tuple[Derived, ...]
) -> Conversion:
    """Keep the modules ``names`` renames, drop the source's others (with their reasons)."""
    return Conversion(source, module_towers(names), _dropped(source, set(names), model), derived)


def _conversions() -> dict[tuple[str, str], Conversion]:
    conversions = {}
    for source in ('BLIP_Decoder', 'BLIP_Pretrain'):
        conversions[source, 'caption'] = _conversion(
            source,
            {'visual_encoder': 'visual_encoder.', 'text_decoder': 'seq_gen_head.decoder.'},
            'the captioner',
            text_derived(decoders=('seq_gen_head.decoder.',)),
        )
    for source in ('BLIP_VQA', 'BLIP_Pretrain'):
        conversions[source, 'vqa'] = _conversion(
            source,
            {
                'visual_encoder': 'vision_backbone.',
                'text_encoder': 'multimodal_backbone.',
                'text_decoder': 'vqa_head.decoder.',
            },
            'the VQA model',
            text_derived(encoders=('multimodal_backbone.',), decoders=('vqa_head.decoder.',)),
        )
    for source in ('BLIP_Retrieval', 'BLIP_Pretrain', 'BLIP_ITM'):
        conversions[source, 'retrieval'] = _retrieval_conversion(source)
    for source in ('BLIP_NLVR', 'BLIP_Pretrain'):
        from_pretraining = source == 'BLIP_Pretrain'
        conversions[source, 'nlvr'] = Conversion(
            source,
            (
                ('visual_encoder.', 'vision_backbone.', VISION_TOWER),
                (
                    'text_encoder.',
                    'multimodal_backbone.',
                    _nlvr_text_tower(twin_from_single=from_pretraining),
                ),
                ('cls_head.', 'head.', NLVR_HEAD_FRESH if from_pretraining else NLVR_HEAD),
            ),
            _dropped(source, {'visual_encoder', 'text_encoder', 'cls_head'}, 'the NLVR2 model'),
            text_derived(encoders=('multimodal_backbone.',)),
        )
    for source in ('BLIP_Base', 'BLIP_Pretrain', 'BLIP_Retrieval', 'BLIP_ITM'):
        conversions[source, 'feature'] = _conversion(
            source,
            {'visual_encoder': 'image_encoder.', 'text_encoder': 'text_encoder.'},
            'the feature extractor',
            text_derived(encoders=('text_encoder.',)),
        )
    return conversions


#: ``(official class, our task) -> Conversion``: every conversion this module does.
CONVERSIONS: dict[tuple[str, str], Conversion] = _conversions()


def is_official_blip(state_dict: Mapping[str, Tensor]) -> bool:
    """Whether ``state_dict`` has the official BLIP names (its ViT's timm names)."""
    return 'visual_encoder.patch_embed.proj.weight' in state_dict


def official_class(state_dict: Mapping[str, Tensor]) -> OfficialClass:
    """The official class whose state dict ``state_dict`` is, judged by its modules.

    A state dict that matches no class exactly gets the closest one; the
    conversion then names the keys that differ.
    """
    modules = {key.split('.', 1)[0] for key in state_dict}
    exact = [c for c in CLASSES.values() if c.modules == modules]
    if exact:
        return exact[0]
    return max(CLASSES.values(), key=lambda c: len(c.modules & modules) - len(c.modules ^ modules))


class NotConvertibleError(ValueError):
    """An official checkpoint that does not convert into the requested task's model."""


def conversion_for(state_dict: Mapping[str, Tensor], task: str) -> Conversion:
    """The conversion of ``state_dict`` (an official state dict) into ``task``'s model."""
    if task not in TASK_MODELS:
        raise ValueError(f'unknown task {task!r}; official BLIP checkpoints convert to {sorted(TASK_MODELS)}')
    source = official_class(state_dict)
    model, _, sources = TASK_MODELS[task]
    if (source.name, task) not in CONVERSIONS:
        fits = [t for t, (_, _, s) in TASK_MODELS.items() if source.name in s]
        raise NotConvertibleError(
            f'this is an official BLIP {source}; {model} (task {task!r}) is made from '
            + ' or '.join(f'{CLASSES[s]}' for s in sources)
            + f'. This checkpoint converts to task {" / ".join(repr(t) for t in fits)}.'
        )
    return CONVERSIONS[source.name, task]


def explain_official(state_dict: Mapping[str, Tensor], task: str) -> dict[str, str]:
    """What the conversion into ``task`` does with each key: ``'-> ours'``,
    ``'dropped: reason'`` or ``'unknown'`` (then the conversion fails)."""
    conversion = conversion_for(state_dict, task)
    mapping = plan(conversion, state_dict)
    return {key: mapping.fate(conversion, key) for key in state_dict}


def official_to_blip(
    state_dict: Mapping[str, Tensor], task: str, image_size: int | None = None
) -> dict[str, Tensor]:
    """Convert an official BLIP state dict into our model of ``task``.

    Args:
        state_dict: The ``'model'`` entry of an official checkpoint (any of
            the classes in :data:`CLASSES`).
        task: ``'caption'``, ``'vqa'``, ``'retrieval'``, ``'nlvr'``,
            ``'feature'`` or a registered one (``'pretrain'``, see
            :func:`register_task`); :data:`TASK_MODELS` lists the official
            classes each converts from.
        image_size: Resample the position embeddings to this image size
            (bicubic, as the official ``interpolate_pos_embed``; the class
            token's row is kept). None keeps them: our image tower resamples
            them when the weights are loaded into a model of another size.

    Returns:
        A state dict that loads strictly into our model of that task.
        Tensors are shared with ``state_dict`` where they are not changed.

    Raises:
        ValueError: ``state_dict`` is not an official BLIP state dict, has
            keys the conversion does not know, lacks keys it needs, or stores a
            tied tensor that differs from its source.
        NotConvertibleError: The checkpoint's class does not convert into
            ``task``'s model (e.g. a VQA checkpoint into the captioner).
    """
    if not is_official_blip(state_dict):
        raise ValueError(
            'not an official BLIP state dict: no visual_encoder.patch_embed.proj.weight '
            '(an official checkpoint holds it under the key "model")'
        )
    conversion = conversion_for(state_dict, task)
    mapping = plan(conversion, state_dict)
    if mapping.unknown or mapping.missing:
        raise ValueError(_key_report(conversion, task, mapping))
    converted = apply(conversion, state_dict, mapping)
    if image_size is not None:
        converted = resample_pos_embeds(converted, image_size)
    return converted


def resample_pos_embeds(state_dict: dict[str, Tensor], image_size: int) -> dict[str, Tensor]:
    """Every image tower's position embeddings of ``state_dict`` resampled to ``image_size``."""
    from blip.models.vision_transformer import resize_pos_embed

    for key in [k for k in state_dict if k.endswith('pos_embed')]:
        patch_size = state_dict[key.replace('pos_embed', 'patch_embed.projection.weight')].shape[-1]
        grid = image_size // patch_size
        state_dict[key] = resize_pos_embed(state_dict[key], (grid, grid))
    return state_dict


def _key_report(conversion: Conversion, task: str, mapping: Plan) -> str:
    lines = [f'the official {conversion.source} state dict does not convert to task {task!r}:']
    if mapping.unknown:
        lines.append(listing('unknown keys', mapping.unknown))
    if mapping.missing:
        lines.append(listing('missing keys', mapping.missing))
    return '\n'.join(lines)
