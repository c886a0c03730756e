"""The model zoo: ``metafile.yml`` names -> configs and weights; ``get_model``."""

import fnmatch
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch
import yaml
from mmengine.config import Config
from mmengine.registry import DefaultScope

from blip.checkpoint import load_checkpoint
from blip.registry import MODELS


@cache
def model_zoo_root() -> Path:
    """The folder holding ``metafile.yml``, ``configs/blip/`` and ``checkpoints/``.

    An installed wheel carries them in the package (``blip/.mim/``, copied by
    setup.py); a clone and an editable install read them at the repository root.
    """
    package = Path(__file__).resolve().parents[1]
    for root in (package / '.mim', package.parents[1]):
        if (root / 'metafile.yml').is_file():
            return root
    raise FileNotFoundError(f'metafile.yml is neither in {package / ".mim"} nor in {package.parents[1]}')


@dataclass(frozen=True)
class ModelInfo:
    """One ``metafile.yml`` entry."""

    name: str
    config: Path
    weights: str | None
    tasks: tuple[str, ...]
    metadata: dict


@cache
def _model_index() -> dict[str, ModelInfo]:
    root = model_zoo_root()
    with open(root / 'metafile.yml', encoding='utf-8') as f:
        entries = yaml.safe_load(f).get('Models', [])
    index = {}
    for entry in entries:
        weights = entry.get('Weights')
        if weights and not weights.startswith(('http://', 'https://')):
            weights = str(root / weights)
        index[entry['Name']] = ModelInfo(
            name=entry['Name'],
            config=root / entry['Config'],
            weights=weights,
            tasks=tuple(r['Task'] for r in entry.get('Results') or []),
            metadata=entry.get('Metadata') or {},
        )
    return index


def model_info(name: str) -> ModelInfo:
    """The metafile entry of ``name``; a ``ValueError`` lists close names."""
    index = _model_index()
    if name not in index:
        close = fnmatch.filter(index, f'*{name}*') or list(index)
        raise ValueError(f'unknown model {name!r}; known models: {", ".join(sorted(close))}')
    return index[name]


def list_models(pattern: str | None = None, task: str | None = None) -> list[str]:
    """Names of the models in ``metafile.yml``.

    Args:
        pattern: Shell-style wildcard, e.g. ``'*caption*'``.
        task: Keep models evaluated on this task, e.g. ``'Image Caption'``.
    """
    names = [
        info.name
        for info in _model_index().values()
        if task is None or any(t.lower() == task.lower() for t in info.tasks)
    ]
    if pattern is not None:
        names = fnmatch.filter(names, pattern)
    return sorted(names)


def _load_config(model: str | os.PathLike | Config) -> tuple[Config, str | None]:
    if isinstance(model, Config):
        return model, None
    if str(model).endswith('.py') or Path(model).is_file():
        if not Path(model).is_file():
            raise FileNotFoundError(f'config file not found: {model}')
        return Config.fromfile(str(model)), None
    info = model_info(str(model))
    return Config.fromfile(str(info.config)), info.weights


def get_model(
    model: str | os.PathLike | Config,
    pretrained: bool | str = False,
    device: str | torch.device | None = None,
    **kwargs,
) -> torch.nn.Module:
    """Build a model from a metafile name, a config file or a ``Config``.

    Args:
        model: A name from :func:`list_models`, a config path or a ``Config``.
        pretrained: ``True`` loads the metafile weights (downloaded once into
            torch hub's cache), a path or URL loads that checkpoint, ``False``
            keeps random weights. Loading is strict.
        device: Where to put the model; defaults to CPU.
        **kwargs: Overrides merged into the config's ``model`` dict, e.g.
            ``generation_cfg=dict(num_beams=5)``.

    Returns:
        The model in eval mode, with its config as ``model._config`` (so
        :func:`inference_model` can build the test pipeline).
    """
    config, weights = _load_config(model)
    config = config.copy()
    if kwargs:
        config.merge_from_dict({'model': kwargs})
    model_cfg = config.model.copy()
    if 'data_preprocessor' in config:
        model_cfg.setdefault('data_preprocessor', config.data_preprocessor)
    with DefaultScope.overwrite_default_scope('blip'):
        net = MODELS.build(model_cfg)
    if pretrained is True:
        if weights is None:
            raise ValueError(f'{model}: no weights are known for it; pass pretrained=<path or URL>')
        pretrained = weights
    if pretrained:
        load_checkpoint(net, pretrained)
    net._config = config
    return net.to(device or 'cpu').eval()
