"""The official BLIP reference fixtures (``tests/data/official_blip``, copied
from ``../shared/fixtures/official_blip``): the tiny official checkpoints
regenerated from their recipe, the inputs, the recorded outputs, and our
tiny models of the same sizes.

The recipe (the fixtures' README, "Weight recipe"): every floating tensor is
drawn from a generator seeded with the crc32 of its canonical key (the
smallest key of its tied group), then scaled by its branch; tied keys share
one tensor. The regenerated state dicts are checked against the recorded
sha256 of every key.
"""

import copy
import gzip
import hashlib
import json
import zlib
from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

import blip  # noqa: F401
from blip.registry import MODELS

DATA = Path(__file__).parent / 'data' / 'official_blip'
#: The official test transform's normalisation (data/__init__.py, demo.ipynb).
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
#: Non-floating tensors, kept as the official constructors build them.
AS_BUILT = {
    'position_ids': lambda shape: torch.arange(shape[-1])[None],
    'idx_queue': lambda shape: torch.full(shape, -100),
    'ptr_queue': lambda shape: torch.zeros(shape, dtype=torch.long),
    'queue_ptr': lambda shape: torch.zeros(shape, dtype=torch.long),
}
#: Our tiny models' sizes: the official tiny ViT (48-d, 2 blocks, 3 heads, MLP ratio 4).
TINY_VIT = dict(
    type='VisionTransformer',
    arch=dict(embed_dims=48, num_layers=2, num_heads=3, feedforward_channels=192),
    patch_size=16,
)
TOKENIZER = dict(type='BlipTokenizer', name_or_path='bert-base-uncased')


def read_json(name: str):
    path = DATA / name
    if path.suffix == '.gz':
        with gzip.open(path, 'rt', encoding='utf-8') as f:
            return json.load(f)
    return json.loads(path.read_text(encoding='utf-8'))


def sha256(tensor: torch.Tensor) -> str:
    return hashlib.sha256(tensor.detach().contiguous().cpu().numpy().tobytes()).hexdigest()


def _value(branch: str, seed_key: str, shape: list[int]) -> torch.Tensor:
    generator = torch.Generator().manual_seed(zlib.crc32(seed_key.encode('utf-8')))
    z = torch.randn(shape, generator=generator, dtype=torch.float32)
    if branch == 'queue':
        return F.normalize(z, dim=0)
    if branch == 'temp':
        return 0.07 + 0.01 * z
    if branch == 'layernorm weight':
        return 1 + 0.02 * z
    if branch == 'bias':
        return 0.02 * z
    if branch == 'weight':
        return 0.1 * z
    raise ValueError(f'unknown recipe branch {branch!r}')


@cache
def _official_state_dict(name: str) -> dict[str, torch.Tensor]:
    recipe = read_json('recipe.json.gz')[name]
    values: dict[str, torch.Tensor] = {}
    state_dict = {}
    for key, shape, _dtype, branch, seed_key in recipe['keys']:
        if branch.startswith('kept as built'):
            state_dict[key] = AS_BUILT[key.rsplit('.', 1)[-1]](shape)
            continue
        if seed_key not in values:  # tied keys share the tensor of their canonical key
            values[seed_key] = _value(branch, seed_key, shape)
        state_dict[key] = values[seed_key]
    digest = hashlib.sha256(''.join(sha256(v) for v in state_dict.values()).encode()).hexdigest()
    assert digest == recipe['sha256_of_sha256s'], f'{name}: regenerated weights differ from the fixture'
    return state_dict


def official_state_dict(name: str) -> dict[str, torch.Tensor]:
    """The tiny official checkpoint ``name`` (``'BLIP_Pretrain'``, ``'BLIP_Decoder'``, ...), a fresh dict."""
    return dict(_official_state_dict(name))


def official_checkpoint_file(name: str, folder: Path) -> Path:
    """The tiny checkpoint written as the official files are: ``{'model': state_dict}``."""
    path = folder / f'tiny_{name}.pth'
    if not path.is_file():
        torch.save({'model': official_state_dict(name)}, path)
    return path


def med_config(name: str = 'med_config_tiny') -> dict:
    return read_json(f'tiny_configs/{name}.json')


def model_config(task: str, **overrides) -> dict:
    """Our config of the tiny model of ``task`` (the official tiny class's sizes)."""
    text = dict(type='TextTransformer', config=med_config())
    decoder = dict(type='TextDecoder', config=med_config())
    vit = lambda size: dict(copy.deepcopy(TINY_VIT), img_size=size)  # noqa: E731
    configs = {
        'caption': dict(
            type='BlipCaption',
            image_encoder=vit(96),
            head=dict(type='SeqGenerationHead', decoder=decoder),
            prompt='a picture of ',
            max_txt_len=40,
            generation_cfg=dict(
                strategy='beam', num_beams=3, max_length=20, min_length=5, beam_length='total'
            ),
        ),
        'vqa': dict(
            type='BlipVQA',
            image_encoder=vit(128),
            text_encoder=text,
            head=dict(type='VQAHead', decoder=decoder, label_smoothing=0.1),
            generation_cfg=dict(beam_length='total'),
            answer_first_token='dec',
        ),
        'retrieval': dict(
            type='BlipRetrieval',
            image_encoder=vit(96),
            text_encoder=text,
            embed_dim=32,
            itc_head=dict(type='ITCHead', queue_size=12, alpha=0.4),
            itm_head=dict(type='ITMHead', with_pooler=False),
            negative_all_rank=False,
            max_txt_len=35,
        ),
        'nlvr': dict(
            type='BlipNLVR',
            image_encoder=vit(96),
            text_encoder=dict(text, config=med_config('med_config_tiny_nlvr'), num_images=2, merge_layer=6),
            first_token='enc',
        ),
        'feature': dict(type='BlipFeatureExtractor', image_encoder=vit(96), text_encoder=text),
    }
    config = configs[task]
    for key, value in overrides.items():
        config[key] = dict(config[key], **value) if isinstance(value, dict) and key in config else value
    return dict(config, tokenizer=TOKENIZER)


def build(task: str, **overrides) -> torch.nn.Module:
    """Our tiny model of ``task``, random weights, eval mode."""
    torch.manual_seed(0)
    return MODELS.build(model_config(task, **overrides)).eval()


@cache
def images(size: int) -> torch.Tensor:
    """The three fixture images, preprocessed as the official test transform does ``(3, 3, size, size)``.

    The images as that transform resized them (bicubic, Pillow 13) are files
    of their own: Pillow 12 resamples image 1 up to 3 levels differently.
    """
    batch = []
    for i in range(3):
        image = Image.open(DATA / f'inputs/image{i}_{size}.png').convert('RGB')
        x = torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255)
        batch.append((x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None])
    batch = torch.stack(batch)
    assert sha256(batch) == read_json('inputs/inputs.json')['preprocessed'][f'image_{size}']['sha256_float32']
    return batch


def inputs() -> dict:
    return read_json('inputs/inputs.json')


@cache
def _outputs(task: str) -> tuple[dict, dict]:
    return read_json(f'{task}_outputs.json.gz'), torch.load(DATA / f'{task}_outputs.pt', weights_only=True)


def outputs(task: str) -> tuple[dict, dict]:
    """``(json, tensors)`` of ``<task>_outputs``: the cases, and the full tensors by ``'<case>/<name>'``."""
    return _outputs(task)


def tensor(record: dict) -> torch.Tensor:
    """A tensor written to the JSON in full (``values``)."""
    dtype = {'float32': torch.float32, 'float64': torch.float64, 'int64': torch.long}[record['dtype']]
    return torch.tensor(record['values'], dtype=dtype).reshape(record['shape'])


def close(actual: torch.Tensor, expected: torch.Tensor, **kwargs) -> None:
    """Equal within the fixtures' measured noise (atol 1e-5, rtol 1e-5)."""
    torch.testing.assert_close(actual, expected.to(actual.dtype), **({'atol': 1e-5, 'rtol': 1e-5} | kwargs))
