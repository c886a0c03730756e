"""User-facing API: ``get_model``, ``list_models`` and ``inference_model``."""

import os

import torch

from .capfilt import CapFilt
from .grounding_inferencer import GroundingInferencer
from .inferencer import CaptionInferencer, Inferencer, build_inferencer
from .model_zoo import ModelInfo, get_model, list_models, model_info, model_zoo_root
from .nlvr_inferencer import NLVRInferencer
from .retrieval_inferencer import RetrievalInferencer
from .vqa_inferencer import VQAInferencer


def inference_model(
    model: str | os.PathLike | torch.nn.Module,
    *inputs,
    pretrained: bool | str = True,
    device: str | torch.device | None = None,
    **kwargs,
):
    """Run a model on inputs, as mmpretrain's ``inference_model`` does.

    Args:
        model: A metafile name, a config path, or a model from :func:`get_model`.
        *inputs: The task's inputs, e.g. an image path, array or a list of them,
            then the task's text (question, NLVR statement, referring
            expression). For NLVR one input is a pair ``(left, right)``.
        pretrained: Weights when ``model`` is a name or config (see
            :func:`get_model`); ignored for a built model.
        device: Device for a model built here. A model built here for the
            CPU computes with the inference-only oneDNN modules
            (:func:`blip.models.cpu_inference.optimize`); a model given is used
            as it is.
        **kwargs: Passed to the task's inferencer (e.g. ``batch_size``).

    Returns:
        The result dict for one input (``{'pred_caption': ...}`` for captioning,
        ``{'pred_label', 'pred_class', 'pred_score', 'pred_scores'}`` for NLVR,
        ``{'pred_bboxes': [[x0, y0, x1, y1]]}`` for grounding, ``{'text' or
        'image', 'matches': [{'index', 'image' or 'text', 'score'}]}`` for
        retrieval, whose ``gallery=`` keyword names the images or texts to
        search), or a list of them for a list of inputs.
    """
    built_here = not isinstance(model, torch.nn.Module)
    if built_here:
        model = get_model(model, pretrained=pretrained, device=device)
    inferencer = build_inferencer(model, cpu_optimize=built_here)
    names = inferencer.input_names
    if len(inputs) > len(names):
        extra = ', '.join(f'{value!r:.60}' for value in inputs[len(names) :])
        raise TypeError(
            f'{type(model).__name__} takes {len(names)} input(s) ({", ".join(names)}), got {len(inputs)}: '
            f'{extra} is not used'
            + (' (a question needs a VQA model)' if names == ('images',) else '')
            + '; options such as batch_size are keyword arguments'
        )
    results = inferencer(*inputs, **kwargs)
    return results if inferencer.is_batch(*inputs) else results[0]


__all__ = [
    'CapFilt',
    'CaptionInferencer',
    'GroundingInferencer',
    'Inferencer',
    'ModelInfo',
    'NLVRInferencer',
    'RetrievalInferencer',
    'VQAInferencer',
    'build_inferencer',
    'get_model',
    'inference_model',
    'list_models',
    'model_info',
    'model_zoo_root',
]
