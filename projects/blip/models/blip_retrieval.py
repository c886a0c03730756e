"""BLIP image-text retrieval: contrastive features to find candidates, matching to re-rank them."""

import copy
from collections.abc import Callable, Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from mmengine.dist import all_gather, get_world_size
from mmpretrain.structures import DataSample
from torch import nn

from blip.registry import MODELS

from .base import BlipModel
from .retrieval_scoring import DIRECTIONS, rerank

#: The towers and projections that have momentum copies (``<name>_m``).
MOMENTUM_MODULES = ('image_encoder', 'text_encoder', 'image_proj', 'text_proj')
_CHECKPOINT_NAMES = {
    'image_encoder': 'vision_backbone',
    'text_encoder': 'text_backbone',
    'image_proj': 'vision_neck',
    'text_proj': 'text_neck',
}


@MODELS.register_module()
class BlipRetrieval(BlipModel):
    """BLIP image-text retrieval model.

    * Image-text contrastive (ITC) features: the image tower's class token and
      the text tower's first token (text-only mode), each projected to
      ``embed_dim`` (``image_proj``, ``text_proj``) and L2-normalised. Their
      cosine similarity ranks every pair.
    * Image-text matching (ITM): the text tower cross-attending to the image
      tokens, with ``[ENC]`` as first token, and a two-way head; it re-scores
      the ``topk`` best candidates of every query (see
      :mod:`blip.models.retrieval_scoring`, the one scoring of the model, the
      evaluation loop and the inferencer).
    * Momentum copies of the towers and projections, and the ITC head's queues, for
      training (ITC with momentum distillation, ITM on hard negatives drawn
      from the contrastive similarities of the whole global batch). An
      ``inference_only`` model has none of them: half the parameters, the
      official BLIP code's ``BLIP_ITM``.

    A video (``images`` of shape ``(B, F, 3, H, W)``) is encoded frame by frame:
    its ITC feature is the mean of the frames' projected class tokens
    (normalised afterwards) and its ITM input is all the frames' tokens side by
    side, as BLIP's zero-shot video retrieval does.

    Args:
        tokenizer: ``BlipTokenizer`` config.
        image_encoder: Image tower config (``VisionTransformer``).
        text_encoder: Text tower config (``TextTransformer`` with cross-attention).
        embed_dim: Size of the contrastive features.
        itc_head: ``ITCHead`` config (``embed_dim`` is filled in).
        itm_head: ``ITMHead`` config (``hidden_size`` is filled in).
        momentum: Exponential moving average factor of the momentum encoders.
        negative_all_rank: Draw ITM hard negatives from every process's batch.
        temperature: Initial ITC temperature; one parameter shared with ``itc_head``.
        fast_match: Rank by ITC similarity alone (no ITM re-rank).
        topk: ITM re-ranked candidates per query (clamped to the candidates).
        max_txt_len: Texts are truncated and padded to this many tokens.
        rerank_batch_size: Image-text pairs per ITM forward pass when re-ranking.
        inference_only: Leave out what only training needs (the momentum
            encoders, the ITC queues and the temperature): the model scores
            and ranks as the full one does, with half the weights. It loads
            checkpoints of the full model (their training state is dropped)
            and cannot compute the loss.
        **kwargs: ``precision``, ``data_preprocessor``, ``init_cfg``: see
            :class:`BlipModel`.
    """

    checkpoint_task = 'retrieval'
    #: The ITM hard negatives are drawn by the similarity of each image (text)
    #: to the candidate texts (images) as their ``'online'`` features give it
    #: (BLIP's retrieval fine-tuning) or their ``'momentum'`` features (its
    #: pre-training); ``negative_floor`` is added to the sampling weights (see
    #: :func:`negative_weights`).
    negative_candidates: ClassVar[str] = 'online'
    negative_floor: ClassVar[float] = 0.0
    checkpoint_names = {
        **_CHECKPOINT_NAMES,
        **{f'{ours}_m': f'{theirs}_m' for ours, theirs in _CHECKPOINT_NAMES.items()},
        'itc_head': 'head',
        'itm_head': 'multimodal_head',
    }

    def __init__(
        self,
        tokenizer: dict,
        image_encoder: dict,
        text_encoder: dict,
        embed_dim: int = 256,
        itc_head: dict | None = None,
        itm_head: dict | None = None,
        momentum: float = 0.995,
        negative_all_rank: bool = True,
        temperature: float = 0.07,
        fast_match: bool = False,
        topk: int = 256,
        max_txt_len: int = 35,
        rerank_batch_size: int = 64,
        inference_only: bool = False,
        **kwargs,
    ):
        super().__init__(tokenizer, image_encoder, text_encoder, **kwargs)
        text_width = self.text_encoder.config.hidden_size
        self.image_proj = nn.Linear(self.image_encoder.embed_dims, embed_dim)
        self.text_proj = nn.Linear(text_width, embed_dim)
        self.itm_head = MODELS.build(
            dict(type='ITMHead') | dict(itm_head or {}) | dict(hidden_size=text_width)
        )
        self.inference_only = inference_only
        if not inference_only:
            self.itc_head = MODELS.build(
                dict(type='ITCHead') | dict(itc_head or {}) | dict(embed_dim=embed_dim)
            )
            # One temperature under two names ('temp' and 'head.temp'), as in mmpretrain.
            self.temp = nn.Parameter(temperature * torch.ones([]))
            self.itc_head.temp = self.temp
            for name in MOMENTUM_MODULES:
                setattr(self, f'{name}_m', _frozen_copy(getattr(self, name)))

        self.momentum = momentum
        self.negative_all_rank = negative_all_rank
        self.fast_match = fast_match
        self.topk = topk
        self.max_txt_len = max_txt_len
        self.rerank_batch_size = rerank_batch_size

    def select_checkpoint_keys(self, state_dict):
        """An ``inference_only`` model leaves out the training state of a full checkpoint."""
        if not self.inference_only:
            return state_dict
        names = self.checkpoint_names
        training = tuple(f'{names[name + "_m"]}.' for name in MOMENTUM_MODULES) + (f'{names["itc_head"]}.',)
        kept = {k: v for k, v in state_dict.items() if k != 'temp' and not k.startswith(training)}
        return state_dict if len(kept) == len(state_dict) else kept

    # Features -------------------------------------------------------------------

    def tokenize_texts(self, texts: Sequence[str]):
        """Token ids and mask ``(N, max_txt_len)``, padded to ``max_txt_len`` as BLIP does."""
        return self.tokenize(texts, self.max_txt_len, padding='max_length')

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Image tokens (B, N, C); a video's ``(B, F, 3, H, W)`` frames side by side (B, F * N, C)."""
        return _encode_images(images, self.image_encoder, self.image_proj)[0]

    def extract_feat(
        self,
        images: torch.Tensor | None = None,
        data_samples: list[DataSample] | None = None,
        texts: Sequence[str] | None = None,
        return_texts: bool = True,
        return_embeds: bool | None = None,
    ) -> dict[str, torch.Tensor]:
        """Contrastive features (and the tokens ITM needs) of images and/or texts.

        Args:
            images: ``(B, 3, H, W)`` images or ``(B, F, 3, H, W)`` video frames,
                preprocessed.
            data_samples: Samples whose ``text`` (a string, or a list per
                image) are the texts; ignored when ``texts`` is given.
            texts: The texts, as strings.
            return_texts: Include ``text_ids`` and ``text_attn_mask``.
            return_embeds: Include the tower outputs ``image_embeds`` and
                ``text_embeds`` (needed for ITM); by default unless ``fast_match``.

        Returns:
            A dict with ``image_feat`` ``(B, D)`` and ``image_embeds`` ``(B, N, C)``
            for images, ``text_ids``, ``text_attn_mask`` ``(T, L)``, ``text_feat``
            ``(T, D)`` and ``text_embeds`` ``(T, L, C)`` for texts.
        """
        if texts is None and data_samples is not None:
            texts = _texts_of(data_samples)
        if images is None and texts is None:
            raise ValueError('extract_feat: give images, texts, or data samples with a text field')
        return_embeds = not self.fast_match if return_embeds is None else return_embeds
        results = {}
        tokens = self.tokenize_texts(texts) if texts is not None else None
        if tokens is not None and return_texts:
            results.update(text_ids=tokens.input_ids, text_attn_mask=tokens.attention_mask)
        if images is not None:
            image_embeds, image_feat = _encode_images(images, self.image_encoder, self.image_proj)
            results['image_feat'] = image_feat
            if return_embeds:
                results['image_embeds'] = image_embeds
        if tokens is not None:
            text_embeds = self.encode_text(tokens.input_ids, tokens.attention_mask)
            results['text_feat'] = F.normalize(self.text_proj(text_embeds[:, 0]), dim=-1)
            if return_embeds:
                results['text_embeds'] = text_embeds
        return results

    # Scoring --------------------------------------------------------------------

    def match_logits(
        self,
        image_embeds: torch.Tensor,
        text_ids: torch.Tensor,
        text_attn_mask: torch.Tensor,
        image_rows: torch.Tensor,
        text_rows: torch.Tensor,
        batch_size: int | None = None,
    ) -> torch.Tensor:
        """ITM logits of "match" for the pairs ``(image_rows[p], text_rows[p])``.

        Pairs run ``batch_size`` at a time (``rerank_batch_size`` by default),
        whatever their queries; within a batch the cross-attention keys and
        values of each image are computed once for all its texts. Padding that
        no text needs is cut (padding is masked, so the logits do not change;
        the same for every batch, so a pair's logit does not depend on its batch).

        Args:
            image_embeds: ``(num_images, N, C)`` image tokens, on any device.
            text_ids: ``(num_texts, L)`` token ids as :meth:`extract_feat` gives them
                (``[CLS]`` first; ITM replaces it with ``[ENC]``).
            text_attn_mask: ``(num_texts, L)``.
            image_rows: ``(P,)`` row of ``image_embeds`` of each pair.
            text_rows: ``(P,)`` row of ``text_ids`` of each pair.
            batch_size: Pairs per forward pass.

        Returns:
            ``(P,)`` logits, on the model's device.
        """
        return self._itm_logits(image_embeds, text_ids, text_attn_mask, image_rows, text_rows, batch_size)[
            :, 1
        ]

    def match_probabilities(
        self,
        image_embeds: torch.Tensor,
        text_ids: torch.Tensor,
        text_attn_mask: torch.Tensor,
        image_rows: torch.Tensor,
        text_rows: torch.Tensor,
        batch_size: int | None = None,
    ) -> torch.Tensor:
        """ITM probability of "match" (the softmax of the head's two logits) of
        the pairs ``(image_rows[p], text_rows[p])``; arguments as :meth:`match_logits`."""
        logits = self._itm_logits(image_embeds, text_ids, text_attn_mask, image_rows, text_rows, batch_size)
        return logits.float().softmax(dim=-1)[:, 1]

    def _itm_logits(self, image_embeds, text_ids, text_attn_mask, image_rows, text_rows, batch_size):
        batch_size = batch_size or self.rerank_batch_size
        length = int(text_attn_mask.any(dim=0).nonzero().max()) + 1
        text_ids, text_attn_mask = text_ids[:, :length], text_attn_mask[:, :length]
        logits = [torch.empty(0, 2, device=self.device)]
        for start in range(0, len(image_rows), batch_size):
            images, image_index = torch.unique(image_rows[start : start + batch_size], return_inverse=True)
            rows = text_rows[start : start + batch_size].to(text_ids.device)
            ids = text_ids[rows].to(self.device)
            ids[:, 0] = self.tokenizer.enc_token_id
            states = self.encode_multimodal(
                ids,
                text_attn_mask[rows].to(self.device),
                image_embeds[images.to(image_embeds.device)].to(self.device),
                image_index=image_index.to(self.device),
            )
            logits.append(self.itm_head(states[:, 0]))
        return torch.cat(logits)

    def pair_logits(self, feats: dict[str, torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
        """``pairs (P, 2) -> (P,)`` ITM logits of ``(image, text)`` rows of ``feats``."""
        return lambda pairs: self.match_logits(
            feats['image_embeds'], feats['text_ids'], feats['text_attn_mask'], pairs[:, 0], pairs[:, 1]
        )

    def scores(
        self,
        similarity: torch.Tensor,
        text_ids: torch.Tensor,
        match_logits: Callable[[torch.Tensor], torch.Tensor] | None,
        directions: Sequence[str] = DIRECTIONS,
    ) -> dict[str, torch.Tensor]:
        """The retrieval scores, per direction ``(num_queries, num_gallery)``.

        With ``fast_match`` the ITC ``similarity`` ``(num_images, num_texts)``
        itself; otherwise the ``topk`` candidates of each query score ``ITM
        match logit + ITC similarity`` and the others -100, as mmpretrain scores
        them (:func:`blip.models.retrieval_scoring.rerank`; texts with equal
        ``text_ids`` are scored as one).

        Args:
            match_logits: ``pairs -> logits`` of ``(image, text)`` index pairs,
                e.g. :meth:`pair_logits`.
        """
        topk = None if self.fast_match else self.topk
        return rerank(similarity, topk, match_logits, directions, text_ids)

    def score_matrices(self, feats: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """i2t ``(num_images, num_texts)`` and t2i ``(num_texts, num_images)`` scores of ``feats``."""
        similarity = feats['image_feat'] @ feats['text_feat'].t()
        scores = self.scores(similarity, feats['text_ids'], self.pair_logits(feats))
        return scores['i2t'], scores['t2i']

    # Prediction -----------------------------------------------------------------

    def predict(self, images: torch.Tensor, data_samples: list[DataSample]):
        """Retrieval among this batch's images and texts; see :meth:`predict_all`."""
        return self.predict_all(self.extract_feat(images, data_samples), data_samples)

    def predict_all(
        self, feats: dict[str, torch.Tensor], data_samples: list[DataSample] | None = None
    ) -> tuple[list[DataSample], list[DataSample]]:
        """Score all images against all texts of ``feats``.

        Returns:
            ``(i2t, t2i)``: one sample per image with ``pred_score`` over the
            texts (``data_samples`` themselves when given, with ``gt_label``
            from ``gt_text_id``), and one new sample per text with
            ``pred_score`` over the images (``gt_label`` from ``gt_image_id``).
            Each has ``pred_label`` (the best candidate) and ``direction``.
        """
        i2t, t2i = self.score_matrices(feats)
        return retrieval_samples(i2t, t2i, data_samples)

    # Training -------------------------------------------------------------------

    def loss(self, images: torch.Tensor, data_samples: list[DataSample]) -> dict[str, torch.Tensor]:
        """ITC loss with momentum distillation, then ITM loss on hard negatives.

        Each sample needs ``text`` (one caption) and ``image_id`` (samples of
        the same image share it). The call updates the momentum encoders and
        the ITC queues, in BLIP's order.
        """
        return self.retrieval_losses(images, data_samples)[0]

    def retrieval_losses(
        self, images: torch.Tensor, data_samples: list[DataSample]
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The losses of :meth:`loss`, and the features they were computed from
        (:meth:`extract_feat`'s, with the tower outputs)."""
        if self.inference_only:
            raise RuntimeError(
                'this BlipRetrieval is inference_only: '
                'it has no momentum encoders or ITC queues to train with'
            )
        feats = self.extract_feat(images, data_samples, return_embeds=True)
        image_ids = torch.tensor([sample.image_id for sample in data_samples], device=self.device)
        with torch.no_grad():
            self._momentum_update()
            _, image_feat_m = _encode_images(images, self.image_encoder_m, self.image_proj_m)
            text_embeds_m = self.text_encoder_m(feats['text_ids'], feats['text_attn_mask'])
            text_feat_m = F.normalize(self.text_proj_m(text_embeds_m[:, 0]), dim=-1)
        losses = self.itc_head.loss(
            feats['image_feat'], feats['text_feat'], image_feat_m, text_feat_m, image_ids
        )
        # The candidates of the hard negatives are scored by the online or the momentum features.
        momentum = self.negative_candidates == 'momentum'
        candidates = dict(image_feat=image_feat_m, text_feat=text_feat_m) if momentum else feats
        losses.update(self._itm_loss(feats, image_ids, candidates))
        return losses, feats

    def _itm_loss(
        self, feats: dict[str, torch.Tensor], image_ids: torch.Tensor, candidates: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        text_ids = feats['text_ids'].clone()
        text_ids[:, 0] = self.tokenizer.enc_token_id
        text_mask, image_embeds = feats['text_attn_mask'], feats['image_embeds']
        positive = self.encode_multimodal(text_ids, text_mask, image_embeds)[:, 0]

        gather = _gather if self.negative_all_rank else (lambda x: x)
        with torch.no_grad():
            same_image = image_ids[:, None] == gather(image_ids)[None]
            if bool(same_image.all(dim=1).any()):
                raise ValueError(
                    'ITM hard negatives: every sample of the batch has the same image_id, so there '
                    'is no negative to draw; give samples of different images'
                )
            weights_i2t = negative_weights(
                feats['image_feat'] @ gather(candidates['text_feat']).t() / self.temp,
                same_image,
                self.negative_floor,
            )
            weights_t2i = negative_weights(
                feats['text_feat'] @ gather(candidates['image_feat']).t() / self.temp,
                same_image,
                self.negative_floor,
            )
        # Each text with an image it does not match, each image with a text it does
        # not match; gradients flow back to the other processes' image embeddings.
        # One draw per row, texts first, as BLIP draws them: the same random
        # stream gives the same negatives.
        world_image_embeds = _gather_with_grad(image_embeds) if self.negative_all_rank else image_embeds
        negative_images = world_image_embeds[_draw_per_row(weights_t2i)]
        negative_texts = _draw_per_row(weights_i2t)
        negative = self.encode_multimodal(
            torch.cat([text_ids, gather(text_ids)[negative_texts]]),
            torch.cat([text_mask, gather(text_mask)[negative_texts]]),
            torch.cat([negative_images, image_embeds]),
        )[:, 0]
        batch_size = len(image_ids)
        is_matched = torch.cat([torch.ones(batch_size), torch.zeros(2 * batch_size)]).to(self.device)
        return self.itm_head.loss(torch.cat([positive, negative]), is_matched)

    @torch.no_grad()
    def _momentum_update(self) -> None:
        # Every momentum parameter is an exponential moving average, as in BLIP
        # (mmpretrain copies ViT layers 8-11 instead, which BLIP does not).
        for name in MOMENTUM_MODULES:
            online, momentum = getattr(self, name), getattr(self, f'{name}_m')
            for param, param_m in zip(online.parameters(), momentum.parameters()):
                # Both products rounded before the sum, as BLIP computes it
                # (add_ with alpha may fuse them, a last-bit difference).
                param_m.mul_(self.momentum).add_(param * (1.0 - self.momentum))


def _encode_images(images: torch.Tensor, tower: nn.Module, proj: nn.Module):
    """Image tokens and normalised contrastive features; a video's frames side by side."""
    if images.dim() == 5:
        videos, frames = images.shape[:2]
        embeds = tower(images.flatten(0, 1))
        feat = proj(embeds[:, 0]).unflatten(0, (videos, frames)).mean(dim=1)
        embeds = embeds.unflatten(0, (videos, frames)).flatten(1, 2)
    elif images.dim() == 4:
        embeds = tower(images)
        feat = proj(embeds[:, 0])
    else:
        raise ValueError(
            f'BlipRetrieval expects images (B, 3, H, W) or videos (B, F, 3, H, W), got {tuple(images.shape)}'
        )
    return embeds, F.normalize(feat, dim=-1)


def negative_weights(similarity: torch.Tensor, same_image: torch.Tensor, floor: float = 0.0) -> torch.Tensor:
    """Sampling weights of the ITM hard negatives of each row of ``similarity``.

    The softmax of the contrastive similarities (temperature applied), plus
    ``floor`` (BLIP's pre-training adds 1e-4, its retrieval fine-tuning
    nothing), and zero where the row's own image is (``same_image``).
    """
    weights = F.softmax(similarity, dim=1)
    if floor:
        weights = weights + floor
    return weights.masked_fill_(same_image, 0)


def _draw_per_row(weights: torch.Tensor) -> torch.Tensor:
    """One index per row of ``weights`` drawn by ``torch.multinomial``, a call per row.

    A single call on the whole matrix draws other numbers from the same seed.
    """
    return torch.cat([torch.multinomial(row, 1) for row in weights])


def _frozen_copy(module: nn.Module) -> nn.Module:
    copied = copy.deepcopy(module)
    copied.requires_grad_(False)
    return copied


def _gather(tensor: torch.Tensor) -> torch.Tensor:
    return torch.cat(all_gather(tensor)) if get_world_size() > 1 else tensor


def _gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    if get_world_size() == 1:
        return tensor
    from torch.distributed.nn.functional import all_gather as all_gather_with_grad

    return torch.cat(all_gather_with_grad(tensor))


def _texts_of(data_samples: Sequence[DataSample]) -> list[str] | None:
    """The ``text`` of each sample (a string, or a list per image), flattened."""
    if not data_samples or 'text' not in data_samples[0]:
        return None
    texts = []
    for index, sample in enumerate(data_samples):
        text = sample.get('text')
        if isinstance(text, str):
            texts.append(text)
        elif isinstance(text, (list, tuple)) and all(isinstance(t, str) for t in text):
            texts.extend(text)
        else:
            raise TypeError(
                f"data sample {index}: 'text' must be a string or a list of strings, got {text!r}"
            )
    return texts


def retrieval_samples(
    i2t: torch.Tensor,
    t2i: torch.Tensor,
    image_samples: Sequence[DataSample] | None = None,
    texts: Sequence[str] | None = None,
) -> tuple[list[DataSample], list[DataSample]]:
    """Data samples of the score matrices, as mmpretrain's ``BlipRetrieval`` returns them.

    Args:
        i2t: ``(num_images, num_texts)`` scores.
        t2i: ``(num_texts, num_images)`` scores.
        image_samples: One sample per image, updated in place; their
            ``gt_text_id`` becomes the i2t ``gt_label`` and ``gt_image_id`` (one
            per text of the image) the t2i ``gt_label`` of those texts, whose
            ``text`` is copied too.
        texts: The texts, when ``image_samples`` do not carry them.
    """
    if image_samples is None:
        image_samples = [DataSample() for _ in range(i2t.shape[0])]
    text_samples = []
    for sample in image_samples:
        if 'gt_text_id' in sample:
            sample.set_gt_label(sample.gt_text_id)
        text = sample.get('text')
        image_texts = [] if text is None else [text] if isinstance(text, str) else list(text)
        gt_image_ids = sample.get('gt_image_id')
        for i, caption in enumerate(image_texts):
            text_sample = DataSample(text=caption)
            if gt_image_ids is not None:
                text_sample.set_gt_label(gt_image_ids[i])
            text_samples.append(text_sample)
    if not text_samples:
        text_samples = [DataSample(text=text) for text in texts] if texts else [DataSample() for _ in t2i]
    if len(image_samples) != i2t.shape[0] or len(text_samples) != t2i.shape[0]:
        raise ValueError(
            f'{len(image_samples)} image samples with {len(text_samples)} texts for scores of '
            f'{i2t.shape[0]} images and {t2i.shape[0]} texts'
        )
    for samples, scores, direction in ((image_samples, i2t, 'i2t'), (text_samples, t2i, 't2i')):
        for sample, score in zip(samples, scores):
            sample.set_pred_score(score)
            sample.set_pred_label(score.argmax(keepdim=True))
            sample.direction = direction
    return list(image_samples), text_samples
