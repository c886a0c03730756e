"""BlipNLVR computes what mmpretrain's BlipNLVR computes (golden fixtures).

``nlvr`` has 2 text layers (both average the two image branches); ``nlvr8l``
has 8, so layers 6 and 7 merge the branches with ``merge_layer``.
"""

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmpretrain.structures import DataSample

import blip  # noqa: F401
from blip.models.attention import ScaledDotProduct
from blip.registry import MODELS
from fixture_weights import fixture_config, load_fixture, load_json, load_recipe_weights

REPO = Path(__file__).resolve().parents[2]

TASKS = ('nlvr', 'nlvr8l')
TOLERANCE = dict(rtol=1e-4, atol=1e-5)


@pytest.fixture(scope='module')
def inputs():
    # nlvr8l was generated from the same inputs (same images and texts).
    return load_fixture('nlvr_inputs.pt')


@pytest.fixture(scope='module', params=TASKS)
def task(request):
    net = MODELS.build(fixture_config(request.param))
    load_recipe_weights(net, request.param)
    return request.param, net.eval(), load_fixture(f'{request.param}_outputs.pt')


def samples(inputs, with_labels=False):
    if with_labels:
        return [DataSample(text=t, gt_label=g) for t, g in zip(inputs['text'], inputs['gt_label'])]
    return [DataSample(text=t) for t in inputs['text']]


def test_fullsize_model_matches_mmpretrain_keys_and_parameter_count():
    manifest = load_json('nlvr_fullsize_keys.json')
    cfg = Config.fromfile(str(REPO / 'configs/blip/blip-base_nlvr.py'))
    net = MODELS.build(cfg.model)
    state = net.state_dict()
    assert {k: list(v.shape) for k, v in state.items()} == manifest['keys']
    assert sum(p.numel() for p in net.parameters()) == 259_372_034
    assert state['multimodal_backbone.embeddings.position_ids'].dtype == torch.int64


def test_merge_layers_exist_from_layer_6_on():
    net = MODELS.build(fixture_config('nlvr8l'))
    merging = [
        index
        for index, layer in enumerate(net.text_encoder.layers)
        if layer.crossattention.output.merge_layer is not None
    ]
    assert merging == [6, 7]


def test_image_embeddings_left_then_right(task, inputs):
    _, model, reference = task
    images = inputs['images']
    with torch.no_grad():
        flat = model.image_encoder(torch.cat([images[:, 0], images[:, 1]]))
    torch.testing.assert_close(flat, reference['image_embeds_flat'], **TOLERANCE)


def test_statement_tokens_start_with_cls(task, inputs):
    _, model, reference = task
    text = model.tokenizer(
        inputs['text'], padding='longest', truncation=True, max_length=35, return_tensors='pt'
    )
    assert torch.equal(text.input_ids, reference['text_input_ids'])
    assert torch.equal(text.attention_mask, reference['text_attention_mask'])
    assert (text.input_ids[:, 0] == 101).all()


def test_multimodal_states_logits_scores_and_labels(task, inputs):
    _, model, reference = task
    with torch.no_grad():
        flat = reference['image_embeds_flat']
        left, right = flat.chunk(2)
        states = model.text_encoder(
            reference['text_input_ids'], reference['text_attention_mask'], image_embeds=[left, right]
        )
        logits = model(inputs['images'], samples(inputs), mode='tensor')
        predictions = model(inputs['images'], samples(inputs), mode='predict')
    torch.testing.assert_close(states, reference['multimodal_last_hidden_state'], **TOLERANCE)
    torch.testing.assert_close(logits, reference['logits'], **TOLERANCE)
    scores = torch.stack([p.pred_score for p in predictions])
    torch.testing.assert_close(scores, reference['pred_score'], **TOLERANCE)
    assert torch.equal(torch.stack([p.pred_label for p in predictions]).view(-1), reference['pred_label'])


def test_loss(task, inputs):
    _, model, reference = task
    with torch.no_grad():
        loss = model(inputs['images'], samples(inputs, with_labels=True), mode='loss')
    assert set(loss) == {'loss'}
    assert abs(loss['loss'].item() - reference['loss']['loss']) < 1e-5


def test_loss_in_train_mode_without_dropout_equals_eval_and_trains_every_tower(task, inputs):
    _, model, reference = task
    rates = {m: m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)}
    attention = {m: m.dropout for m in model.modules() if isinstance(m, ScaledDotProduct)}
    model.train()
    try:
        for m in rates:
            m.p = 0.0
        for m in attention:
            m.dropout = 0.0
        model.zero_grad()
        loss = model.loss(inputs['images'], samples(inputs, with_labels=True))['loss']
        loss.backward()
    finally:
        model.eval()
        for m, p in rates.items():
            m.p = p
        for m, p in attention.items():
            m.dropout = p
    assert abs(loss.item() - reference['loss_train_mode_dropout0']['loss']) < 1e-5
    layer = model.text_encoder.layers[-1].crossattention
    for name in ('self0.query.weight', 'self1.query.weight', 'output.dense0.weight', 'output.dense1.weight'):
        assert layer.get_parameter(name).grad.abs().sum() > 0, name
    assert model.image_encoder.patch_embed.projection.weight.grad.abs().sum() > 0
    model.zero_grad()


def test_swapping_the_images_changes_the_logits(task, inputs):
    _, model, _ = task
    with torch.no_grad():
        logits = model(inputs['images'], samples(inputs), mode='tensor')
        swapped = model(inputs['images'].flip(1), samples(inputs), mode='tensor')
    assert not torch.allclose(logits, swapped, atol=1e-6)


def test_image_pairs_of_the_wrong_shape_are_refused(task, inputs):
    _, model, _ = task
    with pytest.raises(ValueError, match=r'image pairs \(B, 2, C, H, W\)'):
        model(inputs['images'][:, 0], samples(inputs), mode='predict')
