"""Inference for visual grounding: the box of a referring expression, optionally drawn."""

from collections.abc import Sequence

import numpy as np

from . import visualization
from .inferencer import (
    INFERENCERS,
    ImageInput,
    Inferencer,
    OutPath,
    _image_item,
    check_batch_size,
    image_list,
    image_name,
    load_image,
)


class GroundingInferencer(Inferencer):
    """Find the box a referring expression describes.

    ``GroundingInferencer(model)(image, 'the man on the left')`` returns
    ``[{'pred_bboxes': [[x0, y0, x1, y1]]}]`` in pixels of the original image.
    """

    input_names = ('images', 'text')

    def __call__(
        self,
        images: ImageInput | Sequence[ImageInput],
        text: str | Sequence[str],
        batch_size: int = 1,
        out: OutPath | None = None,
    ) -> list[dict]:
        """Predict one box per image and expression.

        Args:
            images: An image (path, BGR array or PIL image) or a list of them.
            text: The referring expression, or one per image.
            batch_size: Images per forward pass.
            out: Where to save the image with the box drawn on it: a file for
                one image, a folder (``<index>_<name>.png`` files) for several,
                or one file per image.

        Returns:
            One ``{'pred_bboxes': [[x0, y0, x1, y1]]}`` per image.
        """
        images = image_list(images)
        check_batch_size(batch_size)
        texts = [text] * len(images) if isinstance(text, str) else list(text)
        if len(texts) != len(images):
            raise ValueError(f'{len(images)} images but {len(texts)} expressions')
        items = [
            dict(_image_item(image, index), text=expression)
            for index, (image, expression) in enumerate(zip(images, texts))
        ]
        results = [{'pred_bboxes': s.pred_bboxes.float().cpu().tolist()} for s in self.run(items, batch_size)]
        if out is not None:
            drawings = [self.draw(image, text, result) for image, text, result in zip(images, texts, results)]
            self.save_drawings(out, [image_name(image) for image in images], drawings)
        return results

    @staticmethod
    def draw(image: ImageInput, expression: str, result: dict) -> np.ndarray:
        """The image (enlarged if small) with the predicted box drawn and labelled with the expression."""
        return visualization.draw_grounding(load_image(image), result['pred_bboxes'][0], expression)


INFERENCERS['BlipGrounding'] = GroundingInferencer
