"""The Hugging Face converter at both BLIP sizes: random small models shaped as
base (image and text towers of one width) and as large (a wider, deeper image
tower than the text tower, whose cross-attention reads the wider tokens), for
``BlipForConditionalGeneration`` and ``BlipForImageTextRetrieval`` (the Hub's
``-large`` models), and ``BlipForQuestionAnswering`` at base (see below). The
converted weights load strictly into our model of the same sizes, and both
compute the same."""

import pytest
import torch
from transformers import (
    BlipConfig,
    BlipForConditionalGeneration,
    BlipForImageTextRetrieval,
    BlipForQuestionAnswering,
)

import blip  # noqa: F401
from blip.checkpoint import load_state_dict_strict
from blip.registry import MODELS

TEXT_WIDTH = 32
#: size -> the image tower: (width, layers, heads).
SIZES = {'base': (32, 2, 2), 'large': (48, 3, 3)}
TOKENIZER = dict(type='BlipTokenizer', name_or_path='bert-base-uncased')
TEXTS = ['a dog runs on the grass', 'two cats', 'a red bus next to a tall building']


def hf_config(size: str) -> BlipConfig:
    width, layers, heads = SIZES[size]
    vision = dict(
        hidden_size=width,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=4 * width,
        image_size=64,
        patch_size=16,
        layer_norm_eps=1e-6,
    )
    text = dict(
        hidden_size=TEXT_WIDTH,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        vocab_size=30524,
        encoder_hidden_size=width,
        layer_norm_eps=1e-12,
        pad_token_id=0,
        bos_token_id=30522,
        sep_token_id=102,
        eos_token_id=102,
    )
    return BlipConfig(vision_config=vision, text_config=text, image_text_hidden_size=16)


def hf_model(cls, size: str):
    torch.manual_seed(0)
    model = cls(hf_config(size)).eval()
    with torch.no_grad():  # wider than the default init, so that outputs differ between inputs
        for name, param in model.named_parameters():
            norm = any(n in name for n in ('LayerNorm', 'layer_norm', 'layernorm'))
            param.normal_(1.0 if norm and name.endswith('weight') else 0.0, 0.1)
    return model


def our_model(task: str, size: str, hf) -> torch.nn.Module:
    width, layers, heads = SIZES[size]
    vit = dict(
        type='VisionTransformer',
        arch=dict(embed_dims=width, num_layers=layers, num_heads=heads, feedforward_channels=4 * width),
        img_size=64,
    )
    text = dict(
        vocab_size=30524,
        hidden_size=TEXT_WIDTH,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        encoder_width=width,
    )
    decoder = dict(type='TextDecoder', config=text)
    configs = {
        'caption': dict(type='BlipCaption', head=dict(type='SeqGenerationHead', decoder=decoder)),
        'vqa': dict(
            type='BlipVQA',
            text_encoder=dict(type='TextTransformer', config=text),
            head=dict(type='VQAHead', decoder=decoder),
        ),
        'retrieval': dict(
            type='BlipRetrieval',
            text_encoder=dict(type='TextTransformer', config=text),
            embed_dim=16,
            itm_head=dict(type='ITMHead', with_pooler=False),
            inference_only=True,
        ),
    }
    model = MODELS.build(dict(configs[task], image_encoder=vit, tokenizer=TOKENIZER)).eval()
    # The Hugging Face state dict as a file holds it; converted while loading, strictly.
    load_state_dict_strict(model, hf.state_dict())
    return model


@pytest.fixture(scope='module')
def images():
    return torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize('size', sorted(SIZES))
def test_captioning(size, images):
    hf = hf_model(BlipForConditionalGeneration, size)
    model = our_model('caption', size, hf)
    tokens = model.tokenize(TEXTS, first_token_id=30522)
    with torch.no_grad():
        theirs_image = hf.vision_model(pixel_values=images).last_hidden_state
        ours_image = model.encode_image(images)
        theirs = hf.text_decoder(
            tokens.input_ids, tokens.attention_mask, encoder_hidden_states=theirs_image
        ).logits
        ours = model.head.decoder(tokens.input_ids, tokens.attention_mask, image_embeds=ours_image)
    torch.testing.assert_close(ours_image, theirs_image, rtol=0, atol=1e-5)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-4)


# transformers builds BlipForQuestionAnswering's answer decoder from the question
# encoder's text config, so its cross-attention expects image-wide states where
# it gets question states: it runs only with towers of one width. There is no
# ViT-L VQA model (neither on the Hub nor among the official checkpoints).
@pytest.mark.parametrize('size', ['base'])
def test_question_answering(size, images):
    hf = hf_model(BlipForQuestionAnswering, size)
    model = our_model('vqa', size, hf)
    questions = ['what is on the table', 'is the man in red', 'how many dogs are here']
    answers = model.tokenize(['a red car', 'yes', 'two'], first_token_id=30522)
    with torch.no_grad():
        ids, mask = model.tokenize_questions(questions)
        image_embeds = hf.vision_model(pixel_values=images).last_hidden_state
        theirs_states = hf.text_encoder(ids, mask, encoder_hidden_states=image_embeds).last_hidden_state
        ours_states, ours_mask = model.encode_questions(images, questions)
        theirs = hf.text_decoder(
            answers.input_ids, answers.attention_mask, encoder_hidden_states=theirs_states
        ).logits
        ours = model.head.decoder(answers.input_ids, answers.attention_mask, image_embeds=ours_states)
    assert ours_mask.all()  # questions of one length: no padding on either side
    torch.testing.assert_close(ours_states, theirs_states, rtol=0, atol=1e-5)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-4)


@pytest.mark.parametrize('size', sorted(SIZES))
def test_image_text_retrieval(size, images):
    hf = hf_model(BlipForImageTextRetrieval, size)
    model = our_model('retrieval', size, hf)
    with torch.no_grad():
        feats = model.extract_feat(images, texts=TEXTS)
        pairs = torch.tensor([[i, t] for i in range(3) for t in range(3)])
        ours_itm = model.pair_logits(feats)(pairs)
        ids = feats['text_ids'].clone()
        ids[:, 0] = model.tokenizer.enc_token_id
        theirs_itm = hf(
            input_ids=ids[pairs[:, 1]],
            attention_mask=feats['text_attn_mask'][pairs[:, 1]],
            pixel_values=images[pairs[:, 0]],
            use_itm_head=True,
        ).itm_score[:, 1]
        theirs_itc = torch.stack(
            [
                hf(
                    input_ids=feats['text_ids'],
                    attention_mask=feats['text_attn_mask'],
                    pixel_values=images[i : i + 1].expand(3, -1, -1, -1),
                    use_itm_head=False,
                ).itm_score
                for i in range(3)
            ]
        )
    torch.testing.assert_close(ours_itm, theirs_itm, rtol=0, atol=1e-4)
    ours_itc = feats['image_feat'] @ feats['text_feat'].t()
    torch.testing.assert_close(
        ours_itc,
        theirs_itc.diagonal(dim1=1, dim2=2) if theirs_itc.dim() == 3 else theirs_itc,
        rtol=0,
        atol=1e-5,
    )
