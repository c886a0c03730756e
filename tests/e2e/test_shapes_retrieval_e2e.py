"""Image-text retrieval end to end on the generated shapes benchmark: train, test
on the held-out split, test on two processes — through the tools and dataset
classes users run on COCO."""

import json

import pytest

from shapes_e2e import RETRIEVAL_CONFIG as CONFIG
from shapes_e2e import data_root_options, dist_test_metrics, evaluate_checkpoint


@pytest.fixture(scope='module')
def options(shapes_root):
    return data_root_options(shapes_root)


@pytest.fixture(scope='module')
def trained(shapes_retrieval_model):
    return shapes_retrieval_model


@pytest.fixture(scope='module')
def metrics(trained, options, tmp_path_factory):
    return evaluate_checkpoint(CONFIG, trained, tmp_path_factory.mktemp('retrieval_test'), options)


def chance_recall_at_1(root) -> dict[str, float]:
    """R@1 (percent) of a random ranking of the test split: an image's k captions
    among all N texts come first with probability k / N; a text's image, 1 / images."""
    records = json.loads((root / 'annotations/coco_karpathy_test.json').read_text())
    num_texts = sum(len(record['caption']) for record in records)
    return {
        'i2t/R@1': 100 * sum(len(record['caption']) / num_texts for record in records) / len(records),
        't2i/R@1': 100 / len(records),
    }


def test_recall_at_1_far_above_chance(metrics, shapes_root, train_seed):
    chance = chance_recall_at_1(shapes_root)
    print(f'shapes retrieval test, seed {train_seed}:', metrics, 'chance:', chance)
    for key, value in chance.items():
        assert metrics[key] > 5 * value, key


def test_two_process_test_equals_one_process(trained, metrics, options, tmp_path):
    # 25 images and 75 texts on 2 processes: nothing may be dropped or counted twice.
    two_processes, _ = dist_test_metrics(CONFIG, trained, tmp_path, options, port=29631)
    assert two_processes == pytest.approx(metrics, abs=1e-9)
