"""Bad inference inputs get a clear error naming them, or the right result."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import blip
from blip.apis import build_inferencer
from blip.apis.inferencer import _image_item
from blip.datasets.image_loading import LoadImageFromFile

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / 'tests/data/configs'
DEMO_IMAGE = str(REPO / 'demo/large-blue-circle.png')


@pytest.fixture(scope='module')
def captioner():
    torch.manual_seed(0)
    return build_inferencer(blip.get_model(CONFIGS / 'tiny_caption.py'))


@pytest.fixture(scope='module')
def vqa():
    torch.manual_seed(0)
    return blip.get_model(CONFIGS / 'tiny_vqa.py')


def gray_16_bit() -> np.ndarray:
    """A 16-bit gray gradient using the whole range (Pillow's convert('RGB') clips it all to 255)."""
    return (np.linspace(0, 65535, 40 * 30).reshape(30, 40)).astype(np.uint16)


def test_a_16_bit_pil_image_reads_as_its_file_does(captioner, tmp_path):
    image = Image.fromarray(gray_16_bit())
    assert image.mode == 'I;16'
    image.save(tmp_path / 'gray16.png')
    from_file = LoadImageFromFile()(dict(img_path=str(tmp_path / 'gray16.png')))['img']
    in_memory = _image_item(image)['img']
    np.testing.assert_array_equal(in_memory, from_file)
    assert in_memory.min() == 0 and in_memory.max() == 255  # scaled, not clipped to white
    assert captioner(image) == captioner(str(tmp_path / 'gray16.png'))


def test_a_uint16_array_is_scaled_as_16_bit_files_are(captioner):
    eight_bit = np.asarray(Image.open(DEMO_IMAGE).convert('RGB'))[..., ::-1].copy()
    sixteen_bit = eight_bit.astype(np.uint16) * 257
    assert captioner(sixteen_bit) == captioner(eight_bit) == captioner(DEMO_IMAGE)


@pytest.mark.parametrize(
    'image, message',
    [
        (
            np.zeros((8, 8, 2), np.uint8),
            r'image 0 has shape \(8, 8, 2\): give H x W \(gray\), H x W x 3 \(BGR\)',
        ),
        (np.zeros((0, 0, 3), np.uint8), r'image 0 is empty \(0x0 pixels\)'),
        (np.zeros((8, 8, 3), np.float32), 'image 0 has float32 samples: give uint8'),
        (Image.new('F', (8, 8)), r'image 0 is a 32-bit float PIL image \(mode F\)'),
    ],
    ids=['two-channels', '0x0', 'float', 'pil-float'],
)
def test_unusable_arrays_are_named(captioner, image, message):
    with pytest.raises(ValueError, match=message):
        captioner(image)


def test_none_as_an_image_is_named(captioner):
    with pytest.raises(TypeError, match='give an image .* not None'):
        blip.inference_model(captioner.model, None)
    with pytest.raises(TypeError, match='image 1 is None: give a file path, a BGR array or a PIL image'):
        captioner([DEMO_IMAGE, None])


@pytest.mark.parametrize('batch_size', [0, -1, 1.5, 'what is this?'])
def test_batch_size_must_be_a_positive_integer(captioner, vqa, batch_size):
    with pytest.raises(
        ValueError, match=re.escape(f'batch_size must be a positive integer, got {batch_size!r}')
    ):
        captioner([DEMO_IMAGE], batch_size=batch_size)
    with pytest.raises(ValueError, match='batch_size must be a positive integer'):
        blip.inference_model(vqa, DEMO_IMAGE, 'what is it?', batch_size=batch_size)


def test_a_question_for_a_caption_model_is_an_error_not_a_batch_size(captioner):
    with pytest.raises(TypeError) as error:
        blip.inference_model(captioner.model, DEMO_IMAGE, 'what is this?')
    assert str(error.value) == (
        "BlipCaption takes 1 input(s) (images), got 2: 'what is this?' is not used (a question needs a VQA "
        'model); options such as batch_size are keyword arguments'
    )


def test_a_question_without_words_is_reported_as_typed(vqa):
    with pytest.raises(ValueError, match=r"question 0, '\?\?\?', has no words"):
        blip.inference_model(vqa, DEMO_IMAGE, '???')
    result = blip.inference_model(vqa, DEMO_IMAGE, 'What?!')
    assert result['question'] == 'What?!'  # as typed, not as cleaned
