"""Official BLIP files load wherever a checkpoint does, converted on the way:
``get_model(pretrained=...)`` (a path, or a metafile name whose file is in
the cache: offline), ``load_checkpoint``, ``load_state_dict`` and mmengine's
``load_from``; a wrong file is an error saying what it is and what was expected."""

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import load_checkpoint as mmengine_load_checkpoint

import blip
from blip import checkpoint as ckpt
from blip.apis import model_zoo
from blip.checkpoint import CheckpointMismatchError, load_checkpoint
from blip.converters import NotConvertibleError, official_to_blip
from official_fixtures import build, model_config, official_checkpoint_file, official_state_dict

TINY_DATA = Path(__file__).resolve().parents[1] / 'data/configs/tiny_caption.py'


def tiny_caption_config() -> Config:
    config = Config.fromfile(str(TINY_DATA))
    config.model = model_config('caption')
    return config


def assert_loaded(model, name='BLIP_Decoder', task='caption'):
    image_size = model.image_encoder.patch_grid[0] * 16
    expected = official_to_blip(official_state_dict(name), task, image_size=image_size)
    state = model.state_dict()
    assert set(state) == set(expected)
    assert all(torch.equal(state[key], value) for key, value in expected.items())


def test_get_model_with_a_local_official_file(tmp_path):
    path = official_checkpoint_file('BLIP_Decoder', tmp_path)
    assert_loaded(blip.get_model(tiny_caption_config(), pretrained=str(path)))


def test_get_model_by_name_offline_with_the_file_in_the_cache(tmp_path, monkeypatch):
    url = 'https://storage.googleapis.com/sfr-vision-language-research/BLIP/models/model_base_caption_capfilt_large.pth'
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    cached = Path(torch.hub.get_dir()) / 'checkpoints' / 'model_base_caption_capfilt_large.pth'
    cached.parent.mkdir(parents=True)
    cached.write_bytes(official_checkpoint_file('BLIP_Decoder', tmp_path).read_bytes())
    monkeypatch.setattr(ckpt.urllib.request, 'urlopen', None)  # offline: must not be called
    config = tmp_path / 'tiny_official_caption.py'
    tiny_caption_config().dump(config)
    info = model_zoo.ModelInfo('tiny-official', config, url, ('Image Caption',), {})
    monkeypatch.setattr(model_zoo, '_model_index', lambda: {'tiny-official': info})
    assert_loaded(blip.get_model('tiny-official', pretrained=True))


def test_hugging_face_files_are_cached_under_their_repository():
    url = 'https://huggingface.co/Salesforce/blip-itm-base-coco/resolve/main/pytorch_model.bin'
    assert ckpt.cache_name(url) == 'Salesforce--blip-itm-base-coco--pytorch_model.bin'
    assert ckpt.cache_name('https://example.org/models/model_base.pth') == 'model_base.pth'


def test_load_checkpoint_and_load_state_dict_convert(tmp_path):
    assert_loaded(load_checkpoint(build('caption'), official_checkpoint_file('BLIP_Decoder', tmp_path)))
    model = build('caption')
    model.load_state_dict(official_state_dict('BLIP_Decoder'), strict=True)
    assert_loaded(model)


def test_mmengine_load_from_converts_an_official_file(tmp_path):
    # What Runner.load_checkpoint does with cfg.load_from: mmengine's lenient
    # loader on the file's content ({'model': ...}); the conversion is exact.
    path = official_checkpoint_file('BLIP_Pretrain', tmp_path)
    model = build('vqa')
    mmengine_load_checkpoint(model, str(path), map_location='cpu', strict=False)
    assert_loaded(model, 'BLIP_Pretrain', 'vqa')


def test_a_checkpoint_of_another_task_is_named(tmp_path):
    path = official_checkpoint_file('BLIP_VQA', tmp_path)
    with pytest.raises(NotConvertibleError) as error:
        load_checkpoint(build('caption'), path)
    assert 'official BLIP BLIP_VQA' in str(error.value) and 'BlipCaption' in str(error.value)
    with pytest.raises(NotConvertibleError, match='BLIP_VQA'):  # the same through mmengine's load_from
        mmengine_load_checkpoint(build('caption'), str(path), map_location='cpu', strict=False)


def test_a_checkpoint_of_another_size_says_both_sizes(tmp_path):
    path = official_checkpoint_file('BLIP_Decoder', tmp_path)
    wider = build(
        'caption',
        image_encoder=dict(arch=dict(embed_dims=64, num_layers=2, num_heads=4, feedforward_channels=256)),
    )
    with pytest.raises(CheckpointMismatchError) as error:
        load_checkpoint(wider, path)
    message = str(error.value)
    assert 'official BLIP BLIP_Decoder checkpoint (ViT, 48-d image tokens)' in message
    assert 'BlipCaption (ViT, 64-d image tokens)' in message and 'shape mismatches' in message


def test_our_checkpoint_of_another_task_is_named(tmp_path):
    vqa = build('vqa')
    path = tmp_path / 'vqa.pth'
    torch.save({'state_dict': vqa.state_dict()}, path)
    with pytest.raises(CheckpointMismatchError, match=r'is a BlipVQA checkpoint .*does not fit BlipCaption'):
        load_checkpoint(build('caption'), path)


def test_an_inference_only_retrieval_model_loads_a_full_checkpoint(tmp_path):
    model = build('retrieval', inference_only=True)
    load_checkpoint(model, official_checkpoint_file('BLIP_Retrieval', tmp_path))
    assert not any(key.startswith(('vision_backbone_m', 'head.')) for key in model.state_dict())
    with pytest.raises(RuntimeError, match='inference_only'):
        model.loss(torch.zeros(1, 3, 96, 96), [])


def test_list_models_shows_the_vit_l_models():
    assert blip.list_models('*large*') == [
        'blip-large_hf_caption',
        'blip-large_hf_retrieval',
        'blip-large_hf_retrieval_flickr30k',
        'blip-large_official_caption',
        'blip-large_official_pretrain',
        'blip-large_official_retrieval',
        'blip-large_official_retrieval_flickr30k',
        'blip-large_pretrain',  # a config without weights (the authors' are blip-large_official_pretrain)
    ]
    assert len(blip.list_models('*_official_*')) == 13 and len(blip.list_models('*_hf_*')) == 8
