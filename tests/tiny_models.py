"""Tiny random-weight BLIP configs for unit tests."""

import copy

import torch

TINY_MED_CONFIG = dict(
    vocab_size=30524,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    max_position_embeddings=512,
    encoder_width=32,
    add_cross_attention=True,
)
TINY_VIT = dict(
    type='VisionTransformer',
    arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
    img_size=64,
    patch_size=16,
)


def tiny_caption_config(**overrides) -> dict:
    cfg = dict(
        type='BlipCaption',
        image_encoder=copy.deepcopy(TINY_VIT),
        tokenizer=dict(type='BlipTokenizer', name_or_path='bert-base-uncased'),
        head=dict(type='SeqGenerationHead', decoder=dict(type='TextDecoder', config=dict(TINY_MED_CONFIG))),
        prompt='a picture of ',
        max_txt_len=20,
        generation_cfg=dict(strategy='beam', num_beams=3, max_length=20, min_length=5),
    )
    cfg.update(overrides)
    return cfg


def tiny_vqa_config(generation_cfg: dict | None = None, **head_overrides) -> dict:
    """A tiny ``BlipVQA``; ``head_overrides`` go into ``head``."""
    return dict(
        type='BlipVQA',
        tokenizer=dict(type='BlipTokenizer', name_or_path='bert-base-uncased'),
        image_encoder=copy.deepcopy(TINY_VIT),
        text_encoder=dict(type='TextTransformer', config=dict(TINY_MED_CONFIG)),
        head=dict(
            type='VQAHead', decoder=dict(type='TextDecoder', config=dict(TINY_MED_CONFIG)), **head_overrides
        ),
        generation_cfg=generation_cfg,
    )


def randomize(model: torch.nn.Module, std: float = 0.1, seed: int = 0) -> torch.nn.Module:
    """Spread the weights so that outputs differ between inputs."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'LayerNorm' in name or '.ln' in name or name.startswith('ln'):
                continue
            p.copy_(torch.randn(p.shape, generator=generator) * std)
    return model
