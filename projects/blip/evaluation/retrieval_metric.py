"""Retrieval recall: R@1/5/10 and their mean, for text retrieval (i2t) and image retrieval (t2i)."""

from collections.abc import Mapping, Sequence

import torch
from mmengine.evaluator import BaseMetric

from blip.registry import METRICS

DIRECTIONS = ('i2t', 't2i')


def best_rank(scores: torch.Tensor, positives: torch.Tensor) -> int:
    """Position (0 = first) of the best-ranked positive when ``scores`` are sorted.

    Candidates are sorted by descending score; equal scores keep their index
    order (a stable sort), so candidates that are not re-ranked (all -100)
    cannot outrank each other by chance.

    Args:
        scores: ``(num_candidates,)`` scores of one query.
        positives: Indices of the right candidates (at least one).
    """
    positives = torch.as_tensor(positives, device=scores.device).flatten().long()
    if positives.numel() == 0:
        raise ValueError('a retrieval query has no right answer (empty gt_label)')
    positive_scores = scores[positives][:, None]
    index = torch.arange(scores.numel(), device=scores.device)
    ahead = (scores[None] > positive_scores) | (
        (scores[None] == positive_scores) & (index < positives[:, None])
    )
    return int(ahead.sum(dim=1).min())


@METRICS.register_module()
class RetrievalMetric(BaseMetric):
    """Recall@k of image-text retrieval in both directions, in percent.

    A query is right at ``k`` when any of its right answers is among its ``k``
    best-scored candidates: for text retrieval (``i2t``, TR in the BLIP paper)
    an image is right when any of its captions is; for image retrieval
    (``t2i``, IR) a text has its one image. Reports ``i2t/R@k``, ``i2t/R_mean``
    (mean over ``topk``), the same for ``t2i``, and ``R_mean``, the mean of
    both directions, as BLIP's evaluation does.

    Each data sample (as :class:`blip.models.BlipRetrieval` and the retrieval
    loop produce them) needs ``pred_score`` (one score per candidate),
    ``gt_label`` (indices of the right candidates) and ``direction``
    (``'i2t'`` or ``'t2i'``). Ties are broken by candidate index.

    It replaces mmpretrain's ``RetrievalRecall``, which fails under numpy 2.

    Args:
        topk: The ``k`` of each recall.
        collect_device: Device used to collect results across ranks, ``'cpu'``
            or ``'gpu'``.
        prefix: Prefix added to the metric names; none by default.
    """

    default_prefix: str | None = ''

    def __init__(self, topk: int | Sequence[int] = (1, 5, 10), collect_device: str = 'cpu', prefix=None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = (topk,) if isinstance(topk, int) else tuple(topk)
        if not self.topk or any(k < 1 for k in self.topk):
            raise ValueError(f'RetrievalMetric: topk must be positive integers, got {topk!r}')

    def process(self, data_batch, data_samples: Sequence[Mapping]) -> None:
        """Keep, per query, its direction and the rank of its best right answer."""
        for index, sample in enumerate(data_samples):
            for key in ('pred_score', 'gt_label', 'direction'):
                if key not in sample:
                    raise KeyError(f"RetrievalMetric: data sample {index} has no '{key}'")
            direction = sample['direction']
            if direction not in DIRECTIONS:
                raise ValueError(f'RetrievalMetric: direction must be one of {DIRECTIONS}, got {direction!r}')
            self.results.append((direction, best_rank(sample['pred_score'], sample['gt_label'])))

    def compute_metrics(self, results: list[tuple[str, int]]) -> dict[str, float]:
        metrics = {}
        for direction in DIRECTIONS:
            ranks = torch.tensor([rank for d, rank in results if d == direction])
            if ranks.numel() == 0:
                continue
            recalls = {f'{direction}/R@{k}': 100.0 * int((ranks < k).sum()) / len(ranks) for k in self.topk}
            metrics.update(recalls)
            metrics[f'{direction}/R_mean'] = sum(recalls.values()) / len(recalls)
        means = [metrics[f'{d}/R_mean'] for d in DIRECTIONS if f'{d}/R_mean' in metrics]
        if len(means) == len(DIRECTIONS):
            metrics['R_mean'] = sum(means) / len(means)
        return metrics
