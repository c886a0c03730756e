"""The model zoo: ``metafile.yml`` names -> configs and weights; ``get_model``."""

import difflib
import fnmatch
import os
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch
import yaml
from mmengine.config import Config
from mmengine.registry import DefaultScope

from blip.checkpoint import load_state_dict_strict, read_state_dict
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
    """The metafile entry of ``name``; a ``ValueError`` suggests the close names."""
    index = _model_index()
    if name not in index:
        close = difflib.get_close_matches(name, index, n=3, cutoff=0.8) or fnmatch.filter(index, f'*{name}*')
        hint = f'did you mean {" or ".join(close)}?' if close else 'blip.list_models() lists the known ones'
        raise ValueError(f'unknown model {name!r} (neither a model name nor a config file): {hint}')
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


_RANDOM_WEIGHTS_SAID: set[str] = set()


def _say_random_weights_once(name: str) -> None:
    if name not in _RANDOM_WEIGHTS_SAID:
        _RANDOM_WEIGHTS_SAID.add(name)
        warnings.warn(
            f"{name}: random weights (get_model keeps random weights by default, as mmpretrain's does); "
            'pass pretrained=True for the released ones',
            UserWarning,
            stacklevel=3,
        )


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
            (the default, as mmpretrain's) keeps random weights and says so
            once for a name that has released weights. Loading is strict.
        device: Where to put the model; defaults to CPU.
        **kwargs: Overrides merged into the config's ``model`` dict, e.g.
            ``generation_cfg=dict(num_beams=5)``.

    Returns:
        The model in eval mode, with its config as ``model._config`` (so
        :func:`inference_model` can build the test pipeline).

    Raises:
        ValueError: An unknown name (the message suggests close ones), or
            ``pretrained=True`` for a model without known weights.
        blip.checkpoint.WeightsDownloadError: The weights could not be
            downloaded; raised before the model is built.
        blip.checkpoint.CheckpointLoadError: The weights file is unreadable.
    """
    config, weights = _load_config(model)
    if pretrained is False and weights is not None:
        _say_random_weights_once(str(model))
    if pretrained is True:
        if weights is None:
            raise ValueError(f'{model}: no weights are known for it; pass pretrained=<path or URL>')
        pretrained = weights
    # Read (or download) the weights first: a missing file or an offline
    # download fails before a large model is built.
    state_dict = read_state_dict(pretrained) if pretrained else None
    config = config.copy()
    if kwargs:
        config.merge_from_dict({'model': kwargs})
    model_cfg = config.model.copy()
    if 'data_preprocessor' in config:
        model_cfg.setdefault('data_preprocessor', config.data_preprocessor)
    with DefaultScope.overwrite_default_scope('blip'):
        net = MODELS.build(model_cfg)
    if state_dict is not None:
        load_state_dict_strict(net, state_dict, str(pretrained))
    net._config = config
    return net.to(device or 'cpu').eval()
