"""VQA end to end on the generated shapes benchmark: train, test on the held-out
split, test on two processes — through the tools and dataset classes users run
on VQAv2."""

import collections
import json

import pytest

from blip.evaluation.vqa_metric import vqa_accuracy
from shapes_e2e import data_root_options, dist_test_metrics, evaluate_checkpoint, train_checkpoint

CONFIG = 'configs/blip/blip-tiny_shapes_vqa.py'


@pytest.fixture(scope='module')
def options(shapes_root):
    return [
        *data_root_options(shapes_root),
        f'model.head.answer_list_path={shapes_root}/vqa/answer_list.json',
    ]


@pytest.fixture(scope='module')
def trained(options, train_seed, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('vqa')
    return train_checkpoint(CONFIG, work_dir, [*options, f'randomness.seed={train_seed}'])


@pytest.fixture(scope='module')
def metrics(trained, options, tmp_path_factory):
    return evaluate_checkpoint(CONFIG, trained, tmp_path_factory.mktemp('vqa_test'), options)


def answer_prior_accuracy(root) -> dict[str, float]:
    """VQA accuracy (percent, official scoring) of answering every test question
    with the commonest training answer of its question type ("how many", "what
    color", "is there", "what shape"): what the questions alone tell. Overall
    (``acc``) and per answer type (``acc_number``, ...)."""

    def annotations(split):
        return json.loads((root / f'vqa/v2_mscoco_shapes_{split}_annotations.json').read_text())[
            'annotations'
        ]

    answers_by_type = collections.defaultdict(collections.Counter)
    for record in annotations('train'):
        answers_by_type[record['question_type']][record['multiple_choice_answer']] += 1
    scores = collections.defaultdict(list)
    for record in annotations('test'):
        prior = answers_by_type[record['question_type']].most_common(1)[0][0]
        score = 100 * vqa_accuracy(prior, [a['answer'] for a in record['answers']])
        scores['acc'].append(score)
        scores['acc_' + record['answer_type'].replace('/', '_')].append(score)
    return {name: sum(values) / len(values) for name, values in scores.items()}


def test_vqa_accuracy_far_above_the_answer_priors(metrics, shapes_root, train_seed):
    prior = answer_prior_accuracy(shapes_root)
    print(f'shapes VQA test, seed {train_seed}:', metrics, 'answer prior per question type:', prior)
    assert metrics['VQA/acc'] > prior['acc'] + 10
    # Counting needs the image: the prior ("two") gets about half of it.
    assert metrics['VQA/acc_number'] > prior['acc_number'] + 20


def test_two_process_test_equals_one_process(trained, options, tmp_path):
    # The first 99 of the 100 test questions: two processes must neither drop
    # nor duplicate a question.
    odd = [*options, 'test_dataloader.dataset.indices=99']
    one_process = evaluate_checkpoint(CONFIG, trained, tmp_path / 'one', odd)
    two_processes, log = dist_test_metrics(CONFIG, trained, tmp_path / 'two', odd, port=29621)
    assert two_processes == pytest.approx(one_process, abs=1e-9)
    assert '(99 questions)' in log
