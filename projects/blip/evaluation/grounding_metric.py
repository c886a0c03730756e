"""Visual grounding accuracy: the share of predicted boxes with IoU >= 0.5."""

from collections.abc import Sequence

import torch
from mmengine.evaluator import BaseMetric

from blip.registry import METRICS


def aligned_box_iou(boxes: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
    """IoU of each box (N, 4) ``xyxy`` with the box in the same row of ``others``.

    A box without area (or with ``x1 < x0``) has area 0, and a pair whose union
    is empty has IoU 0, so degenerate predictions count as misses instead of
    producing NaN.
    """
    top_left = torch.maximum(boxes[:, :2], others[:, :2])
    bottom_right = torch.minimum(boxes[:, 2:], others[:, 2:])
    intersection = (bottom_right - top_left).clamp(min=0).prod(dim=1)

    def area(b):
        return (b[:, 2:] - b[:, :2]).clamp(min=0).prod(dim=1)

    union = area(boxes) + area(others) - intersection
    return torch.where(union > 0, intersection / union.clamp(min=torch.finfo(union.dtype).tiny), 0.0)


@METRICS.register_module()
class GroundingMetric(BaseMetric):
    """Grounding accuracy and mean IoU, in percent.

    Each sample needs ``pred_bboxes`` and ``gt_bboxes`` (their first box,
    ``xyxy``, in the same pixel space: :class:`blip.models.BlipGrounding`
    returns both in original image pixels). Unlike mmpretrain's
    ``VisualGroundingMetric`` (fractions; NaN for a zero-area box), the results
    are percentages like the published tables and a degenerate box is a miss.

    Args:
        iou_threshold: A prediction is correct when its IoU reaches this.
        collect_device: Device used to gather results across processes.
        prefix: Prefix of the metric names (default ``'grounding'``).
    """

    default_prefix = 'grounding'

    def __init__(self, iou_threshold: float = 0.5, collect_device: str = 'cpu', prefix: str | None = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.iou_threshold = iou_threshold

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for index, sample in enumerate(data_samples):
            boxes = []
            for key in ('pred_bboxes', 'gt_bboxes'):
                if key not in sample:
                    raise KeyError(f'GroundingMetric: prediction {index} of the batch has no {key}')
                box = torch.as_tensor(sample[key], dtype=torch.float32).cpu().reshape(-1, 4)
                if len(box) == 0:
                    raise ValueError(f'GroundingMetric: prediction {index} of the batch has an empty {key}')
                boxes.append(box[0])
            self.results.append(aligned_box_iou(boxes[0][None], boxes[1][None]).item())

    def compute_metrics(self, results: list[float]) -> dict[str, float]:
        """``accuracy``: % of IoU >= threshold; ``miou``: mean IoU in %."""
        iou = torch.tensor(results, dtype=torch.float64)
        return {
            'accuracy': (iou >= self.iou_threshold).double().mean().item() * 100,
            'miou': iou.mean().item() * 100,
        }
