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
        metafunc.parametrize('train_seed', seeds, scope='module', ids=[f'seed{s}' for s in seeds])
