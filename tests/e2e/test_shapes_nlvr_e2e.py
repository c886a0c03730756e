"""NLVR end to end on the generated shapes benchmark: fine-tune from the trained
shapes retrieval model, test on the held-out split (test1), test on two
processes — through the tools and dataset classes users run on NLVR2.

Like BLIP's NLVR2 models, which start from the pre-trained model, the NLVR model
starts from one that has learned the images: from scratch, the tiny towers
learn nothing from true/false labels in a test's time (the loss stays at log 2
for 8 epochs, measured with seeds 0 and 1)."""

import collections
import json

import pytest

from shapes_e2e import (
    data_root_options,
    dist_test_metrics,
    evaluate_checkpoint,
    retrieval_to_nlvr,
    train_checkpoint,
)

CONFIG = 'configs/blip/blip-tiny_shapes_nlvr.py'


@pytest.fixture(scope='module')
def options(shapes_root):
    return data_root_options(shapes_root / 'nlvr2')


@pytest.fixture(scope='module')
def trained(options, train_seed, shapes_retrieval_model, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('nlvr')
    start = retrieval_to_nlvr(shapes_retrieval_model, work_dir / 'from_retrieval.pth')
    return train_checkpoint(
        CONFIG, work_dir, [*options, f'randomness.seed={train_seed}', f'load_from={start}']
    )


@pytest.fixture(scope='module')
def metrics(trained, options, tmp_path_factory):
    return evaluate_checkpoint(CONFIG, trained, tmp_path_factory.mktemp('nlvr_test'), options)


def text_only_accuracy(root) -> float:
    """Accuracy (percent) on test1 of the better of two guesses that never look
    at the images: the majority label of the training statements, and the
    majority training label of the same sentence (the majority label for a
    sentence not seen in training)."""

    def statements(name):
        return [json.loads(line) for line in (root / f'nlvr2/{name}.json').read_text().splitlines()]

    train, test = statements('train'), statements('test1')
    majority = collections.Counter(s['label'] for s in train).most_common(1)[0][0]
    labels_by_sentence = collections.defaultdict(collections.Counter)
    for statement in train:
        labels_by_sentence[statement['sentence']][statement['label']] += 1

    def sentence_prior(sentence):
        labels = labels_by_sentence.get(sentence)
        return labels.most_common(1)[0][0] if labels else majority

    guesses = [lambda s: majority, lambda s: sentence_prior(s['sentence'])]
    return max(100 * sum(guess(s) == s['label'] for s in test) / len(test) for guess in guesses)


def test_nlvr_accuracy_far_above_text_only_guesses(metrics, shapes_root, train_seed):
    baseline = text_only_accuracy(shapes_root)
    print(f'shapes NLVR test, seed {train_seed}:', metrics, 'text-only baseline:', baseline)
    # 75 statements about 25 pairs, each sentence as often true as false in
    # training: the baseline is near 50, and 12 points are 9 more statements right.
    assert metrics['accuracy/top1'] >= baseline + 12


def test_two_process_test_equals_one_process(trained, metrics, options, tmp_path):
    # 75 statements on 2 processes: nothing may be dropped or counted twice.
    two_processes, _ = dist_test_metrics(CONFIG, trained, tmp_path, options, port=29641)
    assert two_processes == pytest.approx(metrics, abs=1e-9)
