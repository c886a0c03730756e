"""Load an image file into the BGR ``uint8`` array every BLIP pipeline expects.

Ordinary RGB JPEG and PNG files are decoded exactly as mmcv's
``LoadImageFromFile`` decodes them (``cv2.imdecode`` with ``IMREAD_COLOR``, EXIF
orientation applied), so results match mmpretrain's pipelines bit for bit. Other
files still come out as three-channel 8-bit BGR: grayscale is replicated, alpha
is dropped, palettes and CMYK are converted, and 16-bit samples are scaled to
``0..255`` (``value >> 8``, up to rounding), where Pillow would clip them.
Formats the installed OpenCV cannot decode (GIF in older OpenCV releases, for
example) go through Pillow instead.

A file that is missing, is not an image or is truncated raises
:class:`ImageLoadError` naming the file. A truncated JPEG is always an error,
never an image padded with grey: OpenCV 5 refuses such files itself, and for
older OpenCV versions (which decode them with a warning) a JPEG that does not
end with its end-of-image marker is checked by Pillow, which rejects truncated
data.
"""

import io

import cv2
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image, ImageOps, UnidentifiedImageError

from blip.registry import TRANSFORMS

_JPEG_START = b'\xff\xd8'
_JPEG_END = b'\xff\xd9'
# Pillow modes that hold more than 8 bits per sample; Pillow's own
# ``convert('RGB')`` clips them to 255 instead of scaling.
_WIDE_GRAY_MODES = ('I', 'I;16', 'I;16B', 'I;16L', 'I;16N')


class ImageLoadError(OSError):
    """An image file could not be read or decoded; the message names it."""


def decode_image(content: bytes, path: str = '<bytes>') -> np.ndarray:
    """Decode encoded image bytes into an ``H x W x 3`` BGR ``uint8`` array.

    Args:
        content: The encoded file content (JPEG, PNG, TIFF, GIF, ...).
        path: The file the bytes came from, used in error messages.

    Returns:
        The decoded image, BGR channel order, ``uint8``.

    Raises:
        ImageLoadError: The bytes are not a complete image in a known format.
    """
    if not content:
        raise ImageLoadError(f'image file is empty: {path}')
    img = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_COLOR)
    if img is not None and not _is_truncated_jpeg(content, path):
        return img
    return _decode_with_pillow(content, path)


def _is_truncated_jpeg(content: bytes, path: str) -> bool:
    """Tell whether a JPEG that OpenCV decoded is missing its end.

    Only JPEGs without a final end-of-image marker (rare for valid files, which
    may carry trailing padding or junk) pay for a second decode by Pillow.
    """
    if not content.startswith(_JPEG_START):
        return False
    if content[-256:].rstrip(b'\x00\r\n ').endswith(_JPEG_END):
        return False
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.load()
    except Exception:  # any decoding failure means the data is incomplete
        return True
    return False


def _decode_with_pillow(content: bytes, path: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            rgb = _pillow_to_rgb(image)
    except UnidentifiedImageError as error:
        raise ImageLoadError(
            f'cannot decode image file {path}: not an image format OpenCV or Pillow reads'
        ) from error
    except Exception as error:  # Pillow's plugins raise many error types
        raise ImageLoadError(
            f'cannot decode image file {path}: {error} (the file is corrupt, truncated or not an image)'
        ) from error
    return np.ascontiguousarray(rgb[..., ::-1])


def _scale_16_bit(samples: np.ndarray) -> np.ndarray:
    """16-bit samples to 8 bits as 16-bit files are decoded (``value >> 8``)."""
    return (np.clip(samples.astype(np.int64), 0, 65535) >> 8).astype(np.uint8)


def _pillow_to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in _WIDE_GRAY_MODES:
        return np.repeat(_scale_16_bit(np.asarray(image))[..., None], 3, axis=2)
    return np.asarray(image.convert('RGB'))


def as_bgr_image(img: np.ndarray | Image.Image, name: str = 'the image') -> np.ndarray:
    """An image in memory as the ``H x W x 3`` BGR ``uint8`` array every pipeline expects.

    A PIL image is converted as a file with the same content is decoded: 16-bit
    grayscale is scaled to ``0..255`` (Pillow's ``convert('RGB')`` would clip
    it to white), alpha is dropped. An array is read in ``mmcv.imread``'s BGR
    order: a 2-D or single-channel array is gray, four channels are BGRA (the
    alpha channel is dropped); ``uint16`` samples are scaled as 16-bit files are.

    Args:
        img: A PIL image or a ``uint8`` / ``uint16`` array.
        name: How error messages call the image (e.g. ``'image 3'``).

    Raises:
        TypeError: ``img`` is neither an array nor a PIL image.
        ValueError: The array is empty, has two or more than four channels,
            or has another sample type (floats have no agreed range).
    """
    if isinstance(img, Image.Image):
        if 0 in img.size:
            raise ValueError(f'{name} is empty ({img.size[0]}x{img.size[1]} pixels)')
        if img.mode == 'F':
            raise ValueError(
                f'{name} is a 32-bit float PIL image (mode F), whose range is unknown: convert it'
            )
        return np.ascontiguousarray(_pillow_to_rgb(img)[..., ::-1])
    if not isinstance(img, np.ndarray):
        raise TypeError(f'{name} is a {type(img).__name__}: give a file path, a BGR array or a PIL image')
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (1, 3, 4)):
        raise ValueError(
            f'{name} has shape {img.shape}: give H x W (gray), H x W x 3 (BGR) or H x W x 4 (BGRA)'
            + (
                ' (two channels: gray and alpha? take the first)'
                if img.ndim == 3 and img.shape[2] == 2
                else ''
            )
        )
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f'{name} is empty ({img.shape[1]}x{img.shape[0]} pixels)')
    if img.dtype == np.uint16:
        img = _scale_16_bit(img)
    elif img.dtype != np.uint8:
        raise ValueError(
            f'{name} has {img.dtype} samples: give uint8 (0..255) or uint16 (0..65535); '
            'for floats in 0..1, (img * 255).round().astype(np.uint8)'
        )
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[2] == 1:
        return np.repeat(img, 3, axis=2)
    return img if img.shape[2] == 3 else np.ascontiguousarray(img[..., :3])


@TRANSFORMS.register_module()
class LoadImageFromFile(BaseTransform):
    """Load an image as a three-channel 8-bit BGR array.

    Replaces mmcv's transform of the same name inside the ``blip`` scope. The
    output equals mmcv's for ordinary RGB JPEG/PNG files; grayscale, RGBA,
    palette, CMYK, 16-bit and GIF images are converted (see the module
    docstring), and a missing, corrupt or truncated file raises
    :class:`ImageLoadError` naming the file.

    When ``results['img']`` already holds an array (inferencers pass images
    in memory), it is checked and converted by :func:`as_bgr_image` (gray
    replicated, alpha dropped, 16-bit scaled); the file is not read.

    Required keys: ``img_path`` (or ``img`` as an array).

    Modified keys: ``img``, ``img_shape``, ``ori_shape``.

    Args:
        to_float32: Return a ``float32`` array instead of ``uint8``.
        ignore_empty: Return ``None`` instead of raising when the file cannot
            be loaded (mmengine datasets then fetch another sample in
            training).
        backend_args: Arguments of the mmengine file backend used to read the
            file (for example ``dict(backend='petrel')``). ``None`` picks the
            backend from the path.
    """

    def __init__(
        self,
        to_float32: bool = False,
        ignore_empty: bool = False,
        *,
        backend_args: dict | None = None,
    ) -> None:
        self.to_float32 = to_float32
        self.ignore_empty = ignore_empty
        self.backend_args = None if backend_args is None else dict(backend_args)

    def transform(self, results: dict) -> dict | None:
        """Load ``results['img_path']`` (or take ``results['img']``).

        Args:
            results: The sample dict from the dataset or the inferencer.

        Returns:
            ``results`` with ``img``, ``img_shape`` and ``ori_shape`` set, or
            ``None`` when loading failed and ``ignore_empty`` is set.
        """
        given = results.get('img')
        if isinstance(given, np.ndarray):
            img = as_bgr_image(given)
        else:
            try:
                img = self._load(results['img_path'])
            except ImageLoadError:
                if self.ignore_empty:
                    return None
                raise
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def _load(self, path: str) -> np.ndarray:
        try:
            content = fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError as error:
            raise ImageLoadError(f'image file not found: {path}') from error
        except OSError as error:
            raise ImageLoadError(f'cannot read image file {path}: {error}') from error
        return decode_image(content, str(path))

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(to_float32={self.to_float32}, '
            f'ignore_empty={self.ignore_empty}, backend_args={self.backend_args})'
        )
