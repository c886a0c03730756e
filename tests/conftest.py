"""Shared test fixtures, and the suite on several processes (pytest-xdist)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'tools'))

if os.environ.get('PYTEST_XDIST_WORKER'):
    # One thread per test process: several processes share the cores, and the
    # results do not depend on the thread count.
    os.environ['OMP_NUM_THREADS'] = '1'
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory):
    """One small generated shapes benchmark for every end-to-end test.

    The test split (25 images, 25 NLVR pairs of 75 statements) is odd on
    purpose: two processes must neither drop nor duplicate a sample.
    """
    from blip.cli.generate_shapes import generate

    return generate(tmp_path_factory.mktemp('shapes'), seed=0, train=300, val=10, test=25, image_size=96)


def pytest_addoption(parser):
    parser.addoption(
        '--busy',
        type=int,
        default=0,
        metavar='THREADS',
        help='keep another job running during the whole run: a process multiplying 2048 x 2048 '
        'matrices with this many threads (the results must not change on a busy machine)',
    )
    parser.addoption(
        '--train-seeds',
        default='0',
        help='comma-separated training seeds of the shapes end-to-end tests (default 0): each '
        'quality threshold is checked for a model trained with each seed',
    )


#: The other job of ``--busy``: large matrix products until killed.
BUSY_JOB = """
import sys, torch
torch.set_num_threads(int(sys.argv[1]))
a = torch.randn(2048, 2048)
while True:
    a = torch.tanh(a @ a)
"""


def pytest_configure(config):
    threads = config.getoption('busy')
    if threads and not hasattr(config, 'workerinput'):  # started once, by the controlling process
        config.busy_job = subprocess.Popen([sys.executable, '-c', BUSY_JOB, str(threads)])


def pytest_unconfigure(config):
    job = getattr(config, 'busy_job', None)
    if job is not None:
        job.kill()
        job.wait()


def pytest_report_header(config):
    if config.getoption('busy'):
        return f'another job keeps {config.getoption("busy")} thread(s) busy during the run (--busy)'


def pytest_generate_tests(metafunc):
    if 'train_seed' in metafunc.fixturenames:
        seeds = [int(seed) for seed in metafunc.config.getoption('train_seeds').split(',')]
        metafunc.parametrize('train_seed', seeds, scope='session', ids=[f'seed{s}' for s in seeds])


@pytest.fixture(scope='session')
def shapes_retrieval_model(shapes_root, train_seed, tmp_path_factory):
    """The tiny retrieval model trained on the shapes captions (tools/train.py):
    the retrieval tests test it and the NLVR tests fine-tune from it, as BLIP
    fine-tunes NLVR2 from a model that has learned images and texts."""
    from shapes_e2e import RETRIEVAL_CONFIG, train_checkpoint

    work_dir = tmp_path_factory.mktemp('retrieval')
    return train_checkpoint(
        RETRIEVAL_CONFIG, work_dir, [f'data_root={shapes_root}', f'randomness.seed={train_seed}']
    )
