"""An official BLIP_VQA checkpoint, converted, trains and answers as the official code does.

Reference: the official code at its pins on a tiny checkpoint (see
test_official_caption.py). The official settings: answers start with
``[DEC]`` and the training loss is label-smoothed (``answer_first_token='dec'``,
``label_smoothing=0.1``), beam scores are divided by the whole length
(``beam_length='total'``).
"""

import pytest
import torch
from mmpretrain.structures import DataSample

from blip.converters import official_to_blip
from official_fixtures import build, close, images, inputs, official_state_dict, outputs, tensor


@pytest.fixture(scope='module')
def model():
    net = build('vqa')
    net.load_state_dict(official_to_blip(official_state_dict('BLIP_VQA'), 'vqa'), strict=True)
    return net


@pytest.fixture(scope='module')
def reference():
    return outputs('vqa')


def test_question_encoding_and_weighted_answer_loss(model, reference):
    case = reference[0]['cases']['train_loss']
    ids, mask = model.tokenize_questions(case['questions'])
    assert torch.equal(ids, tensor(case['question_input_ids']))
    assert torch.equal(mask, tensor(case['question_attention_mask']))
    samples = [
        DataSample(question=q, gt_answer=a, gt_answer_weight=w)
        for q, a, w in zip(case['questions'], inputs()['vqa_train_answers'], inputs()['vqa_train_weights'])
    ]
    with torch.no_grad():
        states, _ = model.encode_questions(images(128), case['questions'])
        loss = model.loss(images(128), samples)['vqa_loss']
    close(states, reference[1]['train_loss/question_states'])
    close(loss, tensor(case['loss']))


def test_generated_answers(model, reference):
    # The official generation attends to every question position, padding
    # included (its cross-attention mask is all ones): no question mask. Our
    # model passes the mask (an answer does not depend on the other questions).
    case = reference[0]['cases']['generate']
    with torch.no_grad():
        states, _ = model.encode_questions(images(128), inputs()['questions'])
        ids = model.head.generate(states, None, model.generation_cfg, 30522, 102, 0)
    assert torch.equal(ids, reference[1]['generate/output_ids'])
    assert model.tokenizer.batch_decode(ids, skip_special_tokens=True) == case['answers']


@pytest.mark.parametrize('case', ['rank_k4', 'rank_k12'])
def test_ranked_answers(model, reference, case):
    record = reference[0]['cases'][case]
    k = len(record['topk_ids']['values'][0])
    model.head.num_ans_candidates = k
    candidates = model.tokenize(record['answer_list'], first_token_id=model.tokenizer.bos_token_id)
    assert torch.equal(candidates.input_ids, reference[1][f'{case}/candidate_input_ids'])
    with torch.no_grad():
        states, mask = model.encode_questions(images(128), inputs()['questions'])
        indices, scores = model.head.rank(states, mask, candidates.input_ids, candidates.attention_mask)
    assert torch.equal(indices, reference[1][f'{case}/topk_ids'])
    close(scores, reference[1][f'{case}/log_probs_sum'])
    best = indices.gather(1, scores.argmax(dim=1, keepdim=True))[:, 0]
    assert torch.equal(best, reference[1][f'{case}/max_ids'])
    assert [record['answer_list'][i] for i in best] == record['answers']
