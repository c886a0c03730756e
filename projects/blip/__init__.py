"""BLIP for OpenMMLab: BLIP's models, data and metrics as an mmengine plugin."""

try:
    import mmcv  # noqa: F401
except ModuleNotFoundError as error:
    if error.name != 'mmcv':
        raise
    # Not an install requirement: mmcv-lite would overwrite the full mmcv of a GPU stack.
    raise ModuleNotFoundError(
        'blip needs mmcv, which `pip install -e .` leaves to you: install mmcv-lite with '
        '`pip install -e ".[lite]"` (or `pip install "mmcv-lite>=2.0.0,<2.3"`), or, next to a GPU stack, the '
        'full mmcv (https://mmcv.readthedocs.io/en/latest/get_started/installation.html)',
        name='mmcv',
    ) from None

# mmpretrain's transforms, datasets and metrics register into the parent
# registries that ours fall back to; ``mmpretrain.models`` is never imported.
import mmpretrain.datasets  # noqa: F401
import mmpretrain.evaluation  # noqa: F401

from . import datasets, engine, evaluation, models  # noqa: F401
from .apis import get_model, inference_model, list_models
from .apis.mmpretrain_inferencers import (
    ImageCaptionInferencer,
    ImageToTextRetrievalInferencer,
    NLVRInferencer,
    TextToImageRetrievalInferencer,
    VisualGroundingInferencer,
    VisualQuestionAnsweringInferencer,
)
from .checkpoint import allow_mmengine_checkpoints
from .version import __version__

# mmengine's load_from/resume read our runs' checkpoints with torch.load's
# default weights_only=True: allow the data-only classes they contain.
allow_mmengine_checkpoints()

# mmpretrain's inferencers by its names (``from mmpretrain import X`` -> ``from blip import X``);
# blip.apis holds our own per-task inferencers.
__all__ = [
    'ImageCaptionInferencer',
    'ImageToTextRetrievalInferencer',
    'NLVRInferencer',
    'TextToImageRetrievalInferencer',
    'VisualGroundingInferencer',
    'VisualQuestionAnsweringInferencer',
    '__version__',
    'get_model',
    'inference_model',
    'list_models',
]
