"""mmpretrain's inferencers by name, signature and result keys, on our models.

Code written for mmpretrain runs with ``from blip import ...`` in place of
``from mmpretrain import ...`` (or ``mmpretrain.apis``)::

    from blip import ImageCaptionInferencer   # was: from mmpretrain import ImageCaptionInferencer

    inferencer = ImageCaptionInferencer('blip-base_3rdparty_caption')
    inferencer('demo/cat-dog.png')[0]  # {'pred_caption': '...'}

Each class is the task inferencer of :mod:`blip.apis` with mmpretrain's
constructor ``(model, pretrained=True, device=None, **kwargs)`` (a name, a
config or a built model; ``True`` takes the metafile weights, and a model
without known weights keeps random ones with a warning, as in mmpretrain),
mmpretrain's ``__call__`` (``return_datasamples``, ``batch_size``,
``show_dir=`` for pictures) and its result keys, plus ``list_models``.
Differences: a VQA result repeats the question as typed (mmpretrain gives the
cleaned text); ``show=True`` (a window) is not offered; the other drawing
options of mmpretrain's visualizer (``resize``, ``wait_time``, ...) are
accepted and ignored with a warning. ``blip.NLVRInferencer`` is this module's;
``blip.apis.NLVRInferencer`` is ours (it takes a built model and
``(pair, statement)``), and this one accepts that call too.
"""

import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from mmengine.dataset import BaseDataset
from mmpretrain.structures import DataSample

from blip.checkpoint import load_checkpoint

from .grounding_inferencer import GroundingInferencer
from .inferencer import CaptionInferencer, image_list, is_single_image
from .model_zoo import get_model, list_models, model_info
from .nlvr_inferencer import NLVRInferencer as PairInferencer
from .retrieval_inferencer import RetrievalInferencer
from .vqa_inferencer import VQAInferencer

#: mmpretrain's drawing options that our pictures do not use.
IGNORED_DRAWING_OPTIONS = ('resize', 'wait_time', 'draw_score', 'figsize', 'line_width', 'bbox_color')


def _build(model, pretrained, device, kwargs) -> tuple[torch.nn.Module, bool]:
    """The model, and whether it was built here (then float32 CPU inference is optimised)."""
    if isinstance(model, torch.nn.Module):
        if isinstance(pretrained, (str, os.PathLike)):
            load_checkpoint(model, pretrained)
        return (model if device is None else model.to(device)), False
    is_name = not str(model).endswith('.py') and not Path(model).is_file()
    if pretrained is True and (not is_name or model_info(str(model)).weights is None):
        message = f'{model}: no weights are known for it; its weights are random'
        warnings.warn(message, UserWarning, stacklevel=_caller_level())
        pretrained = False
    return get_model(model, pretrained=pretrained, device=device, **kwargs), True


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside this module (a warning points at the user's line)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get('__name__') == __name__:
        frame, level = frame.f_back, level + 1
    return level


def _image_inputs(inputs) -> list:
    """mmpretrain's input forms: an image, a list of them, or a folder of image files."""
    if isinstance(inputs, (str, os.PathLike)) and Path(inputs).is_dir():
        return sorted(str(p) for p in Path(inputs).iterdir() if p.is_file())
    return image_list(inputs)


def _stem(image, index: int) -> str:
    """mmpretrain's picture names: the file's stem, or the index for an array."""
    return Path(image).stem if isinstance(image, (str, os.PathLike)) else str(index)


class _MMPretrainStyle:
    """What every mmpretrain-style inferencer shares: construction, options, data samples."""

    #: The task of ``list_models`` (a metafile ``Results`` task).
    task = ''

    def __init__(self, model, pretrained: bool | str = True, device=None, **kwargs):
        model, built_here = _build(model, pretrained, device, kwargs)
        super().__init__(model, cpu_optimize=built_here)
        self.config = model._config

    def run(self, items, batch_size: int) -> list:
        """The task inferencer's run, keeping its data samples for ``return_datasamples=True``."""
        self.data_samples = super().run(items, batch_size)
        return self.data_samples

    @staticmethod
    def _show_dir(options: dict) -> Path | None:
        """``show_dir`` from mmpretrain's drawing options; the others are refused or ignored."""
        show_dir = options.pop('show_dir', None)
        if options.pop('show', False):
            raise ValueError('show=True (a window) is not offered: save the pictures with show_dir=FOLDER')
        ignored = sorted(key for key in options if key in IGNORED_DRAWING_OPTIONS)
        unknown = sorted(key for key in options if key not in IGNORED_DRAWING_OPTIONS)
        if unknown:
            raise ValueError(f'unknown argument(s) {unknown}')
        if ignored:
            message = f"{ignored}: not used by blip's pictures (show_dir=)"
            warnings.warn(message, UserWarning, stacklevel=_caller_level())
        return None if show_dir is None else Path(show_dir)

    @classmethod
    def list_models(cls, pattern: str | None = None) -> list[str]:
        """The metafile names of this task's models (``pattern``: a shell-style wildcard)."""
        return list_models(pattern=pattern, task=cls.task)


class ImageCaptionInferencer(_MMPretrainStyle, CaptionInferencer):
    """mmpretrain's ``ImageCaptionInferencer``: ``inferencer(images)`` -> ``[{'pred_caption'}]``."""

    task = 'Image Caption'

    def __call__(self, images, return_datasamples: bool = False, batch_size: int = 1, **kwargs) -> list:
        """Caption an image, a list of images or the images of a folder (``show_dir=``: pictures)."""
        show_dir = self._show_dir(kwargs)
        images = _image_inputs(images)
        out = None if show_dir is None else [show_dir / f'{_stem(im, i)}.png' for i, im in enumerate(images)]
        results = super().__call__(images, batch_size=batch_size, out=out)
        if return_datasamples:
            return self.data_samples
        return [{'pred_caption': result['pred_caption']} for result in results]


class VisualQuestionAnsweringInferencer(_MMPretrainStyle, VQAInferencer):
    """mmpretrain's ``VisualQuestionAnsweringInferencer``:
    ``inferencer(image, question)`` -> ``[{'question', 'pred_answer'}]``."""

    task = 'Visual Question Answering'

    def __call__(
        self,
        images,
        questions: str | Sequence[str],
        return_datasamples: bool = False,
        batch_size: int = 1,
        objects=None,
        **kwargs,
    ) -> list:
        """Answer ``questions[i]`` about ``images[i]`` (one image: one question string).

        ``objects`` is OFA's; BLIP reads no object list and refuses one.
        """
        if objects is not None:
            raise ValueError('objects= is for OFA models; BLIP does not read object lists')
        show_dir = self._show_dir(kwargs)
        images = image_list(images)
        out = None if show_dir is None else [show_dir / f'{_stem(im, i)}.png' for i, im in enumerate(images)]
        results = super().__call__(images, questions, batch_size=batch_size, out=out)
        return self.data_samples if return_datasamples else results


class VisualGroundingInferencer(_MMPretrainStyle, GroundingInferencer):
    """mmpretrain's ``VisualGroundingInferencer``:
    ``inferencer(image, text)`` -> ``[{'pred_bboxes': tensor([[x0, y0, x1, y1]])}]``."""

    task = 'Visual Grounding'

    def __call__(
        self,
        images,
        texts: str | Sequence[str],
        return_datasamples: bool = False,
        batch_size: int = 1,
        **kwargs,
    ) -> list:
        """The box of ``texts[i]`` in ``images[i]``, in pixels of the image."""
        show_dir = self._show_dir(kwargs)
        images = image_list(images)
        out = None if show_dir is None else [show_dir / f'{_stem(im, i)}.png' for i, im in enumerate(images)]
        results = super().__call__(images, texts, batch_size=batch_size, out=out)
        if return_datasamples:
            return self.data_samples
        return [{'pred_bboxes': torch.tensor(result['pred_bboxes'])} for result in results]


class NLVRInferencer(_MMPretrainStyle, PairInferencer):
    """mmpretrain's ``NLVRInferencer``: ``inferencer((left, right, text))`` or a list of
    such triples -> ``[{'pred_scores': array([p_false, p_true]), 'pred_label', 'pred_score'}]``.

    It also takes :class:`blip.apis.NLVRInferencer`'s call, ``(pair, statement)``,
    with that class's results.
    """

    task = 'NLVR'

    def __call__(self, inputs, return_datasamples: bool = False, batch_size: int = 1, **kwargs) -> list:
        """Judge each ``(left image, right image, statement)``."""
        triples = [inputs] if _is_triple(inputs) else inputs
        if not (isinstance(triples, list) and triples and all(map(_is_triple, triples))):
            # blip.apis.NLVRInferencer's call: (pair or pairs, statement(s), batch_size, out=).
            return super().__call__(inputs, return_datasamples, batch_size, **kwargs)
        show_dir = self._show_dir(kwargs)
        pairs, texts = [t[:2] for t in triples], [t[2] for t in triples]
        out = None if show_dir is None else [show_dir / f'{_stem(p[0], i)}.png' for i, p in enumerate(pairs)]
        results = super().__call__(pairs, texts, batch_size=batch_size, out=out)
        if return_datasamples:
            return self.data_samples
        return [
            {
                'pred_scores': np.asarray(r['pred_scores'], dtype=np.float32),
                'pred_label': r['pred_label'],
                'pred_score': r['pred_score'],
            }
            for r in results
        ]


def _is_triple(value) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 3
        and is_single_image(value[0])
        and is_single_image(value[1])
        and isinstance(value[2], str)
    )


class _Retrieval(_MMPretrainStyle, RetrievalInferencer):
    """mmpretrain's retrieval inferencers: a fixed gallery (``prototype``), queries per call."""

    #: ``'t2i'`` (text queries, image gallery) or ``'i2t'``.
    mode = ''

    def __init__(
        self,
        model,
        prototype,
        prototype_cache: str | os.PathLike | None = None,
        fast_match: bool = True,
        prepare_batch_size: int = 8,
        pretrained: bool | str = True,
        device=None,
        **kwargs,
    ):
        super().__init__(model, pretrained=pretrained, device=device, **kwargs)
        # As mmpretrain's: the model scores by ITC alone unless fast_match=False.
        self.model.fast_match = fast_match
        self.prototype_dataset = self._gallery(prototype)
        if prototype_cache is not None and Path(prototype_cache).is_file():
            self.prototype = torch.load(prototype_cache, map_location='cpu', weights_only=True)
        else:
            self.prototype = self._gallery_features(prepare_batch_size)
            if prototype_cache is not None:
                self.save_prototype(prototype_cache)

    def save_prototype(self, path: str | os.PathLike) -> None:
        """Save the gallery features, for ``prototype_cache=`` next time."""
        torch.save(self.prototype, path)

    def __call__(self, inputs, return_datasamples: bool = False, batch_size: int = 1, **kwargs) -> list:
        """The ``topk`` (default 1) best gallery entries of each query, best first."""
        topk = kwargs.pop('topk', 1)
        show_dir = self._show_dir(kwargs)
        queries = self._queries(inputs)
        query_feats = self.extract_feat(batch_size=batch_size, **{self.query_kind: queries})
        image_feats, text_feats = (
            (self.prototype, query_feats) if self.mode == 't2i' else (query_feats, self.prototype)
        )
        scores = self.gallery_scores(image_feats, text_feats, self.mode).float().cpu()
        if return_datasamples:
            return [DataSample(pred_score=row) for row in scores]
        results = []
        for row in scores:
            match_scores, indices = torch.topk(row, k=min(topk, len(row)))
            results.append([self._match(score, int(index)) for score, index in zip(match_scores, indices)])
        if show_dir is not None:
            self._draw(queries, results, show_dir)
        return results

    def _draw(self, queries: list, results: list, show_dir: Path) -> None:
        for index, (query, matches) in enumerate(zip(queries, results)):
            result = {
                'matches': [{'index': m['sample_idx'], 'score': float(m['match_score'])} for m in matches]
            }
            if self.mode == 't2i':
                gallery = [info.get('img_path', info.get('img')) for info in self.prototype_dataset]
                drawing = self.draw(query, gallery, dict(result, text=query))
            else:
                drawing = self.draw(query, self.prototype_dataset, result)
            name = str(index) if self.mode == 't2i' else _stem(query, index)  # mmpretrain's names
            self.save_drawings([show_dir / f'{name}.png'], [name], [drawing])


class TextToImageRetrievalInferencer(_Retrieval):
    """mmpretrain's ``TextToImageRetrievalInferencer``: search ``prototype`` images for texts.

    ``prototype`` is a folder of images, a list of image paths (or arrays), a
    dataset config dict, a dataset or a data loader. A result per text query:
    ``[{'match_score': tensor, 'sample_idx': int, 'sample': {'img_path': ...}}, ...]``.
    """

    task = 'Text-To-Image Retrieval'
    mode, query_kind = 't2i', 'texts'

    @staticmethod
    def _gallery(prototype) -> list[dict]:
        from torch.utils.data import DataLoader

        from blip.registry import DATASETS

        if isinstance(prototype, (str, os.PathLike)):
            return [dict(img_path=path) for path in _image_inputs(prototype)]
        if isinstance(prototype, dict):
            prototype = DATASETS.build(dict(prototype, pipeline=[]))
        if isinstance(prototype, DataLoader):
            prototype = prototype.dataset
        if isinstance(prototype, BaseDataset):
            return [prototype.get_data_info(index) for index in range(len(prototype))]
        if isinstance(prototype, (list, tuple)):
            return [
                dict(img_path=str(p)) if isinstance(p, (str, os.PathLike)) else dict(img=p) for p in prototype
            ]
        raise TypeError(f'unsupported prototype type {type(prototype).__name__}')

    def _gallery_features(self, batch_size: int) -> dict:
        images = [info.get('img_path', info.get('img')) for info in self.prototype_dataset]
        return self.extract_feat(images=images, batch_size=batch_size)

    @staticmethod
    def _queries(inputs) -> list[str]:
        return [inputs] if isinstance(inputs, str) else list(inputs)

    def _match(self, score: torch.Tensor, index: int) -> dict:
        sample = {k: v for k, v in self.prototype_dataset[index].items() if k != 'sample_idx'}
        return {'match_score': score, 'sample_idx': index, 'sample': sample}


class ImageToTextRetrievalInferencer(_Retrieval):
    """mmpretrain's ``ImageToTextRetrievalInferencer``: search ``prototype`` texts for images.

    ``prototype`` is a list of texts or a text file with one per line. A result
    per image query: ``[{'match_score': tensor, 'sample_idx': int, 'text': ...,
    'sample': {'text': ...}}, ...]``.
    """

    task = 'Image-To-Text Retrieval'
    mode, query_kind = 'i2t', 'images'

    @staticmethod
    def _gallery(prototype) -> list[str]:
        if isinstance(prototype, (str, os.PathLike)):
            return Path(prototype).read_text(encoding='utf-8').splitlines()
        if isinstance(prototype, (list, tuple)) and all(isinstance(t, str) for t in prototype):
            return list(prototype)
        raise TypeError(f'prototype: a list of texts or a text file, not {type(prototype).__name__}')

    def _gallery_features(self, batch_size: int) -> dict:
        return self.extract_feat(texts=self.prototype_dataset, batch_size=batch_size)

    @staticmethod
    def _queries(inputs) -> list:
        return _image_inputs(inputs)

    def _match(self, score: torch.Tensor, index: int) -> dict:
        text = self.prototype_dataset[index]
        return {'match_score': score, 'sample_idx': index, 'text': text, 'sample': {'text': text}}


__all__ = [
    'ImageCaptionInferencer',
    'ImageToTextRetrievalInferencer',
    'NLVRInferencer',
    'TextToImageRetrievalInferencer',
    'VisualGroundingInferencer',
    'VisualQuestionAnsweringInferencer',
]
