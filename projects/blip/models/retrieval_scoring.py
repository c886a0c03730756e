"""Retrieval scoring, the one implementation: ITC candidates, ITM re-rank, score matrices.

BLIP ranks by contrastive (ITC) similarity first, then re-scores the ``k`` best
candidates of every query with the image-text matching (ITM) head: the ``k``
best texts of each image (``i2t``, text retrieval) and images of each text
(``t2i``, image retrieval). A pair that is a candidate in both directions is
scored once. Final scores are ``ITM match logit + ITC cosine similarity`` for
candidates and ``-100`` elsewhere, as mmpretrain computes them.

Ties are broken one way everywhere: among equal scores the lower index ranks
first (:func:`ranked`), for the candidates here, in the inferencers' results
and in :class:`blip.evaluation.RetrievalMetric`. Texts that tokenize the same
(a caption written twice) are scored as one, from the features of their first
occurrence (:func:`first_occurrences`): their scores are equal, not equal up
to the rounding of the batches their features came from, so they tie and rank
by index whatever the batching. The model's ``predict``, the evaluation loop
and the inferencer all score through :func:`rerank`.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

#: Score of the pairs that are not re-ranked (mmpretrain's value).
NOT_RERANKED = -100.0
#: ``'i2t'``: images are the queries, texts the gallery; ``'t2i'``: the reverse.
DIRECTIONS = ('i2t', 't2i')


def ranked(scores: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """Indices of the ``k`` best entries of each row of ``scores``, best first;
    equal scores in index order."""
    return scores.sort(dim=-1, descending=True, stable=True).indices[..., :k]


def first_occurrences(rows: torch.Tensor) -> torch.Tensor:
    """For each row of ``rows`` (N, ...), the index of the first row equal to it (N,)."""
    _, inverse = torch.unique(rows.flatten(1), dim=0, return_inverse=True)
    index = torch.arange(len(rows), device=rows.device)
    first = torch.full((int(inverse.max()) + 1,), len(rows), device=rows.device, dtype=index.dtype)
    return first.scatter_reduce(0, inverse, index, reduce='amin')[inverse]


def _oriented(similarity: torch.Tensor, direction: str) -> torch.Tensor:
    """The similarity as (queries, gallery) for ``direction``."""
    if direction not in DIRECTIONS:
        raise ValueError(f'direction must be one of {DIRECTIONS}, got {direction!r}')
    return similarity if direction == 'i2t' else similarity.t()


@dataclass
class Candidates:
    """The pairs an ITM re-rank scores.

    Attributes:
        best: Per direction, ``(num_queries, k)`` the best gallery entries of
            each query by ITC, best first.
        pairs: ``(num_pairs, 2)`` distinct ``(image, text)`` index pairs needed
            by the directions, sorted by image, then text.
        pair_rows: Per direction, ``(num_queries, k)`` the row of ``pairs`` of
            each candidate.
    """

    best: dict[str, torch.Tensor]
    pairs: torch.Tensor
    pair_rows: dict[str, torch.Tensor]


def select_candidates(
    similarity: torch.Tensor,
    topk: int,
    directions: Sequence[str] = DIRECTIONS,
    same_text: torch.Tensor | None = None,
) -> Candidates:
    """The ``topk`` best texts of every image and/or images of every text.

    Args:
        similarity: ``(num_images, num_texts)`` ITC cosine similarities.
        topk: Candidates per query, clamped to the gallery's size (mmpretrain
            fails instead when ``topk`` exceeds it).
        directions: The directions to find candidates for.
        same_text: ``(num_texts,)`` the text each text is scored as (see
            :func:`first_occurrences`): a pair with a repeated text is the
            pair with its first occurrence. None: every text is its own.
    """
    num_texts = similarity.shape[1]
    same_text = torch.arange(num_texts, device=similarity.device) if same_text is None else same_text
    best, keys = {}, []
    for direction in directions:
        scores = _oriented(similarity, direction)
        best[direction] = top = ranked(scores, topk)
        queries = torch.arange(scores.shape[0], device=similarity.device)[:, None]
        images, texts = (queries, top) if direction == 'i2t' else (top, queries)
        keys.append((images * num_texts + same_text[texts]).flatten())
    unique_keys, rows = torch.unique(torch.cat(keys), sorted=True, return_inverse=True)
    pairs = torch.stack([unique_keys // num_texts, unique_keys % num_texts], dim=1)
    parts = rows.split([top.numel() for top in best.values()])
    pair_rows = {direction: part.view_as(best[direction]) for direction, part in zip(best, parts)}
    return Candidates(best=best, pairs=pairs, pair_rows=pair_rows)


def score_matrices(
    similarity: torch.Tensor, candidates: Candidates, match_logits: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Per direction of ``candidates``, the ``(num_queries, num_gallery)`` scores.

    Args:
        similarity: ``(num_images, num_texts)`` ITC cosine similarities.
        candidates: From :func:`select_candidates` on ``similarity``.
        match_logits: ``(num_pairs,)`` ITM logit of "match" for ``candidates.pairs``.
    """
    match_logits = match_logits.to(similarity)
    scores = {}
    for direction, best in candidates.best.items():
        oriented = _oriented(similarity, direction)
        matrix = torch.full_like(oriented, NOT_RERANKED)
        matrix.scatter_(1, best, match_logits[candidates.pair_rows[direction]] + oriented.gather(1, best))
        scores[direction] = matrix
    return scores


def rerank(
    similarity: torch.Tensor,
    topk: int | None,
    match_logits: Callable[[torch.Tensor], torch.Tensor] | None,
    directions: Sequence[str] = DIRECTIONS,
    text_ids: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """ITC candidates, ITM re-rank: the score matrices of ``directions``.

    Args:
        similarity: ``(num_images, num_texts)`` ITC cosine similarities.
        topk: ITM re-ranked candidates per query; None: no re-rank, the
            scores are the similarities (BLIP's ``fast_match``).
        match_logits: ``pairs (P, 2) -> (P,)`` ITM logits of "match" of
            ``(image, text)`` index pairs (the caller knows where the image
            tokens are, e.g. on which process).
        directions: The directions to score.
        text_ids: ``(num_texts, L)`` the texts' token ids: texts with equal
            ids are scored as their first occurrence. None: all texts differ.
    """
    same_text = None if text_ids is None else first_occurrences(text_ids.to(similarity.device))
    if same_text is not None:
        similarity = similarity[:, same_text]
    if topk is None:
        return {d: _oriented(similarity, d).contiguous() for d in directions}
    candidates = select_candidates(similarity, topk, directions, same_text)
    return score_matrices(similarity, candidates, match_logits(candidates.pairs))
