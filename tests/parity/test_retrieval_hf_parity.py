"""Hugging Face ``BlipForImageTextRetrieval`` -> BlipRetrieval: converter and ITM / ITC parity.

A tiny random ``BlipForImageTextRetrieval`` (transformers v5) is converted with
``hf_blip_to_blip(task='retrieval')`` and loaded strictly into our tiny
``BlipRetrieval``; both must give the same image-text matching logits and the
same contrastive similarities, and our re-ranked scores must equal the
Hugging Face model's ITM logit + cosine for every candidate.

Hugging Face's model uses ``input_ids`` as given; BLIP's ITM replaces
``[CLS]`` by ``[ENC]`` (our model does it itself), so the Hugging Face ITM is
fed ``[ENC]``-first ids and its contrastive branch the ``[CLS]``-first ones.
"""

from pathlib import Path

import pytest
import torch
from transformers import BlipConfig, BlipForImageTextRetrieval

import blip
from blip.checkpoint import load_checkpoint
from blip.converters import guess_hf_task, hf_blip_to_blip
from blip.converters.hf_blip import ITC_QUEUE_SIZE

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / 'tests/data/configs/tiny_retrieval.py'
# The sizes of tiny_retrieval.py (configs/blip/_base_/models/blip-tiny.py's towers at 64 px).
VISION = dict(
    hidden_size=64,
    num_hidden_layers=3,
    num_attention_heads=4,
    intermediate_size=128,
    image_size=64,
    patch_size=16,
    layer_norm_eps=1e-6,
)
TEXT = dict(
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    vocab_size=30524,
    encoder_hidden_size=64,
    layer_norm_eps=1e-12,
    pad_token_id=0,
)
TEXTS = [
    'a dog runs on the grass',
    'two cats sleeping',
    'a red bus parked next to a tall building',
    'people on the beach',
    'a plate of food',
]


@pytest.fixture(scope='module')
def hf_model():
    torch.manual_seed(0)
    model = BlipForImageTextRetrieval(
        BlipConfig(vision_config=VISION, text_config=TEXT, image_text_hidden_size=16)
    ).eval()
    with torch.no_grad():  # wider than the default init, so that scores differ between pairs
        for name, param in model.named_parameters():
            is_norm = any(norm in name for norm in ('LayerNorm', 'layer_norm', 'layernorm'))
            param.normal_(1.0 if is_norm and name.endswith('weight') else 0.0, 0.1)
    return model


def our_model(**overrides):
    # Converted checkpoints carry BLIP's 57600-long ITC queues.
    return blip.get_model(TINY_CONFIG, itc_head=dict(queue_size=ITC_QUEUE_SIZE), **overrides)


@pytest.fixture(scope='module')
def model(hf_model):
    net = our_model()
    net.load_state_dict(hf_blip_to_blip(hf_model.state_dict(), task='retrieval'), strict=True)
    return net.eval()


@pytest.fixture(scope='module')
def images():
    return torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def test_converted_keys_and_training_state(hf_model, model):
    converted = hf_blip_to_blip(hf_model.state_dict(), task='retrieval')
    assert guess_hf_task(hf_model.state_dict()) == 'retrieval'
    assert set(converted) == set(model.state_dict())
    state = model.state_dict()
    for online in ('vision_backbone', 'text_backbone', 'vision_neck', 'text_neck'):
        for key, value in state.items():
            if key.startswith(online + '.'):
                assert torch.equal(state[online + '_m' + key[len(online) :]], value), key
    assert model.temp.item() == pytest.approx(0.07) and model.itc_head.temp is model.temp
    assert int(model.itc_head.queue_ptr) == 0 and bool((model.itc_head.idx_queue == -100).all())


def test_itm_logits_match(hf_model, model, images):
    tokens = model.tokenize(TEXTS[:3])
    assert (tokens.attention_mask == 0).any()  # padding is exercised
    enc_ids = tokens.input_ids.clone()
    enc_ids[:, 0] = model.tokenizer.enc_token_id
    with torch.no_grad():
        theirs = hf_model(
            input_ids=enc_ids, pixel_values=images, attention_mask=tokens.attention_mask
        ).itm_score
        image_embeds = model.extract_feat(images)['image_embeds']
        states = model.text_encoder(enc_ids, tokens.attention_mask, image_embeds=image_embeds)
        ours = model.itm_head(states[:, 0])
        match = model.match_logits(
            image_embeds, tokens.input_ids, tokens.attention_mask, torch.arange(3), torch.arange(3)
        )
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)
    torch.testing.assert_close(match, theirs[:, 1], rtol=0, atol=1e-5)
    assert theirs[:, 1].std() > 1e-3  # the pairs score differently


def test_itc_similarities_match(hf_model, model, images):
    tokens = model.tokenize(TEXTS[:3])
    with torch.no_grad():
        theirs = hf_model(
            input_ids=tokens.input_ids,
            pixel_values=images,
            attention_mask=tokens.attention_mask,
            use_itm_head=False,
        ).itm_score
        feats = model.extract_feat(images, texts=TEXTS[:3])
    torch.testing.assert_close(feats['image_feat'] @ feats['text_feat'].t(), theirs, rtol=0, atol=1e-5)


def test_reranked_scores_equal_hugging_face_itm_plus_cosine(hf_model, model, images):
    tokens = model.tokenize(TEXTS)
    enc_ids = tokens.input_ids.clone()
    enc_ids[:, 0] = model.tokenizer.enc_token_id
    with torch.no_grad():
        feats = model.extract_feat(images, texts=TEXTS)
        i2t, t2i = model.score_matrices(feats)
        cosine = hf_model(
            input_ids=tokens.input_ids,
            pixel_values=images,
            attention_mask=tokens.attention_mask,
            use_itm_head=False,
        ).itm_score
        # Every pair through the Hugging Face ITM head.
        itm = torch.stack(
            [
                hf_model(
                    input_ids=enc_ids,
                    pixel_values=image[None].expand(len(TEXTS), -1, -1, -1),
                    attention_mask=tokens.attention_mask,
                ).itm_score[:, 1]
                for image in images
            ]
        )
    expected = itm + cosine
    reranked = i2t != -100
    assert reranked.sum() == len(images) * model.topk
    torch.testing.assert_close(i2t[reranked], expected[reranked], rtol=0, atol=1e-5)
    reranked_t2i = t2i != -100
    assert reranked_t2i.sum() == len(TEXTS) * len(images)  # topk=3 covers the 3 images
    torch.testing.assert_close(t2i, expected.t(), rtol=0, atol=1e-5)


def test_convert_tool_writes_a_strictly_loadable_retrieval_checkpoint(hf_model, model, images, tmp_path):
    hf_model.save_pretrained(tmp_path / 'hf')
    from blip.cli import convert_hf_blip

    convert_hf_blip.main([str(tmp_path / 'hf'), str(tmp_path / 'blip.pth'), '--task', 'retrieval'])
    checkpoint = torch.load(tmp_path / 'blip.pth', weights_only=True)
    assert 'BlipForImageTextRetrieval' in checkpoint['meta']['converted_from']
    loaded = load_checkpoint(our_model(), tmp_path / 'blip.pth')  # strict
    with torch.no_grad():
        ours = loaded.extract_feat(images, texts=TEXTS)
        reference = model.extract_feat(images, texts=TEXTS)
    torch.testing.assert_close(ours['image_feat'], reference['image_feat'], rtol=0, atol=0)


def test_wrong_task_is_named(hf_model):
    with pytest.raises(ValueError, match="look like task 'retrieval'"):
        hf_blip_to_blip(hf_model.state_dict(), task='caption')
