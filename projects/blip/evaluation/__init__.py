"""Metrics of the ``blip`` scope."""

from .caption_metric import CaptionMetric
from .grounding_metric import GroundingMetric

__all__ = ['CaptionMetric', 'GroundingMetric']
