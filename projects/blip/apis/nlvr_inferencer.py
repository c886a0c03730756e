"""Inference for NLVR2: is a statement true of a pair of images?"""

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
    image_name,
    is_single_image,
    load_image,
)

#: Class names of the two labels (NLVR2's annotation values).
CLASSES = ('False', 'True')


def _is_pair(value) -> bool:
    return isinstance(value, (list, tuple)) and len(value) == 2 and all(map(is_single_image, value))


class NLVRInferencer(Inferencer):
    """Judge statements about image pairs.

    ``NLVRInferencer(model)((left, right), 'statement')`` returns
    ``[{'pred_label': 1, 'pred_class': 'True', 'pred_score': 0.87,
    'pred_scores': [0.13, 0.87]}]``: label 1 means the statement is true,
    ``pred_score`` is the probability of the predicted label.

    The config's test pipeline must start with ``ApplyToList`` (the per-image
    transforms); its transforms run on each image of the pair here, so images
    may be paths, BGR arrays or PIL images.
    """

    input_names = ('images', 'text')

    def __init__(self, model, cpu_optimize: bool = False):
        super().__init__(model, cpu_optimize)
        per_image = self.pipeline[0]
        if not hasattr(per_image, 'transforms') or not hasattr(per_image, 'collate_keys'):
            raise ValueError(
                'NLVR test pipeline: the first transform must be ApplyToList with the per-image transforms'
            )
        self.per_image, self.per_pair = per_image, self.pipeline[1:]

    def is_batch(self, images=None, *args) -> bool:
        """A pair ``(left, right)`` is one sample; a list of pairs is a batch."""
        return not _is_pair(images)

    def _prepare(self, item: dict) -> dict:
        singles = [self.per_image.transforms(image) for image in item.pop('pair')]
        pair = dict(singles[0], **item)
        for key in self.per_image.collate_keys:
            if key in singles[0]:
                pair[key] = [single[key] for single in singles]
        for transform in self.per_pair:
            pair = transform(pair)
        return pair

    def __call__(
        self,
        images: Sequence[ImageInput] | Sequence[Sequence[ImageInput]],
        text: str | Sequence[str],
        batch_size: int = 1,
        out: OutPath | None = None,
    ) -> list[dict]:
        """Predict whether each statement is true of its image pair.

        Args:
            images: One pair ``(left, right)`` or a list of pairs; an image is a
                path, a BGR array or a PIL image.
            text: The statement, or one statement per pair.
            batch_size: Pairs per forward pass.
            out: Save each pair side by side with the statement and the
                verdict below: a file for one pair, a folder (named after the
                left image) or one file per pair.

        Returns:
            One result dict per pair (see the class docstring).
        """
        check_batch_size(batch_size)
        if images is None or not isinstance(images, (list, tuple)):
            raise TypeError(f'NLVR takes image pairs (left, right) or a list of them, not {images!r:.60}')
        pairs = [images] if _is_pair(images) else list(images)
        for index, pair in enumerate(pairs):
            if not _is_pair(pair):
                raise ValueError(
                    f'NLVR takes image pairs (left, right) or a list of them; input {index} is not a pair'
                )
        texts = [text] * len(pairs) if isinstance(text, str) else list(text)
        if len(texts) != len(pairs):
            raise ValueError(f'{len(pairs)} image pairs but {len(texts)} statements')
        items = [
            dict(
                pair=[_image_item(image, 2 * index + side) for side, image in enumerate(pair)], text=statement
            )
            for index, (pair, statement) in enumerate(zip(pairs, texts))
        ]
        results = []
        for sample in self.run(items, batch_size):
            scores = sample.pred_score.float().cpu()
            label = int(sample.pred_label)
            results.append(
                {
                    'pred_label': label,
                    'pred_class': CLASSES[label],
                    'pred_score': float(scores[label]),
                    'pred_scores': scores.tolist(),
                }
            )
        if out is not None:
            drawings = [self.draw(pair, statement, r) for pair, statement, r in zip(pairs, texts, results)]
            self.save_drawings(out, [image_name(pair[0]) for pair in pairs], drawings)
        return results

    @staticmethod
    def draw(pair: Sequence[ImageInput], statement: str, result: dict) -> np.ndarray:
        """The pair side by side, the statement and the verdict below."""
        colour = visualization.GREEN if result['pred_label'] else visualization.RED
        verdict = f'{result["pred_class"]} (p = {result["pred_score"]:.2f})'
        return visualization.draw_pair([load_image(image) for image in pair], [statement, (verdict, colour)])


INFERENCERS['BlipNLVR'] = NLVRInferencer
