"""Training augmentations for visual grounding that move the boxes with the image.

mmpretrain's RefCOCO training pipeline cannot run here: it needs
``mmdet.RandomCrop`` (mmdet is not a dependency), its ``ColorJitter`` hue step
overflows ``uint8`` under numpy 2, and its ``RandomTranslatePad`` calls
``np.random.randint(0, 0)`` when the image already has the padded size. These
transforms do the same jobs; mmcv's ``RandomChoiceResize`` (which rescales
``gt_bboxes`` itself) goes between the crop and the pad.
"""

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from torchvision.transforms import ColorJitter

from blip.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomColorJitter(BaseTransform):
    """Randomly change brightness, contrast, saturation and hue of a BGR ``uint8`` image.

    torchvision's ``ColorJitter`` (random factors, random order of the four
    changes) applied with probability ``prob``; boxes are unaffected.

    Modified keys: ``img``.

    Args:
        brightness: Factor range ``[max(0, 1 - b), 1 + b]``.
        contrast: Factor range ``[max(0, 1 - c), 1 + c]``.
        saturation: Factor range ``[max(0, 1 - s), 1 + s]``.
        hue: Hue shift range ``[-hue, hue]``, at most 0.5.
        prob: Probability of jittering an image at all.
    """

    def __init__(
        self,
        brightness: float = 0.0,
        contrast: float = 0.0,
        saturation: float = 0.0,
        hue: float = 0.0,
        prob: float = 1.0,
    ) -> None:
        self.jitter = ColorJitter(brightness, contrast, saturation, hue)
        self.prob = prob

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        img = results['img']
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise TypeError(
                f'RandomColorJitter expects an H x W x 3 uint8 image, got {img.dtype} {img.shape}'
            )
        rgb = torch.from_numpy(np.ascontiguousarray(img[..., ::-1])).permute(2, 0, 1)
        rgb = self.jitter(rgb)
        results['img'] = np.ascontiguousarray(rgb.permute(1, 2, 0).numpy()[..., ::-1])
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.jitter!r}, prob={self.prob})'


def _shift_and_clip(boxes: np.ndarray, left: int, top: int, width: int, height: int) -> np.ndarray:
    boxes = boxes.astype(np.float32) - np.array([left, top, left, top], dtype=np.float32)
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
    return boxes


@TRANSFORMS.register_module()
class RandomBoxCrop(BaseTransform):
    """Crop a random window of relative size, keeping the referred box in it.

    The window's height and width are independently ``uniform(min_size, 1)``
    times the image's (mmdet's ``relative_range`` crop); ``gt_bboxes`` move
    with the crop and are clipped to it. A window that would leave a box
    without area is drawn again, up to ``max_tries`` times; after that the image
    stays uncropped.

    Required keys: ``img``, ``gt_bboxes`` ((N, 4) ``xyxy`` pixels).

    Modified keys: ``img``, ``img_shape``, ``gt_bboxes``.

    Args:
        min_size: Smallest relative ``(height, width)`` of the window.
        max_tries: Windows drawn before giving up.
    """

    def __init__(self, min_size: tuple[float, float] = (0.8, 0.8), max_tries: int = 10) -> None:
        if not all(0 < s <= 1 for s in min_size):
            raise ValueError(f'RandomBoxCrop: min_size values must be in (0, 1], got {min_size}')
        self.min_size = tuple(min_size)
        self.max_tries = max_tries

    def transform(self, results: dict) -> dict:
        img = results['img']
        height, width = img.shape[:2]
        boxes = np.asarray(results['gt_bboxes'], dtype=np.float32).reshape(-1, 4)
        for _ in range(self.max_tries):
            crop_h = int(height * np.random.uniform(self.min_size[0], 1.0) + 0.5)
            crop_w = int(width * np.random.uniform(self.min_size[1], 1.0) + 0.5)
            top = np.random.randint(0, height - crop_h + 1)
            left = np.random.randint(0, width - crop_w + 1)
            cropped = _shift_and_clip(boxes, left, top, crop_w, crop_h)
            if np.all((cropped[:, 2] > cropped[:, 0]) & (cropped[:, 3] > cropped[:, 1])):
                results['img'] = img[top : top + crop_h, left : left + crop_w]
                results['img_shape'] = (crop_h, crop_w)
                results['gt_bboxes'] = cropped
                return results
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(min_size={self.min_size}, max_tries={self.max_tries})'


@TRANSFORMS.register_module()
class TranslatePad(BaseTransform):
    """Pad an image to ``size x size`` with zeros, placing it at a random offset.

    With ``random_offset=False`` the image is centred. ``gt_bboxes`` move with
    the image. An image larger than ``size`` is an error (resize it first).

    Required keys: ``img``; optional ``gt_bboxes``.

    Modified keys: ``img``, ``img_shape``, ``gt_bboxes``.

    Args:
        size: Side of the padded square image.
        random_offset: Draw the offset uniformly (training) or centre the image.
    """

    def __init__(self, size: int = 384, random_offset: bool = True) -> None:
        self.size = size
        self.random_offset = random_offset

    def transform(self, results: dict) -> dict:
        img = results['img']
        height, width = img.shape[:2]
        spare_h, spare_w = self.size - height, self.size - width
        if spare_h < 0 or spare_w < 0:
            raise ValueError(
                f'TranslatePad: image {height}x{width} is larger than {self.size}; resize it first'
            )
        if self.random_offset:
            top, left = np.random.randint(0, spare_h + 1), np.random.randint(0, spare_w + 1)
        else:
            top, left = spare_h // 2, spare_w // 2
        canvas = np.zeros((self.size, self.size) + img.shape[2:], dtype=img.dtype)
        canvas[top : top + height, left : left + width] = img
        results['img'] = canvas
        results['img_shape'] = (self.size, self.size)
        if results.get('gt_bboxes') is not None:
            boxes = np.asarray(results['gt_bboxes'], dtype=np.float32).reshape(-1, 4)
            results['gt_bboxes'] = boxes + np.array([left, top, left, top], dtype=np.float32)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(size={self.size}, random_offset={self.random_offset})'
