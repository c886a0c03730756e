"""BLIP features: image tokens, text states and image-grounded text states."""

from collections.abc import Sequence

import torch
from mmpretrain.structures import DataSample

from blip.registry import MODELS

from .base import BlipModel

#: The features :meth:`BlipFeatureExtractor.extract_feat` computes.
MODES = ('image', 'text', 'multimodal')


@MODELS.register_module()
class BlipFeatureExtractor(BlipModel):
    """The two towers of a pre-trained BLIP, as features (the official demo's
    ``blip_feature_extractor``, class ``BLIP_Base``).

    * ``image``: the image tokens ``(B, N, C)``, class token first;
    * ``text``: the text tower's states in text-only mode ``(B, L, C)``,
      ``[CLS]`` first;
    * ``multimodal``: the text tower cross-attending to the image tokens,
      ``[ENC]`` first ``(B, L, C)``.

    Texts are padded to the longest of the batch (masked; the official demo
    encodes one text at a time). The first token of each is the usual
    sentence feature.

    Args:
        tokenizer: ``BlipTokenizer`` config.
        image_encoder: Image tower config (``VisionTransformer``).
        text_encoder: Text tower config (``TextTransformer`` with cross-attention).
        max_txt_len: Texts are truncated to this many tokens (None: the text
            tower's limit).
        **kwargs: ``precision``, ``data_preprocessor``, ``init_cfg``: see
            :class:`BlipModel`.
    """

    checkpoint_task = 'feature'

    def __init__(
        self,
        tokenizer: dict,
        image_encoder: dict,
        text_encoder: dict,
        max_txt_len: int | None = None,
        **kwargs,
    ):
        super().__init__(tokenizer, image_encoder, text_encoder, **kwargs)
        self.max_txt_len = max_txt_len or self.text_encoder.config.max_position_embeddings

    def extract_feat(
        self,
        images: torch.Tensor | None = None,
        data_samples: list[DataSample] | None = None,
        texts: Sequence[str] | None = None,
        modes: Sequence[str] = MODES,
    ) -> dict[str, torch.Tensor]:
        """The features of ``modes`` (``image`` needs images, ``text`` texts, ``multimodal`` both).

        Args:
            images: Preprocessed images ``(B, 3, H, W)``.
            data_samples: Samples whose ``text`` are the texts (one per image),
                when ``texts`` is None.
            texts: The texts, one per image for ``multimodal``.
            modes: Any of ``'image'``, ``'text'``, ``'multimodal'``.

        Returns:
            ``image_embeds``, ``text_embeds``, ``multimodal_embeds`` as asked,
            and ``text_attn_mask`` ``(B, L)`` with text features.
        """
        unknown = set(modes) - set(MODES)
        if unknown:
            raise ValueError(f'unknown feature modes {sorted(unknown)}; known: {MODES}')
        if texts is None and data_samples is not None and 'text' in data_samples[0]:
            texts = [sample.text for sample in data_samples]
        needs_images = {'image', 'multimodal'} & set(modes)
        needs_texts = {'text', 'multimodal'} & set(modes)
        if (needs_images and images is None) or (needs_texts and texts is None):
            raise ValueError(f'features {sorted(modes)} need images and/or texts; give both as needed')
        features = {}
        image_embeds = self.encode_image(images) if needs_images else None
        if 'image' in modes:
            features['image_embeds'] = image_embeds
        if needs_texts:
            tokens = self.tokenize(texts, self.max_txt_len)
            features['text_attn_mask'] = tokens.attention_mask
        if 'text' in modes:
            features['text_embeds'] = self.encode_text(tokens.input_ids, tokens.attention_mask)
        if 'multimodal' in modes:
            if len(texts) != len(image_embeds):
                raise ValueError(f'{len(image_embeds)} images but {len(texts)} texts (one per image)')
            ids = tokens.input_ids.clone()
            ids[:, 0] = self.tokenizer.enc_token_id
            features['multimodal_embeds'] = self.encode_multimodal(ids, tokens.attention_mask, image_embeds)
        return features

    def predict(self, images: torch.Tensor, data_samples: list[DataSample] | None = None) -> list[DataSample]:
        """Each sample gets ``image_embeds`` ``(N, C)`` and, with a ``text``,
        ``text_embeds`` and ``multimodal_embeds`` ``(L, C)`` (padding cut)."""
        if data_samples is None:
            data_samples = [DataSample() for _ in range(images.shape[0])]
        with_text = 'text' in data_samples[0]
        features = self.extract_feat(images, data_samples, modes=MODES if with_text else ('image',))
        for i, sample in enumerate(data_samples):
            sample.image_embeds = features['image_embeds'][i]
            if with_text:
                length = int(features['text_attn_mask'][i].sum())
                sample.text_embeds = features['text_embeds'][i, :length]
                sample.multimodal_embeds = features['multimodal_embeds'][i, :length]
        return data_samples
