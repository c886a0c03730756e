"""RetrievalMetric against recalls computed by hand."""

import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.structures import DataSample

import blip  # noqa: F401
from blip.evaluation import RetrievalMetric
from blip.evaluation.retrieval_metric import best_rank
from fixture_weights import load_fixture

# 3 images x 6 texts; image i's captions are texts 2i and 2i+1.
I2T = torch.tensor(
    [
        [0.9, 0.1, 0.8, 0.0, 0.2, 0.3],  # image 0: text 0 first            -> rank 0
        [0.5, 0.4, 0.1, 0.2, 0.9, 0.3],  # image 1: texts 2, 3 rank 5, 4    -> rank 4
        [0.1, 0.2, 0.3, 0.4, 0.0, 0.5],  # image 2: text 5 first            -> rank 0
    ]
)
CAPTIONS = [[0, 1], [2, 3], [4, 5]]
# Each text's image scores; text j belongs to image j // 2.
T2I = torch.tensor(
    [
        [0.2, 0.9, 0.1],  # text 0 -> image 0 second  -> rank 1
        [0.7, 0.3, 0.1],  # text 1 -> image 0 first   -> rank 0
        [0.5, 0.5, 0.1],  # text 2 -> image 1 ties image 0, which has the lower index -> rank 1
        [0.1, 0.3, 0.2],  # text 3 -> image 1 first   -> rank 0
        [0.3, 0.2, 0.1],  # text 4 -> image 2 last    -> rank 2
        [0.1, 0.2, 0.3],  # text 5 -> image 2 first   -> rank 0
    ]
)


def samples():
    i2t = [
        DataSample(direction='i2t').set_gt_label(gt).set_pred_score(score) for gt, score in zip(CAPTIONS, I2T)
    ]
    t2i = [
        DataSample(direction='t2i').set_gt_label(j // 2).set_pred_score(score) for j, score in enumerate(T2I)
    ]
    return i2t + t2i


def test_best_rank_by_hand():
    assert [best_rank(score, gt) for score, gt in zip(I2T, CAPTIONS)] == [0, 4, 0]
    assert [best_rank(score, [j // 2]) for j, score in enumerate(T2I)] == [1, 0, 1, 0, 2, 0]


def test_recalls_by_hand():
    metric = RetrievalMetric(topk=(1, 2, 5))
    evaluator = Evaluator(metric)
    evaluator.process(samples())
    metrics = evaluator.evaluate(len(I2T) + len(T2I))
    expected = {
        # i2t ranks [0, 4, 0]
        'i2t/R@1': 200 / 3,
        'i2t/R@2': 200 / 3,
        'i2t/R@5': 100.0,
        # t2i ranks [1, 0, 1, 0, 2, 0]
        't2i/R@1': 50.0,
        't2i/R@2': 500 / 6,
        't2i/R@5': 100.0,
    }
    expected['i2t/R_mean'] = (200 / 3 + 200 / 3 + 100) / 3
    expected['t2i/R_mean'] = (50 + 500 / 6 + 100) / 3
    expected['R_mean'] = (expected['i2t/R_mean'] + expected['t2i/R_mean']) / 2
    assert metrics.keys() == expected.keys()
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-9), key


def test_not_reranked_candidates_do_not_outrank_each_other_by_chance():
    # -100 ties: the positive at index 3 is behind the tied candidates 1 and 2 only.
    scores = torch.tensor([0.5, -100.0, -100.0, -100.0, -100.0])
    assert best_rank(scores, [3]) == 3
    assert best_rank(scores, [1]) == 1


def test_recalls_of_the_mmpretrain_fixture():
    # mmpretrain's RetrievalRecall on its own score matrices (topk 1, 2, 3 / 1, 2).
    reference = load_fixture('retrieval_outputs.pt')
    metric = RetrievalMetric(topk=(1, 2, 3))
    i2t = [
        dict(direction='i2t', pred_score=score, gt_label=torch.tensor(gt))
        for score, gt in zip(reference['i2t_score'], reference['i2t_gt_label'])
    ]
    t2i = [
        dict(direction='t2i', pred_score=score, gt_label=torch.tensor(gt))
        for score, gt in zip(reference['t2i_score'], reference['t2i_gt_label'])
    ]
    metric.process(None, i2t + t2i)
    metrics = metric.compute_metrics(metric.results)
    for k in (1, 2, 3):
        assert metrics[f'i2t/R@{k}'] == reference['recall_i2t'][f'R@{k}']
    for k in (1, 2):
        assert metrics[f't2i/R@{k}'] == reference['recall_t2i'][f'R@{k}']


def test_bad_samples_are_named():
    metric = RetrievalMetric()
    with pytest.raises(KeyError, match="data sample 0 has no 'direction'"):
        metric.process(None, [dict(pred_score=torch.zeros(2), gt_label=torch.tensor([0]))])
    with pytest.raises(ValueError, match='direction must be one of'):
        metric.process(None, [dict(pred_score=torch.zeros(2), gt_label=torch.tensor([0]), direction='x')])
    with pytest.raises(ValueError, match='topk'):
        RetrievalMetric(topk=(0, 1))


def test_registered_in_blip_scope():
    from mmengine.registry import DefaultScope

    from blip.registry import METRICS

    with DefaultScope.overwrite_default_scope('blip'):
        metric = METRICS.build(dict(type='RetrievalMetric', topk=(1, 5)))
    assert isinstance(metric, RetrievalMetric) and metric.topk == (1, 5)
