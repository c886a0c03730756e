"""Datasets and transforms of the ``blip`` scope."""

from .annotation_file import AnnotationError
from .coco_caption import COCOCaption
from .flickr30k_caption import Flickr30kCaption
from .image_loading import ImageLoadError, LoadImageFromFile
from .nocaps import NoCaps

__all__ = [
    'AnnotationError',
    'COCOCaption',
    'Flickr30kCaption',
    'ImageLoadError',
    'LoadImageFromFile',
    'NoCaps',
]
