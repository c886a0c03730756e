"""BLIP for OpenMMLab: BLIP's models, data and metrics as an mmengine plugin."""

# mmpretrain's transforms, datasets and metrics register into the parent
# registries that ours fall back to; ``mmpretrain.models`` is never imported.
import mmpretrain.datasets  # noqa: F401
import mmpretrain.evaluation  # noqa: F401

from . import datasets, engine, evaluation, models  # noqa: F401
from .apis import get_model, inference_model, list_models
from .checkpoint import allow_mmengine_checkpoints
from .version import __version__

# mmengine's load_from/resume read our runs' checkpoints with torch.load's
# default weights_only=True: allow the data-only classes they contain.
allow_mmengine_checkpoints()

__all__ = ['__version__', 'get_model', 'inference_model', 'list_models']
