"""Metrics of the ``blip`` scope."""

from .caption_metric import CaptionMetric

__all__ = ['CaptionMetric']
