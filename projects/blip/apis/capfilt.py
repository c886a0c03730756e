"""BLIP's CapFilt: a captioner writes synthetic captions, a filter keeps the texts that match.

The captioner is a captioning model (:class:`~blip.models.BlipCaption`)
sampling ``num_captions`` captions per image with nucleus sampling; the
filter is a retrieval model's ITM head (:class:`~blip.models.BlipRetrieval`):
a text is kept when its match probability reaches ``threshold``. Both the
image's web texts and its synthetic captions are filtered, as in the paper
(Li et al. 2022, section 3.3). Everything runs batched: one caption decoding
for all the images of a batch, one ITM pass over all their texts.
"""

from collections.abc import Sequence

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from blip.models import GenerationConfig
from blip.registry import TRANSFORMS

#: Where a text of the bootstrapped corpus comes from.
SOURCES = ('web', 'synthetic')


def _pipeline(model: torch.nn.Module):
    """The model's test pipeline (from its config), which takes images in memory."""
    with DefaultScope.overwrite_default_scope('blip'):
        return [TRANSFORMS.build(t) for t in model._config.test_dataloader.dataset.pipeline]


def _prepare(pipeline, image: np.ndarray) -> dict:
    # An empty text for the pipelines that clean one (the retrieval models').
    item = dict(img=image, img_shape=image.shape[:2], ori_shape=image.shape[:2], text='')
    for transform in pipeline:
        item = transform(item)
    return item


class CapFilt:
    """Caption and filter batches of images.

    Args:
        captioner: A :class:`~blip.models.BlipCaption` built by
            :func:`blip.get_model` (its config's test pipeline prepares the images).
        filter: A :class:`~blip.models.BlipRetrieval` built by :func:`blip.get_model`.
        num_captions: Synthetic captions per image.
        top_p: Nucleus sampling keeps the smallest set of words whose probability reaches it.
        top_k: At most the ``top_k`` likeliest words (0: no limit; BLIP's
            sampling, through transformers 4.15, kept 50).
        repetition_penalty: BLIP's sampling uses 1.1.
        max_length: Longest caption in tokens, the captioner's prompt
            included (None: the captioner's own setting).
        min_length: Shortest caption, likewise.
        threshold: A text is kept when the filter's match probability reaches it.
    """

    def __init__(
        self,
        captioner: torch.nn.Module,
        filter: torch.nn.Module,
        num_captions: int = 1,
        top_p: float = 0.9,
        top_k: int = 50,
        repetition_penalty: float = 1.1,
        max_length: int | None = None,
        min_length: int | None = None,
        threshold: float = 0.5,
    ):
        self.captioner = captioner.eval()
        self.filter = filter.eval()
        own = captioner.generation_cfg
        self.generation_cfg = GenerationConfig(
            strategy='sample',
            top_p=top_p,
            top_k=top_k,
            repetition_penalty=repetition_penalty,
            num_return_sequences=num_captions,
            max_length=own.max_length if max_length is None else max_length,
            min_length=own.min_length if min_length is None else min_length,
            sample_among_top_k=True,
        )
        self.num_captions = num_captions
        self.threshold = threshold
        self.captioner_pipeline = _pipeline(captioner)
        self.filter_pipeline = _pipeline(filter)
        with DefaultScope.overwrite_default_scope('blip'):
            self.clean = TRANSFORMS.build(dict(type='CleanCaption', keys='text'))

    @torch.no_grad()
    def caption(self, images: Sequence[np.ndarray]) -> list[list[str]]:
        """``num_captions`` sampled captions of each image (BGR arrays), in the order sampled."""
        captioner = self.captioner
        batch = pseudo_collate([_prepare(self.captioner_pipeline, image) for image in images])
        own, captioner.generation_cfg = captioner.generation_cfg, self.generation_cfg
        try:
            samples = captioner.test_step(batch)
        finally:
            captioner.generation_cfg = own
        return [list(s.pred_captions) if self.num_captions > 1 else [s.pred_caption] for s in samples]

    @torch.no_grad()
    def match(self, images: Sequence[np.ndarray], texts: Sequence[Sequence[str]]) -> list[list[float]]:
        """The filter's match probability of every text of every image."""
        filter = self.filter
        batch = filter.data_preprocessor(
            pseudo_collate([_prepare(self.filter_pipeline, image) for image in images]), False
        )
        flat = [self.clean(dict(text=text))['text'] for own in texts for text in own]
        if not flat:
            return [[] for _ in images]
        with filter.inference_precision(filter.device):
            image_embeds = filter.encode_image(batch['images'])
            tokens = filter.tokenize_texts(flat)
            image_rows = torch.tensor([i for i, own in enumerate(texts) for _ in own], device=filter.device)
            text_rows = torch.arange(len(flat), device=filter.device)
            scores = filter.match_probabilities(
                image_embeds, tokens.input_ids, tokens.attention_mask, image_rows, text_rows
            ).tolist()
        result, start = [], 0
        for own in texts:
            result.append(scores[start : start + len(own)])
            start += len(own)
        return result

    def __call__(self, images: Sequence[np.ndarray], web_texts: Sequence[Sequence[dict]]) -> list[list[dict]]:
        """CapFilt of a batch of images (BGR arrays) and their web texts.

        Args:
            images: The images.
            web_texts: Each image's texts, ``{'text': ..., 'source': 'web', ...}``
                records (further keys are kept).

        Returns:
            Each image's texts: its web texts, then its synthetic captions (a
            caption equal to an earlier text of the image is left out), each
            record with ``source``, ``itm_score`` (the match probability) and
            ``kept`` (``itm_score >= threshold``).
        """
        synthetic = self.caption(images) if self.num_captions else [[] for _ in images]
        records = []
        for own, captions in zip(web_texts, synthetic, strict=True):
            texts = [dict(record) for record in own]
            seen = {record['text'] for record in texts}
            for caption in captions:
                if caption not in seen:
                    seen.add(caption)
                    texts.append({'text': caption, 'source': 'synthetic'})
            records.append(texts)
        scores = self.match(images, [[record['text'] for record in texts] for texts in records])
        for texts, own_scores in zip(records, scores, strict=True):
            for record, score in zip(texts, own_scores, strict=True):
                record['itm_score'] = round(float(score), 6)
                record['kept'] = score >= self.threshold
        return records
