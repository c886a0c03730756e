"""Models of the ``blip`` scope: the two towers, heads and task models."""

from .blip_caption import BlipCaption
from .blip_grounding import BlipGrounding
from .blip_nlvr import BlipNLVR
from .data_preprocessor import BlipDataPreprocessor
from .generation import GenerationConfig, generate
from .grounding_head import GroundingHead
from .seq_gen_head import SeqGenerationHead
from .text_decoder import TextDecoder
from .text_transformer import DecodingCache, TextConfig, TextTransformer
from .tokenizer import BlipTokenizer
from .vision_transformer import VisionTransformer

__all__ = [
    'BlipCaption',
    'BlipGrounding',
    'BlipNLVR',
    'BlipDataPreprocessor',
    'BlipTokenizer',
    'DecodingCache',
    'GenerationConfig',
    'GroundingHead',
    'SeqGenerationHead',
    'TextConfig',
    'TextDecoder',
    'TextTransformer',
    'VisionTransformer',
    'generate',
]
