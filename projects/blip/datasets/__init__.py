"""Datasets and transforms of the ``blip`` scope."""

from .annotation_file import AnnotationError
from .coco_caption import COCOCaption
from .coco_retrieval import COCORetrieval
from .coco_vqa import COCOVQA
from .corpus_shards import CorpusSample, ShardWriter, read_shard
from .flickr30k_caption import Flickr30kCaption
from .flickr30k_retrieval import Flickr30kRetrieval
from .grounding_transforms import RandomBoxCrop, RandomColorJitter, TranslatePad
from .image_loading import ImageLoadError, LoadImageFromFile
from .image_text_corpus import ImageTextCorpus
from .msrvtt_retrieval import MSRVTTRetrieval
from .nlvr2 import NLVR2
from .nocaps import NoCaps
from .ocr_vqa import OCRVQA
from .refcoco import RefCOCO
from .retrieval_dataset import RetrievalDataset
from .video_loading import LoadVideoFrames, VideoLoadError
from .visual_genome_qa import VisualGenomeQA
from .vqa_answer_list import build_answer_list, load_answer_list

__all__ = [
    'AnnotationError',
    'COCOCaption',
    'COCORetrieval',
    'COCOVQA',
    'CorpusSample',
    'Flickr30kCaption',
    'Flickr30kRetrieval',
    'ImageLoadError',
    'ImageTextCorpus',
    'LoadImageFromFile',
    'LoadVideoFrames',
    'MSRVTTRetrieval',
    'NLVR2',
    'NoCaps',
    'OCRVQA',
    'RandomBoxCrop',
    'RandomColorJitter',
    'RefCOCO',
    'RetrievalDataset',
    'ShardWriter',
    'TranslatePad',
    'VideoLoadError',
    'VisualGenomeQA',
    'build_answer_list',
    'load_answer_list',
    'read_shard',
]
