"""BlipGrounding computes what mmpretrain's BlipGrounding computes (golden fixtures)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpretrain.structures import DataSample

import blip  # noqa: F401
from blip.models.attention import ScaledDotProduct
from blip.registry import MODELS
from fixture_weights import fixture_config, load_fixture, load_json, load_recipe_weights

REPO = Path(__file__).resolve().parents[2]

TOLERANCE = dict(rtol=1e-4, atol=1e-5)


@pytest.fixture(scope='module')
def model():
    net = MODELS.build(fixture_config('grounding'))
    load_recipe_weights(net, 'grounding')  # bbox_prob_mask is checked as built
    return net.eval()


@pytest.fixture(scope='module')
def inputs():
    return load_fixture('grounding_inputs.pt')


@pytest.fixture(scope='module')
def reference():
    return load_fixture('grounding_outputs.pt')


def predict_samples(inputs):
    samples = []
    for text, boxes, scale in zip(
        inputs['text'], inputs['predict_gt_bboxes'], inputs['predict_scale_factor_wh']
    ):
        sample = DataSample(text=text, gt_bboxes=np.array(boxes, dtype=np.float32))
        if scale is not None:
            sample.scale_factor = tuple(scale)
        samples.append(sample)
    return samples


def loss_samples(inputs):
    # The box is in pixels of img_shape (h, w); sample 1 is not square.
    return [
        DataSample(text=text, gt_bboxes=np.array([box], dtype=np.float32), metainfo=dict(img_shape=tuple(hw)))
        for text, box, hw in zip(inputs['text'], inputs['loss_box_xyxy_pixels'], inputs['loss_img_shape_hw'])
    ]


def test_fullsize_model_matches_mmpretrain_keys_and_parameter_count():
    manifest = load_json('grounding_fullsize_keys.json')
    cfg = Config.fromfile(str(REPO / 'configs/blip/blip-base_refcoco.py'))
    net = MODELS.build(cfg.model)
    state = net.state_dict()
    assert {k: list(v.shape) for k, v in state.items()} == manifest['keys']
    assert sum(p.numel() for p in net.parameters()) == 498_488_636
    assert {k: str(v.dtype).removeprefix('torch.') for k, v in state.items() if v.dtype != torch.float32} == (
        manifest['dtypes']
    )
    head = net.head
    assert head.decoder.cls.predictions.decoder.weight is head.decoder.bert.embeddings.word_embeddings.weight
    del net, state


def test_bin_tokens(model, reference):
    head = model.head
    assert head.bin_start_id == reference['bin_start_idx'] == 345
    assert torch.equal(head.prefix_ids, reference['prefix_ids'])
    assert head.num_bins == reference['image_res'] == 640
    mask = head.bbox_prob_mask
    assert (mask[345:986] == 0).all() and (mask[:345] == -10000).all() and (mask[986:] == -10000).all()


def test_encoders(model, inputs, reference):
    with torch.no_grad():
        image_embeds = model.image_encoder(inputs['images'])
        text = model.tokenizer(inputs['text'], padding='longest', return_tensors='pt')
        text_embeds = model.text_encoder(text.input_ids, text.attention_mask)
        multimodal = model.multimodal_encoder(
            attention_mask=text.attention_mask, embeds=text_embeds, image_embeds=image_embeds
        )
        memory, memory_mask = model.encode(inputs['images'], inputs['text'])
    assert torch.equal(text.input_ids, reference['text_input_ids'])
    torch.testing.assert_close(image_embeds, reference['image_embeds'], **TOLERANCE)
    torch.testing.assert_close(text_embeds, reference['text_embeds'], **TOLERANCE)
    torch.testing.assert_close(multimodal, reference['multimodal_embeds'], **TOLERANCE)
    torch.testing.assert_close(
        memory, torch.cat([reference['image_embeds'], reference['multimodal_embeds']], 1)
    )
    assert torch.equal(memory_mask, torch.cat([torch.ones(2, 17, dtype=torch.long), text.attention_mask], 1))


def test_predicted_tokens_and_boxes_in_original_pixels(model, inputs, reference):
    with torch.no_grad():
        memory, memory_mask = model.encode(inputs['images'], inputs['text'])
        tokens = model.head.predict_tokens(memory, memory_mask)
        normalized = model.head.predict(memory, memory_mask)
        predictions = model(inputs['images'], predict_samples(inputs), mode='predict')
    assert torch.equal(tokens, reference['pred_tokens'])
    torch.testing.assert_close(normalized, reference['pred_box_xyxy_normalized'], **TOLERANCE)
    torch.testing.assert_close(
        torch.stack([p.pred_bboxes for p in predictions]), reference['pred_bboxes'], **TOLERANCE
    )
    torch.testing.assert_close(
        torch.stack([p.gt_bboxes for p in predictions]), reference['gt_bboxes_after_predict'], **TOLERANCE
    )


def test_greedy_decoding_with_the_cache_equals_recomputation(model, inputs, reference):
    head = model.head
    with torch.no_grad():
        memory, memory_mask = model.encode(inputs['images'], inputs['text'])
        tokens = head.prefix_ids.view(1, 1).expand(2, 1)
        for _ in range(4):
            logits = head.box_logits(tokens, memory, memory_mask)[:, -1]
            tokens = torch.cat([tokens, logits.argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(tokens[:, 1:], reference['pred_tokens'])


def test_loss(model, inputs, reference):
    head = model.head
    with torch.no_grad():
        losses = model(inputs['images'], loss_samples(inputs), mode='loss')
        memory, memory_mask = model.encode(inputs['images'], inputs['text'])
        boxes = reference['loss_box_targets_cxcywh_normalized']
        decoder_ids = torch.cat([head.prefix_ids.view(1, 1).expand(2, 1), head.box_tokens(boxes)], dim=1)
        logits = head.decoder(decoder_ids, image_embeds=memory, image_mask=memory_mask)
    assert torch.equal(decoder_ids, reference['loss_decoder_input_ids'])
    torch.testing.assert_close(logits[..., 345:986], reference['loss_decoder_logits_bins'], **TOLERANCE)
    assert set(losses) == set(reference['loss'])
    for key, value in reference['loss'].items():
        assert abs(losses[key].item() - value) <= 1e-5 * max(1.0, abs(value)), key
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert abs(total.item() - reference['loss_parsed_total']) <= 1e-5 * reference['loss_parsed_total']


def test_only_loss_seq_init_has_a_gradient_and_it_reaches_every_tower(model, inputs, reference):
    rates = {m: m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)}
    attention = {m: m.dropout for m in model.modules() if isinstance(m, ScaledDotProduct)}
    model.train()
    try:
        for m in rates:
            m.p = 0.0
        for m in attention:
            m.dropout = 0.0
        model.zero_grad()
        losses = model.loss(inputs['images'], loss_samples(inputs))
        losses['loss_seq_init'].backward()
    finally:
        model.eval()
        for m, p in rates.items():
            m.p = p
        for m, p in attention.items():
            m.dropout = p
    assert {k: v.requires_grad for k, v in losses.items()} == reference['loss_requires_grad']
    for key, value in reference['loss_train_mode_dropout0'].items():
        assert abs(losses[key].item() - value) <= 1e-5 * max(1.0, abs(value)), key
    for tower in ('image_encoder', 'text_encoder', 'multimodal_encoder', 'head.decoder'):
        grads = [p.grad for n, p in model.named_parameters() if n.startswith(tower) and p.grad is not None]
        assert grads and sum(g.abs().sum() for g in grads) > 0, tower
    model.zero_grad()


def test_samples_without_a_box_cannot_train(model, inputs):
    samples = [DataSample(text=t) for t in inputs['text']]
    with pytest.raises(KeyError, match='sample 0: grounding training needs gt_bboxes and img_shape'):
        model.loss(inputs['images'], samples)
