"""BLIP for OpenMMLab: BLIP's models, data and metrics as an mmengine plugin."""

# mmpretrain's transforms, datasets and metrics register into the parent
# registries that ours fall back to; ``mmpretrain.models`` is never imported.
import mmpretrain.datasets  # noqa: F401
import mmpretrain.evaluation  # noqa: F401

from . import datasets, engine, evaluation, models  # noqa: F401
from .version import __version__

__all__ = ['__version__']
