"""Datasets and transforms of the ``blip`` scope."""

from .annotation_file import AnnotationError
from .coco_caption import COCOCaption
from .flickr30k_caption import Flickr30kCaption
from .grounding_transforms import RandomBoxCrop, RandomColorJitter, TranslatePad
from .image_loading import ImageLoadError, LoadImageFromFile
from .nlvr2 import NLVR2
from .nocaps import NoCaps
from .refcoco import RefCOCO

__all__ = [
    'AnnotationError',
    'COCOCaption',
    'Flickr30kCaption',
    'ImageLoadError',
    'LoadImageFromFile',
    'NLVR2',
    'NoCaps',
    'RandomBoxCrop',
    'RandomColorJitter',
    'RefCOCO',
    'TranslatePad',
]
