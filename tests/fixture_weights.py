"""Regenerate the mmpretrain fixture weights from their recipe (README of
../shared/fixtures/mmpretrain_blip) and check them against the recorded sha256.

The fixture ``.pth`` files need not be shipped: every floating tensor is
``randn * 0.05`` from a generator seeded with the crc32 of its key (LayerNorm
weights ``1 + 0.005 * randn``), so any clone can rebuild them exactly.
"""

import hashlib
import json
import zlib
from pathlib import Path

import torch
from torch import nn

from blip.converters import mmpretrain_model_config

DATA = Path(__file__).parent / 'data' / 'mmpretrain_blip'
KEEP_AS_BUILT = {'grounding_head.bbox_prob_mask'}


def load_json(name: str) -> dict:
    with open(DATA / name, encoding='utf-8') as f:
        return json.load(f)


def fixture_config(task: str, variant: str = 'default') -> dict:
    """Our model config of a fixture's mmpretrain model config."""
    return mmpretrain_model_config(load_json(f'{task}_config.json')['configs'][variant])


def load_fixture(name: str) -> dict:
    return torch.load(DATA / name, weights_only=True)


def _layer_norm_weights(model: nn.Module) -> set[str]:
    """The checkpoint keys of the LayerNorm weights."""
    return {
        model.checkpoint_key(f'{name}.weight')
        for name, m in model.named_modules()
        if isinstance(m, nn.LayerNorm)
    }


def recipe_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The fixture recipe's weights for ``model``'s keys (before tying)."""
    layer_norms = _layer_norm_weights(model)
    built = model.state_dict()
    weights = {}
    for key in sorted(built):
        value = built[key]
        if not value.is_floating_point() or key in KEEP_AS_BUILT:
            weights[key] = value.clone()
            continue
        generator = torch.Generator().manual_seed(zlib.crc32(key.encode('utf-8')))
        w = torch.randn(value.shape, generator=generator, dtype=torch.float32) * 0.05
        weights[key] = 1 + w * 0.1 if key in layer_norms else w
    return weights


def sha256(tensor: torch.Tensor) -> str:
    return hashlib.sha256(tensor.detach().contiguous().cpu().numpy().tobytes()).hexdigest()


def load_recipe_weights(model: nn.Module, task: str) -> None:
    """Load the recipe weights strictly and check every key's sha256 and shape."""
    model.load_state_dict(recipe_state_dict(model), strict=True)
    manifest = load_json(f'{task}_weights.json')['keys']
    state = model.state_dict()
    assert list(sorted(state)) == sorted(manifest)
    for key, value in state.items():
        assert list(value.shape) == manifest[key]['shape'], key
        assert sha256(value) == manifest[key]['sha256'], f'{key}: weights differ from the fixture'
