"""get_model, list_models, inference_model and checkpoint loading."""

import fractions
import urllib.error
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample
from PIL import Image

import blip
from blip import checkpoint as ckpt
from blip.apis import model_zoo
from blip.checkpoint import CheckpointMismatchError, load_checkpoint
from blip.registry import MODELS
from coco_data import write_coco_karpathy
from fixture_weights import fixture_config, load_recipe_weights

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / 'tests/data/configs/tiny_caption.py'


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    root = write_coco_karpathy(tmp_path_factory.mktemp('coco'), images_per_split=3)
    return sorted((root / 'test2014').iterdir())


@pytest.fixture(scope='module')
def tiny_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = blip.get_model(TINY_CONFIG)
    path = tmp_path_factory.mktemp('ckpt') / 'tiny.pth'
    torch.save({'meta': {'note': 'test'}, 'state_dict': model.state_dict()}, path)
    return path


def test_list_models():
    names = blip.list_models()
    assert {
        'blip-base_3rdparty_caption',
        'blip-base_3rdparty_caption_nocaps',
        'blip-base_3rdparty_caption_flickr30k',
    } <= set(names)
    assert blip.list_models('*nocaps*') == ['blip-base_3rdparty_caption_nocaps']
    assert 'blip-base_3rdparty_caption' in blip.list_models(task='Image Caption')
    assert all('caption' in name for name in blip.list_models(task='image caption'))


def test_every_metafile_entry_has_a_config():
    for name in blip.list_models():
        assert model_zoo.model_info(name).config.is_file(), name


def test_unknown_model_name_suggests_the_close_ones():
    with pytest.raises(
        ValueError, match="'blip-base_3rdparty_captoin'.*did you mean blip-base_3rdparty_caption "
    ):
        blip.get_model('blip-base_3rdparty_captoin')
    with pytest.raises(ValueError, match='blip.list_models\\(\\) lists the known ones'):
        blip.get_model('resnet50')


def test_get_model_by_name_says_once_that_the_weights_are_random(monkeypatch):
    monkeypatch.setattr(model_zoo, '_RANDOM_WEIGHTS_SAID', set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        blip.get_model('blip-tiny_shapes_caption')
        blip.get_model('blip-tiny_shapes_caption')
        blip.get_model('blip-tiny_shapes_caption', pretrained=True)
        blip.get_model('blip-tiny_shapes_vqa')  # no weights are known: nothing to say
    said = [str(w.message) for w in caught if 'random weights' in str(w.message)]
    assert said == [
        'blip-tiny_shapes_caption: random weights (get_model keeps random weights by default, as '
        "mmpretrain's does); pass pretrained=True for the released ones"
    ]


def test_get_model_from_a_config_with_weights_and_overrides(tiny_checkpoint):
    model = blip.get_model(TINY_CONFIG, pretrained=str(tiny_checkpoint), generation_cfg=dict(num_beams=2))
    assert not model.training and model.generation_cfg.num_beams == 2
    saved = torch.load(tiny_checkpoint, weights_only=True)['state_dict']
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    assert model._config.test_dataloader.dataset.pipeline  # what inference needs


def test_inference_on_paths_arrays_and_pil_images(tiny_checkpoint, images):
    model = blip.get_model(TINY_CONFIG, pretrained=str(tiny_checkpoint))
    single = blip.inference_model(model, str(images[0]))
    assert set(single) == {'pred_caption'} and isinstance(single['pred_caption'], str)
    batch = blip.inference_model(model, [str(p) for p in images], batch_size=2)
    assert [r['pred_caption'] for r in batch][0] == single['pred_caption'] and len(batch) == 3
    bgr = np.asarray(Image.open(images[0]).convert('RGB'))[..., ::-1].copy()
    assert blip.inference_model(model, bgr) == single
    assert blip.inference_model(model, Image.open(images[0])) == single


def test_several_captions_per_image(tiny_checkpoint, images):
    model = blip.get_model(
        TINY_CONFIG, pretrained=str(tiny_checkpoint), generation_cfg=dict(num_return_sequences=3)
    )
    result = blip.inference_model(model, str(images[0]))
    assert len(result['pred_captions']) == 3 and result['pred_captions'][0] == result['pred_caption']


def test_inference_model_by_name_resolves_weights_through_the_metafile(tiny_checkpoint, images, monkeypatch):
    info = model_zoo.ModelInfo('tiny', TINY_CONFIG, str(tiny_checkpoint), ('Image Caption',), {})
    monkeypatch.setattr(model_zoo, '_model_index', lambda: {'tiny': info})
    by_name = blip.inference_model('tiny', str(images[1]))
    model = blip.get_model(TINY_CONFIG, pretrained=str(tiny_checkpoint))
    assert by_name == blip.inference_model(model, str(images[1]))


def test_offline_download_fails_fast_naming_the_url(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise urllib.error.URLError('no network')

    monkeypatch.setattr(ckpt.urllib.request, 'urlopen', offline)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    url = model_zoo.model_info('blip-base_3rdparty_caption').weights
    with pytest.raises(RuntimeError) as error:
        ckpt.read_state_dict(url)
    assert url in str(error.value) and 'pretrained=' in str(error.value)


def test_offline_download_fails_before_the_model_is_built(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise urllib.error.URLError('no network')

    monkeypatch.setattr(ckpt.urllib.request, 'urlopen', offline)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    monkeypatch.setattr(model_zoo.MODELS, 'build', lambda cfg: pytest.fail('the model was built first'))
    with pytest.raises(ckpt.WeightsDownloadError, match='pretrained=') as error:
        blip.get_model('blip-base_3rdparty_caption', pretrained=True)
    assert error.value.url == model_zoo.model_info('blip-base_3rdparty_caption').weights


def test_download_uses_the_torch_hub_cache(monkeypatch, tmp_path, tiny_checkpoint):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    cached = Path(torch.hub.get_dir()) / 'checkpoints' / 'tiny.pth'
    cached.parent.mkdir(parents=True)
    cached.write_bytes(tiny_checkpoint.read_bytes())
    monkeypatch.setattr(ckpt.urllib.request, 'urlopen', None)  # must not be called
    state = ckpt.read_state_dict('https://example.invalid/models/tiny.pth')
    assert 'visual_encoder.cls_token' in state


def test_mmpretrain_checkpoint_layout_loads_strictly_with_weights_only(tmp_path):
    model = MODELS.build(fixture_config('caption'))
    load_recipe_weights(model, 'caption')
    # mmpretrain's release layout: meta + state_dict, tied keys both present.
    torch.save(
        {'meta': {'mmpretrain_version': '1.2.0'}, 'state_dict': model.state_dict()}, tmp_path / 'c.pth'
    )
    fresh = load_checkpoint(MODELS.build(fixture_config('caption')), tmp_path / 'c.pth')
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in fresh.state_dict().items())


def test_checkpoint_needing_arbitrary_unpickling_is_refused(tmp_path):
    # Any class outside the allow-list (here fractions.Fraction) must not load.
    torch.save({'state_dict': {}, 'meta': fractions.Fraction(1, 3)}, tmp_path / 'evil.pth')
    with pytest.raises(ckpt.CheckpointLoadError, match='not weights \\(fractions.Fraction\\)') as error:
        ckpt.read_state_dict(tmp_path / 'evil.pth')
    assert str(tmp_path / 'evil.pth') in str(error.value) and 'weights_only=False' not in str(error.value)


@pytest.mark.parametrize('content', ['empty', 'garbage', 'truncated'])
def test_unreadable_checkpoint_is_named_without_suggesting_unsafe_loading(content, tiny_checkpoint, tmp_path):
    data = tiny_checkpoint.read_bytes()
    path = tmp_path / f'{content}.pth'
    path.write_bytes(
        {'empty': b'', 'garbage': bytes(range(256)) * 4, 'truncated': data[: len(data) // 2]}[content]
    )
    with pytest.raises(ckpt.CheckpointLoadError) as error:
        blip.get_model(TINY_CONFIG, pretrained=str(path))
    message = str(error.value)
    assert message.startswith(
        f'checkpoint {path} is ' + ('empty' if content == 'empty' else 'not a readable')
    )
    assert 'weights_only' not in message and len(message) < 300


def test_checkpoint_of_another_size_lists_the_mismatches(tiny_checkpoint):
    model = blip.get_model(TINY_CONFIG)
    state = torch.load(tiny_checkpoint, weights_only=True)['state_dict']
    state['seq_gen_head.decoder.bert.embeddings.position_embeddings.weight'] = torch.zeros(64, 32)
    with pytest.raises(
        CheckpointMismatchError, match=r'position_embeddings.weight \(64, 32\) vs model \(512, 64\)'
    ):
        ckpt.load_state_dict_strict(model, state)


def test_missing_checkpoint_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        blip.get_model(TINY_CONFIG, pretrained=str(tmp_path / 'nope.pth'))


@pytest.mark.parametrize('caption', ['', 'word ' * 200])
def test_empty_and_overlong_captions_train(caption):
    torch.manual_seed(0)
    model = blip.get_model(TINY_CONFIG).train()
    samples = [DataSample(gt_caption=caption), DataSample(gt_caption='a red square')]
    loss = model.loss(torch.randn(2, 3, 64, 64), samples)['seq_gen_lm_loss']
    assert torch.isfinite(loss)
    loss.backward()
