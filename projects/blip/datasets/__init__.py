"""Datasets and transforms of the ``blip`` scope."""

from .annotation_file import AnnotationError
from .coco_caption import COCOCaption
from .coco_vqa import COCOVQA
from .flickr30k_caption import Flickr30kCaption
from .grounding_transforms import RandomBoxCrop, RandomColorJitter, TranslatePad
from .image_loading import ImageLoadError, LoadImageFromFile
from .nlvr2 import NLVR2
from .nocaps import NoCaps
from .ocr_vqa import OCRVQA
from .refcoco import RefCOCO
from .visual_genome_qa import VisualGenomeQA
from .vqa_answer_list import build_answer_list, load_answer_list

__all__ = [
    'AnnotationError',
    'COCOCaption',
    'COCOVQA',
    'Flickr30kCaption',
    'ImageLoadError',
    'LoadImageFromFile',
    'NLVR2',
    'NoCaps',
    'OCRVQA',
    'RandomBoxCrop',
    'RandomColorJitter',
    'RefCOCO',
    'TranslatePad',
    'VisualGenomeQA',
    'build_answer_list',
    'load_answer_list',
]
