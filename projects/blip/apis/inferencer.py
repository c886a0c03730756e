"""Inference on user inputs: test pipeline from the model's config, batching,
and plain-dict results. One inferencer per task; :func:`inference_model` picks it."""

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from PIL import Image

from blip.datasets.image_loading import LoadImageFromFile, as_bgr_image
from blip.models.cpu_inference import optimize
from blip.registry import TRANSFORMS

from . import visualization

ImageInput = str | os.PathLike | np.ndarray | Image.Image
#: What ``out=`` takes: a file (one input), a folder (several) or one file per input.
OutPath = str | os.PathLike | Sequence[str | os.PathLike]


def is_single_image(value) -> bool:
    """Whether ``value`` is one image input (not a list of them)."""
    return isinstance(value, (str, os.PathLike, np.ndarray, Image.Image))


def image_list(images, what: str = 'images') -> list:
    """One image or a list of them, as a list; ``None`` or a non-list is an error naming it."""
    if is_single_image(images):
        return [images]
    if images is None or not isinstance(images, (list, tuple)):
        raise TypeError(
            f'{what}: give an image (path, BGR array or PIL image) or a list of them, not {images!r:.60}'
        )
    return list(images)


def _image_item(image: ImageInput, index: int = 0) -> dict:
    """A pipeline input for a path, a BGR array (as ``mmcv.imread`` gives) or a PIL image.

    Arrays and PIL images are checked and converted here (:func:`as_bgr_image`),
    so a bad one is an error naming it before any batch runs.
    """
    if isinstance(image, (str, os.PathLike)):
        return dict(img_path=str(image))
    if image is None:
        raise TypeError(f'image {index} is None: give a file path, a BGR array or a PIL image')
    array = as_bgr_image(image, name=f'image {index}')
    return dict(img=array, img_shape=array.shape[:2], ori_shape=array.shape[:2])


def load_image(image: ImageInput) -> np.ndarray:
    """The BGR ``uint8`` array of an image input, as the test pipeline reads it."""
    if isinstance(image, (str, os.PathLike)):
        return LoadImageFromFile()(dict(img_path=str(image)))['img']
    return as_bgr_image(image)


def image_name(image: ImageInput) -> str:
    """A short name of an image input, for drawings' file names."""
    return Path(image).stem if isinstance(image, (str, os.PathLike)) else 'image'


def check_batch_size(batch_size) -> int:
    """``batch_size`` if it is a positive integer; else a ``ValueError`` saying so."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f'batch_size must be a positive integer, got {batch_size!r}')
    return batch_size


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

    #: The positional inputs of ``__call__`` (what :func:`blip.inference_model` passes on).
    input_names: tuple[str, ...] = ('images',)

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
        check_batch_size(batch_size)
        items = list(items)
        predictions = []
        for start in range(0, len(items), batch_size):
            batch = pseudo_collate([self._prepare(item) for item in items[start : start + batch_size]])
            with torch.no_grad():
                predictions.extend(self.model.test_step(batch))
        return predictions

    @staticmethod
    def save_drawings(out: OutPath, names: Sequence[str], drawings: Sequence[np.ndarray]) -> list[Path]:
        """Write ``drawings``: to ``out`` for one, ``out/<index>_<name>.png`` for several,
        or to the paths of a list ``out``; returns the paths."""
        paths = visualization.drawing_paths(out, names)
        return [visualization.save_image(path, drawing) for path, drawing in zip(paths, drawings)]


class CaptionInferencer(Inferencer):
    """Caption images: ``CaptionInferencer(model)(images) -> [{'pred_caption': ...}]``."""

    def __call__(
        self, images: ImageInput | Sequence[ImageInput], batch_size: int = 1, out: OutPath | None = None
    ) -> list[dict]:
        """Caption each image.

        Args:
            images: An image (path, BGR array or PIL image) or a list of them.
            batch_size: Images per forward pass.
            out: Save each image with its caption below it: a file for one
                image, a folder (``<index>_<name>.png``) or one file per image.

        Returns:
            One ``{'pred_caption': ...}`` per image (and ``pred_captions``, the
            best beams, when the model returns several).
        """
        images = image_list(images)
        check_batch_size(batch_size)
        items = [_image_item(image, index) for index, image in enumerate(images)]
        results = []
        for sample in self.run(items, batch_size):
            result = {'pred_caption': sample.pred_caption}
            if 'pred_captions' in sample:
                result['pred_captions'] = sample.pred_captions
            results.append(result)
        if out is not None:
            drawings = [self.draw(image, result) for image, result in zip(images, results)]
            self.save_drawings(out, [image_name(image) for image in images], drawings)
        return results

    @staticmethod
    def draw(image: ImageInput, result: dict) -> np.ndarray:
        """The image with its caption below it."""
        return visualization.with_text(load_image(image), [result['pred_caption']])


#: Model class name -> inferencer class.
INFERENCERS: dict[str, Callable[..., Inferencer]] = {'BlipCaption': CaptionInferencer}


def build_inferencer(model: torch.nn.Module, cpu_optimize: bool = False) -> Inferencer:
    """The inferencer for ``model``'s task (``cpu_optimize``: see :class:`Inferencer`)."""
    name = type(model).__name__
    if name not in INFERENCERS:
        raise ValueError(f'no inferencer for {name}; known: {sorted(INFERENCERS)}')
    return INFERENCERS[name](model, cpu_optimize=cpu_optimize)
