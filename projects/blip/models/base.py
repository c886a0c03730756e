"""What every BLIP task model shares: preprocessing, tokenizer, towers, dispatch, precision.

A task model is a short composition: the image tower (``image_encoder``), the
text tower (``text_encoder``) where the task reads text, and the task's heads.
The attribute names are the same in every task; the checkpoint format stays
mmpretrain's, whose names differ between tasks: each task lists its
differences in :attr:`BlipModel.checkpoint_names`, and ``state_dict`` /
``load_state_dict`` translate them, so released checkpoints load key for key.
Checkpoints in another format (the authors' official files, Hugging Face's)
are converted when they are loaded, by whichever path (``load_state_dict``,
:func:`blip.checkpoint.load_checkpoint`, mmengine's ``load_from``): see
:meth:`BlipModel.to_checkpoint_format`.
"""

from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel

from blip.checkpoint import CheckpointMismatchError, mismatch_report
from blip.registry import MODELS, TOKENIZER

from .precision import check_precision, inference_precision


def _renamed(key: str, names: Mapping[str, str]) -> str:
    """``key`` with its first component renamed by ``names`` (``'a.b'`` -> ``names['a'] + '.b'``)."""
    head, _, tail = key.partition('.')
    return f'{names[head]}.{tail}' if tail and head in names else key


def _rename(state_dict: dict, prefix: str, names: Mapping[str, str]) -> None:
    """Rename, in place and in order, the keys below ``prefix`` by :func:`_renamed`."""
    if not names:
        return
    items = [
        (prefix + _renamed(key[len(prefix) :], names) if key.startswith(prefix) else key, value)
        for key, value in state_dict.items()
    ]
    state_dict.clear()
    state_dict.update(items)


class BlipModel(BaseModel):
    """Base of the BLIP task models.

    Subclasses build their heads and implement :meth:`loss`, :meth:`predict`
    and :meth:`extract_feat`; ``forward`` dispatches on ``mode`` as mmengine's
    models do, and runs ``predict`` and ``tensor`` at :attr:`precision`.

    Args:
        tokenizer: Tokenizer config (``BlipTokenizer``).
        image_encoder: Image tower config (``VisionTransformer``).
        text_encoder: Text tower config (``TextTransformer``), for tasks that
            read text with an encoder; None for none.
        precision: Inference precision: ``'float32'``, or ``'bfloat16'`` /
            ``'float16'`` (autocast, see :mod:`blip.models.precision`). Also
            settable later as ``model.precision``.
        data_preprocessor: Batch preparation config (``BlipDataPreprocessor``
            by default).
        init_cfg: mmengine initialisation config.
    """

    #: This task's attributes whose checkpoint (mmpretrain) names differ: ours -> theirs.
    checkpoint_names: ClassVar[dict[str, str]] = {}
    #: The task whose layout the converters of other formats write for this model
    #: (:func:`blip.converters.to_blip`); None: only our own format loads.
    checkpoint_task: ClassVar[str | None] = None

    def __init__(
        self,
        tokenizer: dict,
        image_encoder: dict,
        text_encoder: dict | None = None,
        precision: str = 'float32',
        data_preprocessor: dict | None = None,
        init_cfg: dict | None = None,
    ):
        data_preprocessor = dict(type='BlipDataPreprocessor') | dict(data_preprocessor or {})
        super().__init__(init_cfg=init_cfg, data_preprocessor=MODELS.build(data_preprocessor))
        self.tokenizer = TOKENIZER.build(tokenizer)
        self.image_encoder = MODELS.build(image_encoder)
        self.text_encoder = None if text_encoder is None else MODELS.build(text_encoder)
        self.precision = precision
        theirs = {ours: theirs for ours, theirs in self.checkpoint_names.items()}
        self.register_state_dict_post_hook(lambda module, state, prefix, meta: _rename(state, prefix, theirs))
        self.register_load_state_dict_pre_hook(
            lambda module, state, prefix, *args: module._before_load(state, prefix)
        )

    def to_checkpoint_format(self, state_dict: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
        """``state_dict`` in this model's checkpoint format.

        An official BLIP or a Hugging Face BLIP state dict (or an official
        file's whole content, whose ``'model'`` is the state dict) is converted for
        this model's task (:func:`blip.converters.to_blip`; the conversion is
        logged) and must then fit the model exactly (position embeddings are
        resampled to the model's image size when loaded). Our own format is
        returned as it is (the very object).

        Raises:
            ValueError: The checkpoint does not convert into this model; the
                message says what it is and what the model takes.
            CheckpointMismatchError: The converted weights do not fit (another
                size, e.g. ViT-L weights for a ViT-B model).
        """
        from blip import converters  # pure state-dict functions, below the models

        if isinstance(state_dict.get('model'), Mapping):
            # An official file's content as mmengine's load_from passes it:
            # {'model': state_dict, 'optimizer': ..., 'config': ..., 'epoch': ...}.
            state_dict = state_dict['model']
        kind = converters.checkpoint_format(state_dict)
        if kind == 'blip' or self.checkpoint_task is None:
            return self.select_checkpoint_keys(state_dict)
        converted = self.select_checkpoint_keys(converters.to_blip(state_dict, self.checkpoint_task))
        report = mismatch_report(self, converted)
        if report:
            raise CheckpointMismatchError(
                f'{converters.describe(state_dict)} does not fit {self.describe()}:' + report
            )
        print_log(
            f'Converted {converters.describe(state_dict)} into {type(self).__name__} '
            f'({len(state_dict)} tensors -> {len(converted)})',
            logger='current',
        )
        return converted

    def select_checkpoint_keys(self, state_dict: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
        """The part of a checkpoint of this task that this model keeps (all of
        it here; an inference-only retrieval model leaves out the training state)."""
        return state_dict

    def describe(self) -> str:
        """The model in words, for messages: its class and image tower."""
        from blip.converters import VIT_NAMES

        width = self.image_encoder.embed_dims
        return f'{type(self).__name__} ({VIT_NAMES.get(width, "ViT")}, {width}-d image tokens)'

    def _before_load(self, state_dict: dict, prefix: str) -> None:
        """Convert another format to ours, then our attribute names, in place."""
        own = {key[len(prefix) :]: value for key, value in state_dict.items() if key.startswith(prefix)}
        adapted = self.to_checkpoint_format(own)
        if adapted is not own:
            for key in own:
                del state_dict[prefix + key]
            state_dict.update({prefix + key: value for key, value in adapted.items()})
        ours = {theirs: ours for ours, theirs in self.checkpoint_names.items()}
        _rename(state_dict, prefix, ours)

    def checkpoint_key(self, name: str) -> str:
        """The checkpoint key of the parameter or buffer ``name`` (as ``named_parameters`` gives it)."""
        return _renamed(name, self.checkpoint_names)

    # Dispatch ---------------------------------------------------------------------

    def forward(self, images: torch.Tensor, data_samples: list | None = None, mode: str = 'tensor'):
        """``mode``: ``'loss'`` (a dict of losses), ``'predict'`` (the data
        samples with predictions) or ``'tensor'`` (:meth:`extract_feat`)."""
        if mode == 'loss':
            return self.loss(images, data_samples)
        if mode == 'predict':
            with self.inference_precision(images.device):
                return self.predict(images, data_samples)
        if mode == 'tensor':
            with self.inference_precision(images.device):
                return self.extract_feat(images, data_samples)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def loss(self, images: torch.Tensor, data_samples: list) -> dict[str, torch.Tensor]:
        raise NotImplementedError(f'{type(self).__name__} has no training loss')

    def predict(self, images: torch.Tensor, data_samples: list | None = None) -> list:
        raise NotImplementedError

    def extract_feat(self, images: torch.Tensor, data_samples: list | None = None):
        """The image tokens (B, N, C); tasks return what their heads read."""
        return self.encode_image(images)

    @property
    def device(self) -> torch.device:
        """The device of the model's weights."""
        return self.image_encoder.cls_token.device

    # Precision --------------------------------------------------------------------

    @property
    def precision(self) -> str:
        return self._precision

    @precision.setter
    def precision(self, precision: str) -> None:
        self._precision = check_precision(precision)

    def inference_precision(self, device: torch.device | str):
        """A context computing at :attr:`precision` on ``device``."""
        return inference_precision(self.precision, device)

    # The towers -------------------------------------------------------------------

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Image tokens (B, N, C) of preprocessed images (B, 3, H, W), class token first."""
        if images.dim() != 4:
            raise ValueError(
                f'{type(self).__name__} expects images of shape (B, 3, H, W), got {tuple(images.shape)}'
            )
        return self.image_encoder(images)

    def tokenize(
        self,
        texts: Sequence[str],
        max_length: int | None = None,
        padding: str = 'longest',
        first_token_id: int | None = None,
    ):
        """Token ids and mask ``(N, L)`` of ``texts`` on the model's device.

        Args:
            max_length: Truncate to this many tokens (None: no truncation).
            padding: ``'longest'`` or ``'max_length'`` (pad to ``max_length``).
            first_token_id: Replaces the tokenizer's ``[CLS]`` (e.g. ``[ENC]``, ``[DEC]``).
        """
        tokens = self.tokenizer(
            list(texts),
            padding=padding,
            truncation=max_length is not None,
            max_length=max_length,
            return_tensors='pt',
        ).to(self.device)
        if first_token_id is not None:
            tokens.input_ids[:, 0] = first_token_id
        return tokens

    def encode_text(self, text_ids: torch.Tensor, text_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Text-only states (B, L, C) of the text tower."""
        return self.text_encoder(text_ids, text_mask)

    def encode_multimodal(
        self,
        text_ids: torch.Tensor,
        text_mask: torch.Tensor | None,
        image_embeds: torch.Tensor | list[torch.Tensor],
        **kwargs,
    ) -> torch.Tensor:
        """Image-grounded text states (B, L, C): the text tower cross-attending to
        ``image_embeds`` (keyword arguments as :meth:`TextTransformer.forward`)."""
        return self.text_encoder(text_ids, text_mask, image_embeds=image_embeds, **kwargs)
