"""BlipRetrieval computes what mmpretrain's BlipRetrieval computes (golden fixtures)."""

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

TOLERANCE = dict(rtol=1e-4, atol=1e-5)


def build(**overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    net = MODELS.build(fixture_config('retrieval') | overrides)
    load_recipe_weights(net, 'retrieval')
    return net.eval()


@pytest.fixture(scope='module')
def model():
    return build()


@pytest.fixture(scope='module')
def inputs():
    return load_fixture('retrieval_inputs.pt')


@pytest.fixture(scope='module')
def reference():
    return load_fixture('retrieval_outputs.pt')


def predict_samples(inputs):
    return [
        DataSample(text=texts, image_id=i, gt_text_id=text_ids, gt_image_id=image_ids)
        for i, (texts, text_ids, image_ids) in enumerate(
            zip(inputs['predict_texts'], inputs['predict_gt_text_id'], inputs['predict_gt_image_id'])
        )
    ]


def test_fullsize_model_matches_mmpretrain_keys_and_parameter_count():
    manifest = load_json('retrieval_fullsize_keys.json')
    cfg = Config.fromfile(str(REPO / 'configs/blip/blip-base_retrieval.py'))
    net = MODELS.build(cfg.model)
    state = net.state_dict()
    assert {k: list(v.shape) for k, v in state.items()} == manifest['keys']
    for key, dtype in manifest['dtypes'].items():
        assert str(state[key].dtype) == f'torch.{dtype}', key
    assert sum(p.numel() for p in net.parameters()) == 447_486_979
    assert sum(p.numel() for p in net.parameters() if p.requires_grad) == 223_744_259  # momentum frozen
    assert state['temp'].data_ptr() == state['head.temp'].data_ptr()


def test_features(model, inputs, reference):
    with torch.no_grad():
        feats = model.extract_feat(inputs['images'], predict_samples(inputs))
    assert list(feats) == [k[len('feat_') :] for k in reference if k.startswith('feat_')]
    assert torch.equal(feats['text_ids'], reference['feat_text_ids'])  # [CLS] first, padded to 35
    assert torch.equal(feats['text_attn_mask'], reference['feat_text_attn_mask'])
    for key in ('image_feat', 'image_embeds', 'text_feat', 'text_embeds'):
        torch.testing.assert_close(feats[key], reference[f'feat_{key}'], **TOLERANCE)


def test_score_matrices_rankings_and_labels(model, inputs, reference):
    samples = predict_samples(inputs)
    with torch.no_grad():
        i2t_samples, t2i_samples = model.predict(inputs['images'], samples)
    i2t = torch.stack([s.pred_score for s in i2t_samples])
    t2i = torch.stack([s.pred_score for s in t2i_samples])
    torch.testing.assert_close(i2t, reference['i2t_score'], **TOLERANCE)
    torch.testing.assert_close(t2i, reference['t2i_score'], **TOLERANCE)
    assert (i2t == -100).sum() == 4  # topk=2 of 4 texts: the others are not re-ranked
    for name, scores in (('i2t', i2t), ('t2i', t2i)):
        ranking = torch.argsort(scores, dim=1, descending=True, stable=True)
        assert torch.equal(ranking, reference[f'{name}_ranking'])
    assert torch.equal(torch.cat([s.pred_label for s in i2t_samples]), reference['i2t_pred_label'])
    assert torch.equal(torch.cat([s.pred_label for s in t2i_samples]), reference['t2i_pred_label'])
    assert [s.gt_label.tolist() for s in i2t_samples] == reference['i2t_gt_label']
    assert [s.gt_label.tolist() for s in t2i_samples] == reference['t2i_gt_label']
    assert [s.text for s in t2i_samples] == reference['t2i_sample_text']
    assert {s.direction for s in i2t_samples} == {'i2t'} and {s.direction for s in t2i_samples} == {'t2i'}


def test_topk_larger_than_the_candidates_is_clamped(inputs, reference):
    # mmpretrain recorded i2t with topk=3; its t2i (2 images) failed in torch.topk.
    model = build(topk=3)
    with torch.no_grad():
        i2t_samples, t2i_samples = model.predict(inputs['images'], predict_samples(inputs))
    i2t = torch.stack([s.pred_score for s in i2t_samples])
    torch.testing.assert_close(i2t, reference['topk3_i2t_score'], **TOLERANCE)
    assert 'selected index k out of range' in reference['topk3_t2i_error']
    t2i = torch.stack([s.pred_score for s in t2i_samples])
    torch.testing.assert_close(t2i, reference['t2i_score'], **TOLERANCE)  # both images re-ranked, as topk=2


def test_fast_match_ranks_by_contrastive_similarity(inputs, reference):
    model = build(fast_match=True)
    with torch.no_grad():
        i2t_samples, t2i_samples = model.predict(inputs['images'], predict_samples(inputs))
    similarity = reference['derived_itc_sim_i2t']
    torch.testing.assert_close(torch.stack([s.pred_score for s in i2t_samples]), similarity, **TOLERANCE)
    torch.testing.assert_close(torch.stack([s.pred_score for s in t2i_samples]), similarity.t(), **TOLERANCE)


def loss_samples(inputs):
    return [
        DataSample(text=text, image_id=image_id, is_matched=matched)
        for text, image_id, matched in zip(
            inputs['loss_texts'], inputs['loss_image_id'], inputs['loss_is_matched']
        )
    ]


def test_loss_momentum_features_and_queue_state(inputs, reference):
    model = build()  # the loss changes the model: a fresh one
    torch.manual_seed(inputs['loss_seed'])
    with torch.no_grad():
        losses = model.loss(inputs['images'], loss_samples(inputs))
    assert set(losses) == {'itc_loss', 'itm_loss'}
    for key, value in reference['loss'].items():
        assert abs(losses[key].item() - value) < 1e-5, key
    # The momentum features were enqueued: the first two queue columns.
    head = model.itc_head
    torch.testing.assert_close(head.image_queue[:, :2].t(), reference['loss_itc_image_feat_m'], **TOLERANCE)
    torch.testing.assert_close(head.text_queue[:, :2].t(), reference['loss_itc_text_feat_m'], **TOLERANCE)
    assert torch.equal(head.queue_ptr, reference['loss_state_after_queue_ptr'])
    assert torch.equal(head.idx_queue[:, :4], reference['loss_state_after_idx_queue_first4'])
    assert head.temp.item() < 0  # used as stored, never clamped


def test_itm_logits_of_the_loss_pairs(inputs, reference):
    # Rows [positives; text_i + negative image; negative text + image_i]: with two
    # images the negatives are forced, so the rows can be rebuilt and checked.
    model = build()
    with torch.no_grad():
        feats = model.extract_feat(inputs['images'], loss_samples(inputs))
        logits = model.match_logits(
            feats['image_embeds'],
            feats['text_ids'],
            feats['text_attn_mask'],
            image_rows=torch.tensor([0, 1, 1, 0, 0, 1]),
            text_rows=torch.tensor([0, 1, 0, 1, 1, 0]),
            batch_size=4,  # batches mix queries: 4 pairs, then 2
        )
    assert reference['loss_itm_targets'].tolist() == [True, True, False, False, False, False]
    torch.testing.assert_close(logits, reference['loss_itm_logits'][:, 1], **TOLERANCE)


def test_loss_in_train_mode_without_dropout_equals_eval(inputs, reference):
    model = build()
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
        if isinstance(m, ScaledDotProduct):
            m.dropout = 0.0
    model.train()
    torch.manual_seed(inputs['loss_seed'])
    losses = model.loss(inputs['images'], loss_samples(inputs))
    for key, value in reference['loss_train_mode_dropout0'].items():
        assert abs(losses[key].item() - value) < 1e-5, key
    (losses['itc_loss'] + losses['itm_loss']).backward()
    assert model.image_encoder.cls_token.grad is not None
    assert all(p.grad is None for p in model.image_encoder_m.parameters())  # momentum: no gradient
