"""Inference on user inputs: test pipeline from the model's config, batching,
and plain-dict results. One inferencer per task; :func:`inference_model` picks it."""

import os
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from PIL import Image

from blip.models.cpu_inference import optimize
from blip.registry import TRANSFORMS

ImageInput = str | os.PathLike | np.ndarray | Image.Image


def _image_item(image: ImageInput) -> dict:
    """A pipeline input for a path, a BGR array (as ``mmcv.imread`` gives) or a PIL image."""
    if isinstance(image, Image.Image):
        image = np.ascontiguousarray(np.asarray(image.convert('RGB'))[..., ::-1])
    if isinstance(image, np.ndarray):
        return dict(img=image, img_shape=image.shape[:2], ori_shape=image.shape[:2])
    return dict(img_path=str(image))


class Inferencer:
    """Runs a model's test pipeline and ``test_step`` on inputs given by a user.

    Args:
        model: A model from :func:`blip.get_model` (it carries ``_config``);
            it is put in eval mode.
        cpu_optimize: At float32 on CPU, first swap in the inference-only
            oneDNN modules (:func:`blip.models.cpu_inference.optimize`: same
            outputs to float rounding, faster; the model can no longer be
            trained or moved). :func:`blip.inference_model` does for the
            models it builds from a name or config.
    """

    def __init__(self, model: torch.nn.Module, cpu_optimize: bool = False):
        if not hasattr(model, '_config'):
            raise ValueError('the model has no _config: build it with blip.get_model(...)')
        self.model = model.eval()
        if cpu_optimize and model.precision == 'float32':
            optimize(model)
        with DefaultScope.overwrite_default_scope('blip'):
            self.pipeline = [TRANSFORMS.build(t) for t in model._config.test_dataloader.dataset.pipeline]

    def is_batch(self, *inputs) -> bool:
        """Whether ``self(*inputs)`` runs a batch (a list of samples) rather than one sample."""
        return not inputs or isinstance(inputs[0], (list, tuple))

    def _prepare(self, item: dict) -> dict:
        for transform in self.pipeline:
            item = transform(item)
        return item

    def run(self, items: Iterable[dict], batch_size: int) -> list:
        """Data samples predicted for pipeline inputs ``items``, in order."""
        items = list(items)
        predictions = []
        for start in range(0, len(items), batch_size):
            batch = pseudo_collate([self._prepare(item) for item in items[start : start + batch_size]])
            with torch.no_grad():
                predictions.extend(self.model.test_step(batch))
        return predictions


class CaptionInferencer(Inferencer):
    """Caption images: ``CaptionInferencer(model)(images) -> [{'pred_caption': ...}]``."""

    def __call__(self, images: ImageInput | Sequence[ImageInput], batch_size: int = 1) -> list[dict]:
        images = [images] if isinstance(images, (str, os.PathLike, np.ndarray, Image.Image)) else images
        results = []
        for sample in self.run(map(_image_item, images), batch_size):
            result = {'pred_caption': sample.pred_caption}
            if 'pred_captions' in sample:
                result['pred_captions'] = sample.pred_captions
            results.append(result)
        return results


#: Model class name -> inferencer class.
INFERENCERS: dict[str, Callable[..., Inferencer]] = {'BlipCaption': CaptionInferencer}


def build_inferencer(model: torch.nn.Module, cpu_optimize: bool = False) -> Inferencer:
    """The inferencer for ``model``'s task (``cpu_optimize``: see :class:`Inferencer`)."""
    name = type(model).__name__
    if name not in INFERENCERS:
        raise ValueError(f'no inferencer for {name}; known: {sorted(INFERENCERS)}')
    return INFERENCERS[name](model, cpu_optimize=cpu_optimize)
