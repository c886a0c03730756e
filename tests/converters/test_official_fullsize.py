"""Every full-size official class, ViT-B and ViT-L, converts exactly into our models.

The official key manifests (``tests/data/official_blip/fullsize.json.gz``: the
real models built by the official code on the meta device) become state
dicts of meta tensors, which the converter maps; the result must have exactly
the keys and shapes of our model built from its config (also on the meta
device), and our model's parameter count must equal the official class's.
Conversions of a pre-training checkpoint into a task model drop what the
official loaders leave unused (their dry run, ``load_checkpoint_dryrun.json``).
"""

from functools import cache
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import blip  # noqa: F401
from blip.converters import CONVERSIONS, official_to_blip
from blip.converters.tables import plan
from blip.registry import MODELS
from official_fixtures import read_json

CONFIGS = Path(__file__).resolve().parents[2] / 'configs/blip'
#: ViT-L towers as changes to a ViT-B config (configs/blip/_base_/models/blip-large.py).
LARGE = dict(image_encoder=dict(arch='l', drop_path_rate=0.1), encoder_width=1024)

#: manifest -> (task, config, model overrides) of our model of the same class.
SAME_CLASS = {
    'BLIP_Decoder_base_384': ('caption', 'blip-base_caption_official.py', {}),
    'BLIP_Decoder_large_384': ('caption', 'blip-large_caption.py', {}),
    'BLIP_Retrieval_base_384': ('retrieval', 'blip-base_retrieval_official.py', {}),
    'BLIP_Retrieval_large_384': ('retrieval', 'blip-large_retrieval.py', {}),
    'BLIP_VQA_base_480': ('vqa', 'blip-base_vqa_official.py', {}),
    'BLIP_NLVR_base_384': ('nlvr', 'blip-base_nlvr_official.py', {}),
    'BLIP_ITM_base_384': ('retrieval', 'blip-base_retrieval_official.py', {'inference_only': True}),
    'BLIP_ITM_large_384': ('retrieval', 'blip-large_retrieval.py', {'inference_only': True}),
    'BLIP_Base_base_224': ('feature', 'blip-base_feature.py', {}),
    'BLIP_Base_large_224': ('feature', 'blip-large_feature.py', {}),
}
#: Our model of each task at ViT-B, and its image size.
TASK_CONFIGS = {
    'caption': ('blip-base_caption_official.py', 384),
    'vqa': ('blip-base_vqa_official.py', 480),
    'retrieval': ('blip-base_retrieval_official.py', 384),
    'nlvr': ('blip-base_nlvr_official.py', 384),
    'feature': ('blip-base_feature.py', 224),
}


@cache
def manifests() -> dict:
    return read_json('fullsize.json.gz')


def meta_state_dict(name: str) -> dict[str, torch.Tensor]:
    """The official state dict of a manifest, as tensors without data.

    Tied keys share one tensor as in the real model; integer buffers
    (position ids, queue pointers) keep their dtype.
    """
    manifest = manifests()[name]
    shared = {key: group[0] for group in manifest['tied_groups'] for key in group}
    tensors, state_dict = {}, {}
    for key, shape in manifest['keys'].items():
        integer = key.endswith(('position_ids', 'queue_ptr', 'ptr_queue', 'idx_queue'))
        source = shared.get(key, key)
        if source not in tensors:
            tensors[source] = torch.empty(
                shape, dtype=torch.long if integer else torch.float32, device='meta'
            )
        state_dict[key] = tensors[source]
    return state_dict


def meta_model(config: str, large: bool = False, **overrides) -> torch.nn.Module:
    return _meta_model(config, large, tuple(sorted(overrides.items())))


@cache
def _meta_model(config: str, large: bool, overrides: tuple) -> torch.nn.Module:
    """Our model of ``config`` on the meta device (built once per test session)."""
    cfg = Config.fromfile(str(CONFIGS / config))
    model = cfg.model.to_dict()
    if large:
        model['image_encoder'].update(LARGE['image_encoder'])
        for path in (('text_encoder',), ('head', 'decoder')):
            part = model
            for key in path:
                part = part.get(key) or {}
            if 'config' in part:
                part['config']['encoder_width'] = LARGE['encoder_width']
    model.update(dict(overrides))
    with DefaultScope.overwrite_default_scope('blip'), torch.device('meta'):
        return MODELS.build(model)


def shapes(state_dict) -> dict[str, tuple[int, ...]]:
    return {key: tuple(value.shape) for key, value in state_dict.items()}


def test_every_manifest_is_tested():
    pretrain = {'BLIP_Pretrain_base_224', 'BLIP_Pretrain_large_224'}
    assert set(manifests()) == set(SAME_CLASS) | pretrain


@pytest.mark.parametrize('name', sorted(SAME_CLASS))
def test_each_class_converts_into_ours_exactly(name):
    task, config, overrides = SAME_CLASS[name]
    manifest = manifests()[name]
    model = meta_model(config, **overrides)
    converted = model.to_checkpoint_format(meta_state_dict(name))
    assert shapes(converted) == shapes(model.state_dict())
    assert sum(p.numel() for p in model.parameters()) == manifest['num_params']
    assert manifest['image_size'] == model.image_encoder.patch_grid[0] * 16


@pytest.mark.parametrize('vit', ['base', 'large'])
@pytest.mark.parametrize('task', sorted(TASK_CONFIGS))
def test_pretraining_converts_into_every_task(vit, task):
    config, image_size = TASK_CONFIGS[task]
    source = meta_state_dict(f'BLIP_Pretrain_{vit}_224')
    model = meta_model(config, large=vit == 'large')
    converted = official_to_blip(source, task, image_size=image_size)
    assert shapes(converted) == shapes(model.state_dict())


def dry_run(source: str, target: str) -> dict:
    return next(
        r
        for r in read_json('load_checkpoint_dryrun.json')
        if (r['source_state_dict'], r['target']) == (source, target)
    )


@pytest.mark.parametrize(
    'source, target, task',
    [
        ('BLIP_Pretrain_base_224', 'BLIP_Decoder_base_384', 'caption'),
        ('BLIP_Pretrain_base_224', 'BLIP_Base_base_224', 'feature'),
        ('BLIP_Pretrain_base_224', 'BLIP_Retrieval_base_384', 'retrieval'),
        ('BLIP_Pretrain_base_224', 'BLIP_VQA_base_480', 'vqa'),
        ('BLIP_Pretrain_base_224', 'BLIP_NLVR_base_384', 'nlvr'),
        ('BLIP_Pretrain_large_224', 'BLIP_Decoder_large_384', 'caption'),
        ('BLIP_Pretrain_large_224', 'BLIP_Retrieval_large_384', 'retrieval'),
    ],
)
def test_what_pretraining_leaves_unused_and_new_equals_the_official_loaders(source, target, task):
    record = dry_run(source, target)
    state_dict = meta_state_dict(source)
    conversion = CONVERSIONS['BLIP_Pretrain', task]
    mapping = plan(conversion, state_dict)
    assert not mapping.unknown and not mapping.missing
    dropped = [key for key in state_dict if conversion.drop_reason(key)]
    # The official NLVR loader copies every cross-attention tensor of the file
    # under the two branches' names and leaves the original unused; ours maps
    # the text encoder's to both branches. The copies of the modules NLVR2
    # does not use (the decoder's, the momentum encoder's) are unused there too.
    doubled = [key for key, ours in mapping.names.items() if len(ours) > 1]
    twin_names = [k for k in dropped if 'crossattention.self.' in k or 'crossattention.output.dense.' in k]
    copies = 2 * len(twin_names) if task == 'nlvr' else 0
    assert len(dropped) + len(doubled) + copies == record['num_unexpected_keys']
    # What the official loaders leave missing is what we derive or initialise.
    fresh = {
        key.replace('multimodal_backbone.', 'text_encoder.').replace('head.', 'cls_head.', 1)
        for key, _ in mapping.fresh
    }
    derived_from_nothing = {'idx_queue', 'ptr_queue'} if task == 'retrieval' else set()
    assert fresh | derived_from_nothing == set(record['missing_keys'])


@pytest.mark.parametrize('vit', ['base', 'large'])
def test_a_retrieval_checkpoint_in_an_inference_only_model_drops_what_blip_itm_drops(vit):
    record = dry_run(f'BLIP_Retrieval_{vit}_384', f'BLIP_ITM_{vit}_384')
    full = official_to_blip(meta_state_dict(f'BLIP_Retrieval_{vit}_384'), 'retrieval')
    model = meta_model(SAME_CLASS[f'BLIP_ITM_{vit}_384'][1], inference_only=True)
    kept = model.select_checkpoint_keys(full)
    # Ours holds the temperature twice ('temp' and 'head.temp'), as mmpretrain's.
    assert len(full) - len(kept) - 1 == record['num_unexpected_keys']
