"""Shared test fixtures."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'tools'))


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory):
    """One small generated shapes benchmark for every end-to-end test.

    The test split (25 images, 25 NLVR pairs) is odd on purpose: two processes
    must neither drop nor duplicate a sample.
    """
    from blip.cli.generate_shapes import generate

    return generate(tmp_path_factory.mktemp('shapes'), seed=0, train=300, val=10, test=25, image_size=96)


def pytest_addoption(parser):
    parser.addoption(
        '--train-seeds',
        default='0',
        help='comma-separated training seeds of the shapes end-to-end tests (default 0): each '
        'quality threshold is checked for a model trained with each seed',
    )


def pytest_generate_tests(metafunc):
    if 'train_seed' in metafunc.fixturenames:
        seeds = [int(seed) for seed in metafunc.config.getoption('train_seeds').split(',')]
        metafunc.parametrize('train_seed', seeds, scope='session', ids=[f'seed{s}' for s in seeds])


@pytest.fixture(scope='session')
def shapes_retrieval_model(shapes_root, train_seed, tmp_path_factory):
    """The tiny retrieval model trained on the shapes captions (tools/train.py, 5
    epochs): the retrieval tests test it and the NLVR tests fine-tune from it, as
    BLIP fine-tunes NLVR2 from a model that has learned images and texts."""
    from shapes_e2e import RETRIEVAL_CONFIG, train_model

    work_dir = tmp_path_factory.mktemp('retrieval')
    train_model(RETRIEVAL_CONFIG, work_dir, [f'data_root={shapes_root}', f'randomness.seed={train_seed}'])
    return work_dir / 'epoch_5.pth'
