"""Models of the ``blip`` scope: the two towers, heads and task models."""

from .base import BlipModel
from .blip_caption import BlipCaption
from .blip_feature_extractor import BlipFeatureExtractor
from .blip_grounding import BlipGrounding
from .blip_nlvr import BlipNLVR
from .blip_pretrain import BlipPretrain
from .blip_retrieval import BlipRetrieval
from .blip_vqa import BlipVQA
from .data_preprocessor import BlipDataPreprocessor
from .generation import GenerationConfig, generate
from .grounding_head import GroundingHead
from .itc_head import ITCHead
from .itm_head import ITMHead
from .seq_gen_head import SeqGenerationHead
from .text_decoder import TextDecoder
from .text_transformer import DecodingCache, TextConfig, TextTransformer
from .tokenizer import BlipTokenizer
from .vision_transformer import VisionTransformer
from .vqa_head import VQAHead

__all__ = [
    'BlipCaption',
    'BlipDataPreprocessor',
    'BlipFeatureExtractor',
    'BlipGrounding',
    'BlipModel',
    'BlipNLVR',
    'BlipPretrain',
    'BlipRetrieval',
    'BlipTokenizer',
    'BlipVQA',
    'DecodingCache',
    'GenerationConfig',
    'GroundingHead',
    'ITCHead',
    'ITMHead',
    'SeqGenerationHead',
    'TextConfig',
    'TextDecoder',
    'TextTransformer',
    'VQAHead',
    'VisionTransformer',
    'generate',
]
