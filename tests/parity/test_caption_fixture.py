"""BlipCaption computes what mmpretrain's BlipCaption computes (golden fixtures)."""

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


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    net = MODELS.build(fixture_config('caption'))
    load_recipe_weights(net, 'caption')
    return net.eval()


@pytest.fixture(scope='module')
def inputs():
    return load_fixture('caption_inputs.pt')


@pytest.fixture(scope='module')
def reference():
    return load_fixture('caption_outputs.pt')


def test_fullsize_model_matches_mmpretrain_keys_and_parameter_count():
    manifest = load_json('caption_fullsize_keys.json')
    cfg = Config.fromfile(str(REPO / 'configs/blip/blip-base_caption.py'))
    net = MODELS.build(cfg.model)
    state = net.state_dict()
    assert {k: list(v.shape) for k, v in state.items()} == manifest['keys']
    assert sum(p.numel() for p in net.parameters()) == 223_971_644
    assert state['seq_gen_head.decoder.bert.embeddings.position_ids'].dtype == torch.int64


def test_fixture_checkpoint_layout_loads_strictly(model):
    # The released layout: {'meta', 'state_dict'} with both tied keys present.
    state = model.state_dict()
    tied = 'seq_gen_head.decoder.cls.predictions.decoder.weight'
    assert (
        state[tied].data_ptr()
        == state['seq_gen_head.decoder.bert.embeddings.word_embeddings.weight'].data_ptr()
    )
    fresh = MODELS.build(fixture_config('caption'))
    fresh.load_state_dict(state, strict=True)
    assert torch.equal(fresh.state_dict()[tied], state[tied])


def test_image_embeddings(model, inputs, reference):
    with torch.no_grad():
        embeds = model.image_encoder(inputs['images'])
    torch.testing.assert_close(embeds, reference['image_embeds'], rtol=1e-4, atol=1e-5)


def test_teacher_forced_logits_and_loss(model, inputs, reference):
    samples = [DataSample(gt_caption=c) for c in inputs['gt_caption']]
    with torch.no_grad():
        embeds = model.image_encoder(inputs['images'])
        logits = model.head.decoder(reference['loss_input_ids'], image_embeds=embeds)
        loss = model.loss(inputs['images'], samples)
    torch.testing.assert_close(logits, reference['teacher_forced_logits'], rtol=1e-4, atol=1e-5)
    assert abs(loss['seq_gen_lm_loss'].item() - reference['loss']['seq_gen_lm_loss']) < 1e-5


def test_loss_inputs_truncate_and_mask_the_prompt(model, inputs, reference):
    # The second caption is longer than max_txt_len=20 and is truncated.
    text = model.tokenizer(
        [model.prompt + c for c in inputs['gt_caption']],
        padding='longest',
        truncation=True,
        max_length=model.max_txt_len,
        return_tensors='pt',
    )
    ids = text.input_ids
    ids[:, 0] = model.tokenizer.bos_token_id
    assert torch.equal(ids, reference['loss_input_ids'])
    labels = ids.masked_fill(ids == 0, -100)
    labels[:, : model.prompt_length] = -100
    assert torch.equal(labels, reference['loss_labels'])


def test_beam_search_tokens_scores_and_captions(model, inputs, reference):
    with torch.no_grad():
        sequences, scores = model.generate(inputs['images'])
        predictions = model.predict(inputs['images'])
    assert torch.equal(sequences, reference['generate_sequences'])
    torch.testing.assert_close(scores, reference['generate_sequences_scores'], rtol=1e-5, atol=1e-5)
    assert [p.pred_caption for p in predictions] == reference['pred_caption']


def test_loss_in_train_mode_without_dropout_equals_eval(model, inputs, reference):
    samples = [DataSample(gt_caption=c) for c in inputs['gt_caption']]
    rates = {m: m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)}
    attention = {m: m.dropout for m in model.modules() if isinstance(m, ScaledDotProduct)}
    model.train()
    try:
        for m in rates:
            m.p = 0.0
        for m in attention:
            m.dropout = 0.0
        loss = model.loss(inputs['images'], samples)['seq_gen_lm_loss'].item()
    finally:
        model.eval()
        for m, p in rates.items():
            m.p = p
        for m, p in attention.items():
            m.dropout = p
    assert abs(loss - reference['loss_train_mode_dropout0']['seq_gen_lm_loss']) < 1e-5
