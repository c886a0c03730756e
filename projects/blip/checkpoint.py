"""Loading weights safely: released checkpoints, our own runs' checkpoints, URLs.

Every checkpoint is read with ``torch.load(weights_only=True)``. Training
checkpoints hold mmengine's ``message_hub`` history buffers: importing ``blip``
makes them pickle as plain arrays and allow-lists only the function that
rebuilds them and numpy's array classes, so ``load_from`` and ``resume`` work on
torch >= 2.6 without turning on arbitrary unpickling.
"""

import copyreg
import os
import pickle
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from torch import nn

#: Download timeout in seconds; offline machines fail fast instead of hanging.
DOWNLOAD_TIMEOUT = float(os.environ.get('BLIP_DOWNLOAD_TIMEOUT', 15))


def _numpy_globals() -> list:
    """numpy's array reconstruction, under its numpy 2 and numpy 1 module names."""
    from numpy._core.multiarray import _reconstruct, scalar

    numeric = ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64')
    scalars = [np.dtype(t).type for t in (*numeric, 'float16', 'float32', 'float64')]
    dtypes = [type(np.dtype(t)) for t in scalars]
    return [
        np.ndarray,
        np.dtype,
        _reconstruct,
        (_reconstruct, 'numpy.core.multiarray._reconstruct'),
        scalar,
        (scalar, 'numpy.core.multiarray.scalar'),
        *scalars,
        *dtypes,
    ]


def restore_history_buffer(
    log_history: np.ndarray, count_history: np.ndarray, max_length: int
) -> HistoryBuffer:
    """Rebuild an mmengine ``HistoryBuffer`` from its data (the unpickling side)."""
    return HistoryBuffer(log_history, count_history, max_length)


def _reduce_history_buffer(buffer: HistoryBuffer):
    # By default a HistoryBuffer pickles its statistics methods through
    # ``getattr``, which weights_only loading rightly refuses: pickle only data.
    return restore_history_buffer, (buffer._log_history, buffer._count_history, buffer.max_length)


def allow_mmengine_checkpoints() -> None:
    """Make mmengine training checkpoints loadable with ``weights_only=True``.

    History buffers are pickled as data (:func:`restore_history_buffer` plus
    arrays), and only that function and numpy's array classes are allow-listed.
    """
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    torch.serialization.add_safe_globals([restore_history_buffer, *_numpy_globals()])


class CheckpointMismatchError(RuntimeError):
    """A checkpoint whose keys or shapes do not fit the model."""


def _cache_dir() -> Path:
    return Path(torch.hub.get_dir()) / 'checkpoints'


def cache_name(url: str) -> str:
    """The file name of ``url`` in the cache: its last component, with the
    repository in front for a Hugging Face Hub file (whose names, e.g.
    ``pytorch_model.bin``, repeat across models)."""
    parts = urllib.parse.urlparse(url).path.strip('/').split('/')
    if 'resolve' in parts:  # https://huggingface.co/<owner>/<name>/resolve/<revision>/<file>
        return '--'.join(parts[: parts.index('resolve')] + parts[-1:])
    return parts[-1]


def download(url: str) -> Path:
    """Return the local copy of ``url`` (torch hub's cache, :func:`cache_name`),
    downloading it once.

    Raises a ``RuntimeError`` naming the URL when it cannot be fetched, e.g.
    offline, within ``BLIP_DOWNLOAD_TIMEOUT`` seconds.
    """
    target = _cache_dir() / cache_name(url)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
            with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
                shutil.copyfileobj(response, tmp)
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        raise RuntimeError(
            f'Could not download the weights {url} ({error}). Download the file on a '
            f"machine with internet access and pass its path as pretrained='/path/to/file.pth' "
            f'(or put it in {target.parent} as {target.name}).'
        ) from error
    os.replace(tmp.name, target)
    return target


def read_state_dict(checkpoint: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The model weights of a checkpoint file or URL (``state_dict`` of mmengine
    checkpoints, ``model`` of the official BLIP ones, a ``.safetensors`` file,
    or a bare state dict)."""
    path = download(str(checkpoint)) if str(checkpoint).startswith(('http://', 'https://')) else checkpoint
    if not Path(path).is_file():
        raise FileNotFoundError(f'checkpoint not found: {path}')
    if str(path).endswith('.safetensors'):
        from safetensors.torch import load_file

        return load_file(str(path))
    allow_mmengine_checkpoints()
    try:
        content = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointMismatchError(
            f'{path}: holds objects besides weights, which are not unpickled for safety ({error}). '
            "Load it once in a trusted session and save its weights alone: torch.save({'model': "
            "torch.load(path, weights_only=False)['model']}, 'weights.pth')."
        ) from error
    if not isinstance(content, Mapping):
        raise CheckpointMismatchError(f'{path}: expected a dict of weights, got {type(content).__name__}')
    for key in ('state_dict', 'model'):
        if isinstance(content.get(key), Mapping):
            content = content[key]
            break
    return {k.removeprefix('module.'): v for k, v in content.items()}


def _listing(title: str, keys: list[str], limit: int = 20) -> str:
    shown = ', '.join(keys[:limit]) + (f', ... ({len(keys) - limit} more)' if len(keys) > limit else '')
    return f'\n  {title} ({len(keys)}): {shown}'


def mismatch_report(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> str:
    """The missing, unexpected and wrongly shaped keys of ``state_dict`` for
    ``model`` as text (empty when it fits).

    Position embeddings of the image tower are exempt from the shape check:
    they are resampled to the model's image size when loaded.
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    wrong_shape = sorted(
        f'{k} {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}'
        for k in set(own) & set(state_dict)
        if state_dict[k].shape != own[k].shape and not k.endswith('pos_embed')
    )
    return (
        (_listing('missing keys', missing) if missing else '')
        + (_listing('unexpected keys', unexpected) if unexpected else '')
        + (_listing('shape mismatches', wrong_shape) if wrong_shape else '')
    )


def load_state_dict_strict(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = ''
) -> None:
    """Load ``state_dict`` with ``strict=True``; on a mismatch raise an error that
    says what the checkpoint is and lists the missing, unexpected and wrongly
    shaped keys (see :func:`mismatch_report`).

    A BLIP model converts an official or Hugging Face state dict first
    (``model.to_checkpoint_format``).
    """
    from blip.converters import describe

    if hasattr(model, 'to_checkpoint_format'):
        state_dict = model.to_checkpoint_format(state_dict)
    report = mismatch_report(model, state_dict)
    if report:
        expected = model.describe() if hasattr(model, 'describe') else type(model).__name__
        raise CheckpointMismatchError(
            f'checkpoint {source or ""} is {describe(state_dict)}; it does not fit {expected}' + report
        )
    model.load_state_dict(state_dict, strict=True)


def load_checkpoint(model: nn.Module, checkpoint: str | os.PathLike) -> nn.Module:
    """Load a checkpoint file or URL into ``model`` strictly; returns the model.

    Official BLIP and Hugging Face checkpoints are converted on the way.
    """
    load_state_dict_strict(model, read_state_dict(checkpoint), str(checkpoint))
    return model
