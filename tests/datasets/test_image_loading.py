"""Tests of ``blip.datasets.LoadImageFromFile``: parity with mmcv, odd formats, errors."""

import io
from pathlib import Path

import cv2
import mmcv
import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile as MmcvLoadImageFromFile
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import TRANSFORMS as ROOT_TRANSFORMS
from mmengine.registry import DefaultScope
from mmpretrain.datasets import remove_transform
from PIL import Image

import blip  # noqa: F401  (registers the blip scope)
from blip.datasets import image_loading
from blip.datasets.image_loading import ImageLoadError, LoadImageFromFile

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs' / 'blip' / '_base_' / 'datasets'


def smooth_rgb(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth random RGB image (JPEG-friendly, every channel different)."""
    coarse = np.random.default_rng(seed).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)


def write_pil(path: Path, image: Image.Image, **save_args) -> Path:
    image.save(path, **save_args)
    return path


def load(path) -> dict:
    return LoadImageFromFile()(dict(img_path=str(path)))


def pil_bgr(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert('RGB'))[..., ::-1]


@pytest.mark.parametrize('suffix', ['.jpg', '.png'])
def test_rgb_files_load_exactly_like_mmcv(tmp_path, suffix):
    path = tmp_path / f'image{suffix}'
    Image.fromarray(smooth_rgb()).save(path)
    ours = load(path)
    reference = MmcvLoadImageFromFile()(dict(img_path=str(path)))
    assert ours['img'].dtype == np.uint8 and ours['img'].shape == (48, 64, 3)
    np.testing.assert_array_equal(ours['img'], reference['img'])
    assert ours['img_shape'] == reference['img_shape'] == (48, 64)
    assert ours['ori_shape'] == reference['ori_shape'] == (48, 64)


def test_exif_orientation_applied_like_mmcv(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise
    path = write_pil(tmp_path / 'rotated.jpg', Image.fromarray(smooth_rgb()), exif=exif)
    ours = load(path)
    np.testing.assert_array_equal(ours['img'], MmcvLoadImageFromFile()(dict(img_path=str(path)))['img'])
    assert ours['img_shape'] == (64, 48)


def odd_images() -> dict:
    rgb = smooth_rgb()
    return {
        'grayscale.png': (Image.fromarray(rgb[..., 0]), {}),
        'grayscale.jpg': (Image.fromarray(rgb[..., 0]), {}),
        'bilevel.png': (Image.fromarray(rgb[..., 0] > 128), {}),
        'gray_alpha.png': (Image.fromarray(rgb[..., 0]).convert('LA'), {}),
        'rgba.png': (Image.fromarray(np.dstack([rgb, rgb[..., 1]])), {}),
        'palette.png': (Image.fromarray(rgb).convert('P'), {}),
        'palette_transparent.png': (Image.fromarray(rgb).convert('P'), dict(transparency=3)),
        'animation.gif': (Image.fromarray(rgb).convert('P'), {}),
        'rgb.tiff': (Image.fromarray(rgb), {}),
    }


@pytest.mark.parametrize('name', list(odd_images()))
def test_other_modes_become_three_channel_bgr(tmp_path, name):
    image, save_args = odd_images()[name]
    path = write_pil(tmp_path / name, image, **save_args)
    img = load(path)['img']
    assert img.dtype == np.uint8 and img.shape == (48, 64, 3)
    np.testing.assert_array_equal(img, pil_bgr(path))


def test_cmyk_jpeg_matches_pillow_within_rounding(tmp_path):
    path = write_pil(tmp_path / 'cmyk.jpg', Image.fromarray(smooth_rgb()).convert('CMYK'), quality=95)
    img = load(path)['img']
    assert img.dtype == np.uint8 and img.shape == (48, 64, 3)
    # CMYK -> RGB conversion rounds differently in libjpeg/OpenCV and Pillow.
    assert np.abs(img.astype(int) - pil_bgr(path)).max() <= 1


def sixteen_bit(channels: int) -> np.ndarray:
    ramp = np.linspace(0, 65535, 48 * 64).round().astype(np.uint16).reshape(48, 64)
    ramp[0, 0], ramp[0, 1], ramp[0, 2] = 0, 32768, 65535
    return ramp if channels == 1 else np.dstack([ramp, ramp[::-1], ramp[:, ::-1]])


@pytest.mark.parametrize('suffix', ['.png', '.tiff'])
@pytest.mark.parametrize('channels', [1, 3])
def test_16_bit_images_are_scaled_to_8_bit(tmp_path, suffix, channels):
    samples = sixteen_bit(channels)
    path = tmp_path / f'deep{suffix}'
    assert cv2.imwrite(str(path), samples)
    img = load(path)['img']
    assert img.dtype == np.uint8 and img.shape == (48, 64, 3)
    expected = samples >> 8  # the full 16-bit range maps onto 0..255
    if channels == 1:
        expected = np.repeat(expected[..., None], 3, axis=2)
    assert np.abs(img.astype(int) - expected).max() <= 1
    assert list(img[0, :3, 0]) in ([0, 128, 255], [0, 128, 254])


@pytest.fixture
def opencv_cannot_decode(monkeypatch):
    """Make OpenCV fail on every file, as old versions do on GIF."""
    monkeypatch.setattr(image_loading.cv2, 'imdecode', lambda *args: None)


@pytest.mark.parametrize('name', ['animation.gif', 'rgba.png', 'palette.png', 'grayscale.jpg'])
def test_pillow_fallback_gives_the_same_images(tmp_path, opencv_cannot_decode, name):
    image, save_args = odd_images()[name]
    path = write_pil(tmp_path / name, image, **save_args)
    np.testing.assert_array_equal(load(path)['img'], pil_bgr(path))


def test_pillow_fallback_scales_16_bit_gray(tmp_path, opencv_cannot_decode):
    samples = sixteen_bit(1)
    path = write_pil(tmp_path / 'deep.png', Image.fromarray(samples))
    img = load(path)['img']
    np.testing.assert_array_equal(img, np.repeat((samples >> 8).astype(np.uint8)[..., None], 3, axis=2))


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(cv2.resize(smooth_rgb(), (320, 240))).save(buffer, 'JPEG')
    return buffer.getvalue()


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(cv2.resize(smooth_rgb(), (320, 240))).save(buffer, 'PNG')
    return buffer.getvalue()


def test_missing_file_raises_naming_it(tmp_path):
    path = tmp_path / 'nowhere' / 'missing.jpg'
    with pytest.raises(ImageLoadError, match='not found') as info:
        load(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, OSError)


@pytest.mark.parametrize(
    'content',
    [
        pytest.param(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes(), id='random'),
        pytest.param(b'', id='empty'),
        pytest.param(jpeg_bytes()[: len(jpeg_bytes()) // 2], id='jpeg-half'),
        pytest.param(jpeg_bytes()[:-2], id='jpeg-no-end-marker'),
        pytest.param(png_bytes()[: len(png_bytes()) // 2], id='png-half'),
    ],
)
def test_corrupt_or_truncated_file_raises_naming_it(tmp_path, content):
    path = tmp_path / 'broken.jpg'
    path.write_bytes(content)
    with pytest.raises(ImageLoadError) as info:
        load(path)
    assert str(path) in str(info.value)


def test_truncated_jpeg_is_an_error_even_where_opencv_pads_it(tmp_path, monkeypatch):
    # OpenCV 4 decodes a truncated JPEG into an image padded with grey.
    monkeypatch.setattr(image_loading.cv2, 'imdecode', lambda *args: np.full((240, 320, 3), 128, np.uint8))
    path = tmp_path / 'cut.jpg'
    content = jpeg_bytes()
    path.write_bytes(content[: len(content) * 3 // 4])
    with pytest.raises(ImageLoadError, match='cut.jpg'):
        load(path)


def test_jpeg_with_trailing_bytes_still_loads(tmp_path):
    clean, padded = tmp_path / 'clean.jpg', tmp_path / 'padded.jpg'
    clean.write_bytes(jpeg_bytes())
    padded.write_bytes(jpeg_bytes() + b'\x00' * 300 + b'trailing junk')
    np.testing.assert_array_equal(load(padded)['img'], load(clean)['img'])


def test_ignore_empty_returns_none(tmp_path):
    assert LoadImageFromFile(ignore_empty=True)(dict(img_path=str(tmp_path / 'missing.png'))) is None


def test_to_float32(tmp_path):
    path = write_pil(tmp_path / 'image.png', Image.fromarray(smooth_rgb()))
    img = LoadImageFromFile(to_float32=True)(dict(img_path=str(path)))['img']
    assert img.dtype == np.float32
    np.testing.assert_array_equal(img, load(path)['img'])


def test_array_input_is_used_as_is():
    array = smooth_rgb()[..., ::-1].copy()
    results = LoadImageFromFile()(dict(img=array))
    assert results['img'] is array
    assert results['img_shape'] == results['ori_shape'] == (48, 64)


@pytest.mark.parametrize('shape', [(48, 64), (48, 64, 1), (48, 64, 4)])
def test_array_input_gets_three_channels(shape):
    array = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    img = LoadImageFromFile()(dict(img=array))['img']
    assert img.shape == (48, 64, 3)
    np.testing.assert_array_equal(img[..., 0], array if array.ndim == 2 else array[..., 0])


def test_blip_scope_builds_our_transform():
    with DefaultScope.overwrite_default_scope('blip'):
        transform = ROOT_TRANSFORMS.build(dict(type='LoadImageFromFile'))
    assert type(transform) is LoadImageFromFile


def test_inferencer_path_matches_dataset_path(tmp_path):
    """mmpretrain's ImageCaptionInferencer drops LoadImageFromFile by name and
    feeds ``mmcv.imread`` arrays to the rest of the test pipeline; it must give
    the same inputs as the dataset pipeline, which loads the file itself."""
    path = write_pil(tmp_path / 'image.jpg', Image.fromarray(smooth_rgb(120, 90)))
    pipeline_cfg = Config.fromfile(str(CONFIG_DIR / 'coco_caption.py')).test_pipeline
    with DefaultScope.overwrite_default_scope('blip'):
        dataset_pipeline = Compose(pipeline_cfg)
        without_loading = remove_transform(pipeline_cfg, 'LoadImageFromFile')
        assert len(without_loading) == len(pipeline_cfg) - 1
        inferencer_pipeline = Compose(without_loading)
        # The same pipeline with the loader kept also accepts in-memory arrays.
        array_pipeline = Compose(pipeline_cfg)

    from_file = dataset_pipeline(dict(img_path=str(path), image_id=7))
    img = mmcv.imread(str(path))
    from_inferencer = inferencer_pipeline(dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2]))
    from_array = array_pipeline(dict(img=img))
    assert tuple(from_file['inputs'].shape) == (3, 384, 384)
    assert from_file['data_samples'].image_id == 7
    assert (from_file['inputs'] == from_inferencer['inputs']).all()
    assert (from_file['inputs'] == from_array['inputs']).all()
