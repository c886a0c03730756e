"""BlipVQA computes what mmpretrain's BlipVQA computes (golden fixtures), and
its answers do not depend on the other questions of the batch.

mmpretrain's generation lets the answer attend to the question's padding
(all-ones mask); ours masks it. In the fixture the first question is padded
(8 real tokens of 15) and its generated answer does change with the mask, so
generation parity is checked on the head given no mask (mmpretrain's
computation), and on the model for the unpadded second question; the first
question's answer is checked against the same question answered alone.
"""

import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmpretrain.structures import DataSample

import blip  # noqa: F401
from blip.checkpoint import load_state_dict_strict
from blip.models import vqa_head as vqa_head_module
from blip.models.attention import ScaledDotProduct
from blip.registry import MODELS
from fixture_weights import DATA, fixture_config, load_fixture, load_json, load_recipe_weights
from tiny_models import TINY_VIT, tiny_vqa_config

REPO = Path(__file__).resolve().parents[2]

BOS, SEP, PAD = 30522, 102, 0
LONGER = 'is the woman on the left of the picture holding a red umbrella over her head in the rain?'


def build(variant: str) -> torch.nn.Module:
    config = json.loads(json.dumps(fixture_config('vqa', variant)).replace('<FIXTURE_DIR>', str(DATA)))
    torch.manual_seed(0)
    net = MODELS.build(config)
    load_recipe_weights(net, 'vqa')
    return net.eval()


@pytest.fixture(scope='module')
def models():
    return {variant: build(variant) for variant in ('generate', 'rank', 'rank_default_candidates')}


@pytest.fixture(scope='module')
def inputs():
    return load_fixture('vqa_inputs.pt')


@pytest.fixture(scope='module')
def reference():
    return load_fixture('vqa_outputs.pt')


def questions(texts):
    return [DataSample(question=q) for q in texts]


def predict(model, images, texts):
    with torch.no_grad():
        return model.predict(images, questions(texts))


def test_fullsize_model_matches_mmpretrain_keys_and_parameter_count():
    manifest = load_json('vqa_fullsize_keys.json')
    cfg = Config.fromfile(str(REPO / 'configs/blip/blip-base_vqa.py'))
    net = MODELS.build(cfg.model)
    state = net.state_dict()
    assert {k: list(v.shape) for k, v in state.items()} == manifest['keys']
    assert sum(p.numel() for p in net.parameters()) == 361_478_972
    for key, dtype in manifest['dtypes'].items():
        assert str(state[key].dtype) == f'torch.{dtype}', key
    for first, second in manifest['tied_groups']:
        assert state[first].data_ptr() == state[second].data_ptr()
    assert net.image_encoder.pos_embed.shape == (1, 1 + 30 * 30, 768)  # 480 px


def test_weights_trained_at_another_size_are_resampled_on_load():
    small = MODELS.build(tiny_vqa_config())
    large = MODELS.build(tiny_vqa_config() | dict(image_encoder=dict(TINY_VIT, img_size=96)))
    load_state_dict_strict(large, small.state_dict())  # 4x4 -> 6x6 grid, as 384 -> 480 px
    assert large.image_encoder.pos_embed.shape == (1, 37, 32)
    torch.testing.assert_close(large.image_encoder.pos_embed[:, 0], small.image_encoder.pos_embed[:, 0])


def test_image_and_question_encoding(models, inputs, reference):
    model = models['generate']
    ids, mask = model.tokenize_questions(inputs['question'])
    assert torch.equal(ids, reference['question_input_ids'])
    assert torch.equal(mask, reference['question_attention_mask'])
    with torch.no_grad():
        embeds = model.encode_image(inputs['images'])
        states, _ = model.encode_questions(inputs['images'], inputs['question'])
    torch.testing.assert_close(embeds, reference['image_embeds'], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(states, reference['question_states'], rtol=1e-4, atol=1e-5)


def training_samples(inputs):
    return [
        DataSample(question=q, gt_answer=a, gt_answer_weight=w)
        for q, a, w in zip(inputs['question'], inputs['gt_answer'], inputs['gt_answer_weight'])
    ]


def test_weighted_answer_loss(models, inputs, reference):
    model = models['generate']
    answers = model.tokenizer(sum(inputs['gt_answer'], []), padding='longest', return_tensors='pt')
    assert torch.equal(answers.input_ids, reference['loss_answer_input_ids'])  # [CLS] first, as mmpretrain
    with torch.no_grad():
        states = reference['question_states'][[0, 0, 1]]
        logits = model.head.decoder(
            answers.input_ids,
            answers.attention_mask,
            image_embeds=states,
            image_mask=reference['loss_question_atts_repeated'],
        )
        per_answer = torch.nn.functional.cross_entropy(
            logits[:, :-1].transpose(1, 2), reference['loss_answer_targets'][:, 1:], reduction='none'
        ).sum(dim=1)
        loss = model.loss(inputs['images'], training_samples(inputs))['vqa_loss']
    torch.testing.assert_close(per_answer, reference['derived_loss_per_answer_ce_sum'], rtol=1e-5, atol=1e-5)
    assert abs(loss.item() - reference['loss']['vqa_loss']) < 1e-5


def test_loss_in_train_mode_without_dropout_equals_eval(models, inputs, reference):
    model = models['generate']
    dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    attention = [m for m in model.modules() if isinstance(m, ScaledDotProduct)]
    saved = [m.p for m in dropouts], [m.dropout for m in attention]
    model.train()
    try:
        for m in dropouts:
            m.p = 0.0
        for m in attention:
            m.dropout = 0.0
        loss = model.loss(inputs['images'], training_samples(inputs))['vqa_loss']
        loss.backward()  # the loss trains both towers and the decoder
        assert model.image_encoder.patch_embed.projection.weight.grad is not None
        assert model.text_encoder.embeddings.word_embeddings.weight.grad is not None
    finally:
        model.eval().zero_grad(set_to_none=True)
        for m, p in zip(dropouts, saved[0]):
            m.p = p
        for m, p in zip(attention, saved[1]):
            m.dropout = p
    assert abs(loss.item() - reference['loss_train_mode_dropout0']['vqa_loss']) < 1e-5


def test_generation_without_question_mask_is_mmpretrains(models, inputs, reference):
    model = models['generate']
    with torch.no_grad():
        states = model.encode_questions(inputs['images'], inputs['question'])[0]
        sequences = model.head.generate(states, None, model.generation_cfg, BOS, SEP, PAD)  # all-ones mask
    assert torch.equal(sequences, reference['generate_sequences'])
    decoded = model.tokenizer.batch_decode(sequences, skip_special_tokens=True)
    assert decoded == reference['generate_pred_answer']


def test_generated_answers_mask_the_question_padding(models, inputs, reference):
    model = models['generate']
    batched = [s.pred_answer for s in predict(model, inputs['images'], inputs['question'])]
    assert batched[1] == reference['generate_pred_answer'][1]  # unpadded: same as mmpretrain
    alone = predict(model, inputs['images'][:1], inputs['question'][:1])[0].pred_answer
    assert batched[0] == alone
    # mmpretrain's answer to the padded question differs: it attended to the padding.
    assert alone != reference['generate_pred_answer'][0]


@pytest.mark.parametrize('variant', ['rank', 'rank_default_candidates'])
def test_rank_candidates_scores_and_answers(models, inputs, reference, variant):
    model = models[variant]
    k = reference[f'{variant}_num_ans_candidates']
    assert model.head.num_ans_candidates == k
    assert model.head.answer_list == inputs['answer_list']
    candidate_ids, candidate_mask = model.answer_candidates()
    with torch.no_grad():
        states, mask = model.encode_questions(inputs['images'], inputs['question'])
        start_logits = model.head.decoder(
            candidate_ids[:1, :1].expand(2, 1), image_embeds=states, image_mask=mask
        )[:, 0]
        indices, scores = model.head.rank(states, mask, candidate_ids, candidate_mask)
    torch.testing.assert_close(start_logits, reference[f'{variant}_start_logits'], rtol=1e-4, atol=1e-5)
    assert torch.equal(indices, reference[f'{variant}_derived_topk_ids'])
    assert torch.equal(candidate_ids[indices.flatten()], reference[f'{variant}_candidate_input_ids'])
    torch.testing.assert_close(scores, reference[f'{variant}_log_probs_sum'], rtol=1e-5, atol=1e-4)

    samples = predict(model, inputs['images'], inputs['question'])
    assert [s.pred_answer for s in samples] == reference[f'{variant}_pred_answer']
    for sample, own_indices, own_scores in zip(samples, indices, scores):
        order = own_scores.argsort(descending=True)
        assert sample.pred_top_answers == [inputs['answer_list'][i] for i in own_indices[order]]
        torch.testing.assert_close(torch.tensor(sample.pred_top_scores), own_scores[order])


def test_rank_scores_a_few_questions_at_a_time(models, inputs, monkeypatch):
    model = models['rank']
    candidate_ids, candidate_mask = model.answer_candidates()
    k = model.head.num_ans_candidates
    with torch.no_grad():
        states, mask = model.encode_questions(inputs['images'], inputs['question'])
        at_once = model.head.rank(states, mask, candidate_ids, candidate_mask)
        # Logits of one question's candidates exceed the budget: one question at a time.
        monkeypatch.setattr(vqa_head_module, 'RANK_LOGITS_BYTES', 1)
        rows = []
        hook = model.head.decoder.register_forward_hook(lambda m, args, out: rows.append(len(args[0])))
        try:
            chunked = model.head.rank(states, mask, candidate_ids, candidate_mask)
        finally:
            hook.remove()
    # The first tokens of both questions, then each question's candidates.
    assert len(states) == 2 and rows == [2, k, k]
    assert torch.equal(chunked[0], at_once[0])
    torch.testing.assert_close(chunked[1], at_once[1], rtol=0, atol=1e-5)


def test_ranked_answers_do_not_depend_on_the_other_questions(models, inputs):
    # Generation: test_generated_answers_mask_the_question_padding.
    model = models['rank']
    question = inputs['question'][0]
    alone = predict(model, inputs['images'][:1], [question])[0]
    images = torch.cat([inputs['images'][:1], inputs['images'][1:], inputs['images'][:1]])
    batched = predict(model, images, [question, LONGER, LONGER + ' or a blue one?'])
    assert len(model.tokenize_questions([question, LONGER])[1][0]) > 8  # padded
    assert batched[0].pred_answer == alone.pred_answer
    assert batched[0].pred_top_answers == alone.pred_top_answers
    torch.testing.assert_close(
        torch.tensor(batched[0].pred_top_scores), torch.tensor(alone.pred_top_scores), rtol=0, atol=1e-5
    )
