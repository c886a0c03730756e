"""An official BLIP_Retrieval checkpoint, converted, ranks and trains as the official code does.

Reference: the official code at its pins on a tiny checkpoint (see
test_official_caption.py): its evaluation (ITC candidates re-ranked by
ITM + ITC) on a 3-image / 6-text gallery, and two training steps whose
hard negatives are drawn by ``torch.multinomial`` from a fixed seed.
"""

import pytest
import torch
from mmpretrain.structures import DataSample

from blip.converters import CONVERSIONS, official_to_blip
from blip.converters.tables import plan
from blip.evaluation.retrieval_metric import RetrievalMetric
from official_fixtures import build, close, images, official_state_dict, outputs, sha256


def converted_model(**overrides):
    net = build('retrieval', **overrides)
    net.load_state_dict(official_to_blip(official_state_dict('BLIP_Retrieval'), 'retrieval'), strict=True)
    return net


@pytest.fixture(scope='module')
def model():
    return converted_model()


@pytest.fixture(scope='module')
def reference():
    return outputs('retrieval')


def gallery_scores(model, texts, topk):
    model.topk = topk
    with torch.no_grad():
        feats = model.extract_feat(images(96), texts=texts)
        similarity = feats['image_feat'] @ feats['text_feat'].t()
        return similarity, model.scores(similarity, feats['text_ids'], model.pair_logits(feats))


@pytest.mark.parametrize('case', ['eval_k3', 'eval_k2'])
def test_gallery_scores_and_recalls(model, reference, case):
    record = reference[0]['cases'][case]
    k = len(record['i2t_topk_idx']['values'][0])
    similarity, scores = gallery_scores(model, record['texts'], k)
    close(similarity, reference[1][f'{case}/itc_sims_matrix'])
    assert torch.equal(similarity.topk(k, dim=1).indices, reference[1][f'{case}/i2t_topk_idx'])
    assert torch.equal(similarity.t().topk(k, dim=1).indices, reference[1][f'{case}/t2i_topk_idx'])
    close(scores['i2t'], reference[1][f'{case}/score_matrix_i2t'])
    close(scores['t2i'], reference[1][f'{case}/score_matrix_t2i'])
    assert_recalls(scores, record)


def assert_recalls(scores, record):
    metric = RetrievalMetric()
    samples = [
        dict(pred_score=s, gt_label=torch.tensor(record['img2txt'][i]), direction='i2t')
        for i, s in enumerate(scores['i2t'])
    ]
    samples += [
        dict(pred_score=s, gt_label=torch.tensor([record['txt2img'][t]]), direction='t2i')
        for t, s in enumerate(scores['t2i'])
    ]
    metric.process(None, samples)
    recalls = metric.evaluate(len(samples))
    official = record['itm_eval']
    for ours, theirs in (('i2t', 'txt'), ('t2i', 'img')):
        for k in (1, 5, 10):
            assert recalls[f'{ours}/R@{k}'] == pytest.approx(official[f'{theirs}_r{k}']), (ours, k)


@pytest.mark.parametrize('negative_all_rank', [False, True])
def test_two_training_steps(reference, negative_all_rank, monkeypatch):
    record = reference[0]['cases'][f'train_forward_negative_all_rank_{negative_all_rank}']
    model = converted_model(negative_all_rank=negative_all_rank)
    draws = []
    multinomial = torch.multinomial

    def recording(weights, num_samples, *args, **kwargs):
        drawn = multinomial(weights, num_samples, *args, **kwargs)
        draws.append((weights.clone(), drawn.clone()))
        return drawn

    monkeypatch.setattr(torch, 'multinomial', recording)
    torch.manual_seed(1234)
    for step, expected in enumerate(record['steps']):
        samples = [DataSample(text=t, image_id=i) for t, i in zip(expected['captions'], expected['idx'])]
        draws.clear()
        with torch.no_grad():
            losses = model.loss(images(96)[expected['image_index']], samples)
        key = f'train_nar{int(negative_all_rank)}/step{step}'
        close(losses['itc_loss'], reference[1][f'{key}/loss_ita'])
        close(losses['itm_loss'], reference[1][f'{key}/loss_itm'])
        assert len(draws) == len(expected['multinomial'])
        for (weights, drawn), official in zip(draws, expected['multinomial']):
            close(weights, torch.tensor(official['weights']))
            assert drawn.tolist() == official['drawn']
        head = model.itc_head
        close(head.image_queue, reference[1][f'{key}/image_queue'])
        close(head.text_queue, reference[1][f'{key}/text_queue'])
        assert head.queue_ptr.tolist() == expected['ptr_queue']
        assert head.idx_queue.tolist() == expected['idx_queue']
        close(model.temp, torch.tensor(expected['temp']))
        assert_momentum_parameters(model, expected)


def assert_momentum_parameters(model, expected):
    """The momentum parameters after the update, byte for byte (the fixture keeps their sha256)."""
    state = model.state_dict()
    for name, digest in expected['momentum_params_sha256'].items():
        assert sha256(state[OUR_NAMES[name]]) == digest, name


def _our_names() -> dict[str, str]:
    """Official BLIP_Retrieval key -> our checkpoint key, from the conversion's own plan."""
    conversion = CONVERSIONS['BLIP_Retrieval', 'retrieval']
    mapping = plan(conversion, official_state_dict('BLIP_Retrieval'))
    return {key: ours[0] for key, ours in mapping.names.items()}


OUR_NAMES = _our_names()
