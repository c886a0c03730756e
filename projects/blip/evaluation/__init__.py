"""Metrics of the ``blip`` scope."""

from .caption_metric import CaptionMetric
from .grounding_metric import GroundingMetric
from .retrieval_metric import RetrievalMetric
from .vqa_metric import VQAAccuracy, vqa_accuracy
from .vqa_submission import VQASubmission

__all__ = [
    'CaptionMetric',
    'GroundingMetric',
    'RetrievalMetric',
    'VQAAccuracy',
    'VQASubmission',
    'vqa_accuracy',
]
