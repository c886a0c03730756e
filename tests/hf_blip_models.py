"""Tiny Hugging Face BLIP configs and helpers shared by the parity and generation tests."""

import torch
from transformers import BlipConfig, BlipForConditionalGeneration

import blip  # noqa: F401
from blip.registry import MODELS
from tiny_models import tiny_caption_config

PROMPT = 'a picture of '
BOS, EOS, PAD = 30522, 102, 0
HF_VISION = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    image_size=64,
    patch_size=16,
    layer_norm_eps=1e-6,
)
HF_TEXT = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    vocab_size=30524,
    encoder_hidden_size=32,
    bos_token_id=BOS,
    sep_token_id=EOS,
    eos_token_id=EOS,
    pad_token_id=PAD,
    layer_norm_eps=1e-12,
)
#: Raised so that eos competes with the ~30k random tokens and captions end at
#: lengths that vary by image.
EOS_LOGIT_BIAS = 2.0


def build_caption_model(**generation_cfg) -> torch.nn.Module:
    return MODELS.build(tiny_caption_config(generation_cfg=generation_cfg)).eval()


def build_hf_caption_model(seed: int = 0) -> BlipForConditionalGeneration:
    """A tiny random ``BlipForConditionalGeneration`` whose captions differ between images."""
    torch.manual_seed(seed)
    model = BlipForConditionalGeneration(BlipConfig(vision_config=HF_VISION, text_config=HF_TEXT)).eval()
    # Wider than the std-0.02 init, so that captions differ between images.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith('weight') and any(
                norm in name for norm in ('LayerNorm', 'layer_norm', 'layernorm')
            ):
                param.normal_(1.0, 0.1)
            else:
                param.normal_(0.0, 0.1)
        model.text_decoder.cls.predictions.bias[EOS] += EOS_LOGIT_BIAS
    return model


def load_converted(converted, **generation_cfg):
    model = build_caption_model(**generation_cfg)
    model.load_state_dict(converted, strict=True)
    return model


def hf_generate(hf_model, tokenizer, images, **kwargs):
    prompt_ids = tokenizer(PROMPT, return_tensors='pt').input_ids  # [CLS] prompt [SEP]
    with torch.no_grad():
        return hf_model.generate(images, input_ids=prompt_ids.repeat(len(images), 1), **kwargs)


def until_eos(sequences: torch.Tensor) -> list[list[int]]:
    rows = sequences.tolist()
    return [row[: row.index(EOS) + 1] if EOS in row else row for row in rows]


def captions_of(tokenizer, sequences: torch.Tensor) -> list[str]:
    return [text[len(PROMPT) :] for text in tokenizer.batch_decode(sequences, skip_special_tokens=True)]
