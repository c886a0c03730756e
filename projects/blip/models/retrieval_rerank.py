"""Retrieval scoring: ITC candidates, then their ITM re-rank scores in two score matrices.

BLIP ranks by contrastive (ITC) similarity first, then re-scores the ``k`` best
candidates of every image (texts) and of every text (images) with the
image-text matching (ITM) head. A pair that is a candidate in both directions
is scored once. Final scores are ``ITM match logit + ITC cosine similarity``
for candidates and ``-100`` elsewhere, as mmpretrain computes them.
"""

from dataclasses import dataclass

import torch

#: Score of the pairs that are not re-ranked (mmpretrain's value).
NOT_RERANKED = -100.0


@dataclass
class Candidates:
    """The pairs an ITM re-rank scores.

    Attributes:
        texts_of_image: ``(num_images, k_texts)`` best texts of each image by ITC.
        images_of_text: ``(num_texts, k_images)`` best images of each text.
        pairs: ``(num_pairs, 2)`` distinct ``(image, text)`` index pairs needed
            by either direction, sorted by image, then text.
        i2t_pair: ``(num_images, k_texts)`` row of ``pairs`` of each i2t candidate.
        t2i_pair: ``(num_texts, k_images)`` row of ``pairs`` of each t2i candidate.
    """

    texts_of_image: torch.Tensor
    images_of_text: torch.Tensor
    pairs: torch.Tensor
    i2t_pair: torch.Tensor
    t2i_pair: torch.Tensor


def select_candidates(similarity: torch.Tensor, topk: int) -> Candidates:
    """The ``topk`` best texts of every image and images of every text.

    Args:
        similarity: ``(num_images, num_texts)`` ITC cosine similarities.
        topk: Candidates per query, clamped to the number of candidates
            (mmpretrain fails instead when ``topk`` exceeds them).
    """
    num_images, num_texts = similarity.shape
    texts_of_image = similarity.topk(min(topk, num_texts), dim=1).indices
    images_of_text = similarity.t().topk(min(topk, num_images), dim=1).indices
    images = torch.arange(num_images, device=similarity.device)[:, None]
    texts = torch.arange(num_texts, device=similarity.device)[:, None]
    keys = torch.cat(
        [(images * num_texts + texts_of_image).flatten(), (images_of_text * num_texts + texts).flatten()]
    )
    unique_keys, rows = torch.unique(keys, sorted=True, return_inverse=True)
    pairs = torch.stack([unique_keys // num_texts, unique_keys % num_texts], dim=1)
    split = texts_of_image.numel()
    return Candidates(
        texts_of_image=texts_of_image,
        images_of_text=images_of_text,
        pairs=pairs,
        i2t_pair=rows[:split].view_as(texts_of_image),
        t2i_pair=rows[split:].view_as(images_of_text),
    )


def score_matrices(
    similarity: torch.Tensor, candidates: Candidates, match_logits: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The i2t ``(num_images, num_texts)`` and t2i ``(num_texts, num_images)`` scores.

    Args:
        similarity: ``(num_images, num_texts)`` ITC cosine similarities.
        candidates: From :func:`select_candidates` on ``similarity``.
        match_logits: ``(num_pairs,)`` ITM logit of "match" for ``candidates.pairs``.
    """
    match_logits = match_logits.to(similarity)
    i2t = torch.full_like(similarity, NOT_RERANKED)
    i2t.scatter_(
        1,
        candidates.texts_of_image,
        match_logits[candidates.i2t_pair] + similarity.gather(1, candidates.texts_of_image),
    )
    similarity_t = similarity.t()
    t2i = torch.full_like(similarity_t, NOT_RERANKED)
    t2i.scatter_(
        1,
        candidates.images_of_text,
        match_logits[candidates.t2i_pair] + similarity_t.gather(1, candidates.images_of_text),
    )
    return i2t, t2i
