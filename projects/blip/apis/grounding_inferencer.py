"""Inference for visual grounding: the box of a referring expression, optionally drawn."""

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from blip.datasets import LoadImageFromFile

from .inferencer import INFERENCERS, ImageInput, Inferencer, _image_item


def draw_box(image: np.ndarray, box: Sequence[float], label: str = '') -> np.ndarray:
    """A copy of the BGR ``image`` with ``box`` (``xyxy`` pixels) drawn, and ``label`` above it."""
    canvas = np.ascontiguousarray(image).copy()
    thickness = max(2, round(max(canvas.shape[:2]) / 200))
    x0, y0, x1, y1 = (round(float(v)) for v in box)
    cv2.rectangle(canvas, (x0, y0), (x1, y1), (0, 200, 0), thickness)
    if label:
        scale = thickness / 3
        (width, height), baseline = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = max(y0 - height - baseline - thickness, 0)
        cv2.rectangle(canvas, (x0, top), (x0 + width, top + height + baseline), (0, 200, 0), -1)
        cv2.putText(canvas, label, (x0, top + height), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1)
    return canvas


class GroundingInferencer(Inferencer):
    """Find the box a referring expression describes.

    ``GroundingInferencer(model)(image, 'the man on the left')`` returns
    ``[{'pred_bboxes': [[x0, y0, x1, y1]]}]`` in pixels of the original image.
    """

    def __call__(
        self,
        images: ImageInput | Sequence[ImageInput],
        text: str | Sequence[str],
        batch_size: int = 1,
        out: str | os.PathLike | None = None,
    ) -> list[dict]:
        """Predict one box per image and expression.

        Args:
            images: An image (path, BGR array or PIL image) or a list of them.
            text: The referring expression, or one per image.
            batch_size: Images per forward pass.
            out: Where to save the image with the box drawn on it: a file for
                one image, a folder (``<index>_<name>.png`` files) for several.

        Returns:
            One ``{'pred_bboxes': [[x0, y0, x1, y1]]}`` per image.
        """
        images = [images] if isinstance(images, (str, os.PathLike, np.ndarray, Image.Image)) else list(images)
        texts = [text] * len(images) if isinstance(text, str) else list(text)
        if len(texts) != len(images):
            raise ValueError(f'{len(images)} images but {len(texts)} expressions')
        items = [dict(_image_item(image), text=expression) for image, expression in zip(images, texts)]
        results = [{'pred_bboxes': s.pred_bboxes.float().cpu().tolist()} for s in self.run(items, batch_size)]
        if out is not None:
            self.save_drawings(images, texts, results, Path(out))
        return results

    @staticmethod
    def save_drawings(images: list, texts: list[str], results: list[dict], out: Path) -> None:
        """Write each image with its predicted box to ``out`` (a file for one image, else a folder)."""
        load = LoadImageFromFile()
        for index, (image, text, result) in enumerate(zip(images, texts, results)):
            drawing = draw_box(load(_image_item(image))['img'], result['pred_bboxes'][0], text)
            if len(images) == 1:
                path = out
            else:
                name = Path(image).stem if isinstance(image, (str, os.PathLike)) else 'image'
                path = out / f'{index}_{name}.png'
            path.parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(path), drawing):
                raise OSError(f'could not write the drawing to {path} (is the file extension an image type?)')


INFERENCERS['BlipGrounding'] = GroundingInferencer
