"""Captioning end to end on the generated shapes benchmark: train, test, several
processes, resume — through the same tools and dataset classes users run on COCO."""

import collections
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from blip.datasets.coco_caption import image_id_from_file_name
from blip.evaluation import CaptionMetric
from shapes_e2e import (
    NO_VALIDATION,
    REPO,
    data_root_options,
    dist,
    evaluate_checkpoint,
    train_checkpoint,
    train_model,
)

CONFIG = 'configs/blip/blip-tiny_shapes_caption.py'


@pytest.fixture(scope='module')
def options(shapes_root):
    return data_root_options(shapes_root)


@pytest.fixture(scope='module')
def trained(options, train_seed, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('caption')
    return train_checkpoint(CONFIG, work_dir, [*options, *NO_VALIDATION, f'randomness.seed={train_seed}'])


@pytest.fixture(scope='module')
def metrics(trained, options, tmp_path_factory):
    return evaluate_checkpoint(CONFIG, trained, tmp_path_factory.mktemp('caption_test'), options)


def constant_caption_metrics(root, tmp_path):
    """Scores of the most frequent training caption predicted for every image."""
    train_records = json.loads((root / 'annotations/coco_karpathy_train.json').read_text())
    constant = collections.Counter(r['caption'] for r in train_records).most_common(1)[0][0]
    test_records = json.loads((root / 'annotations/coco_karpathy_test.json').read_text())
    metric = CaptionMetric(
        ann_file=str(root / 'annotations/coco_karpathy_test_gt.json'), output_dir=str(tmp_path)
    )
    metric.process(
        None,
        [dict(image_id=image_id_from_file_name(r['image']), pred_caption=constant) for r in test_records],
    )
    return metric.evaluate(len(test_records))


def test_caption_metrics_far_above_a_constant_caption(metrics, shapes_root, tmp_path, train_seed):
    baseline = constant_caption_metrics(shapes_root, tmp_path)
    print(f'shapes caption test, seed {train_seed}:', metrics, 'constant-caption baseline:', baseline)
    assert metrics['CIDEr'] > 2 * baseline['CIDEr']
    assert metrics['Bleu_4'] > 2 * baseline['Bleu_4']


def test_two_process_test_equals_one_process(trained, metrics, options, tmp_path):
    # 25 test images on 2 processes: nothing may be dropped or counted twice.
    dist('dist_test.sh', CONFIG, str(trained), '2', '--work-dir', str(tmp_path), options=options, port=29611)
    two_process = json.loads((tmp_path / 'test_metrics.json').read_text())
    assert two_process == pytest.approx(metrics, abs=1e-9)
    predictions = sorted(tmp_path.rglob('caption_predictions_*.json'))[-1]
    assert len(json.loads(predictions.read_text())) == 25


def test_two_process_training(options, tmp_path):
    short = [
        *options,
        'train_cfg.max_epochs=1',
        'param_scheduler.1.end=1',
        'train_dataloader.dataset.indices=64',
        *NO_VALIDATION,
    ]
    result = dist('dist_train.sh', CONFIG, '2', '--work-dir', str(tmp_path), options=short, port=29612)
    log = result.stdout + result.stderr
    assert 'Distributed launcher: pytorch' in log or 'distributed: True' in log
    assert (tmp_path / 'epoch_1.pth').is_file()


def test_killed_run_resumes_to_the_same_result(options, tmp_path):
    """Kill a run during epoch 3 (after its epoch-2 checkpoint) and resume it: it
    ends with exactly the weights of an uninterrupted run of the same seed."""
    # 160 training captions (10 iterations an epoch), 4 epochs, no validation:
    # the three runs stay short.
    small = [*options, 'train_dataloader.dataset.indices=160', 'default_hooks.logger.interval=1']
    small += ['default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=-1']
    small += ['train_cfg.max_epochs=4', *NO_VALIDATION]
    train_model(CONFIG, tmp_path / 'uninterrupted', small)

    work_dir = tmp_path / 'killed'
    work_dir.mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO / 'projects'), OMP_NUM_THREADS='1')
    command = [sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work_dir), '--cfg-options', *small]
    log_path = tmp_path / 'killed.log'
    with open(log_path, 'w') as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 600
        while (
            not re.search(r'Epoch\(train\)\s+\[3\]\[\s*1/', log_path.read_text()) and process.poll() is None
        ):
            assert time.time() < deadline, 'the run did not reach epoch 3'
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert (work_dir / 'epoch_2.pth').exists() and not (work_dir / 'epoch_4.pth').exists()

    result = train_model(CONFIG, work_dir, small, '--resume')
    assert 'resumed epoch: 2' in result.stdout + result.stderr
    resumed = torch.load(work_dir / 'epoch_4.pth', weights_only=True)['state_dict']
    uninterrupted = torch.load(tmp_path / 'uninterrupted/epoch_4.pth', weights_only=True)['state_dict']
    # Same seed, restored optimizer, schedule and random streams: equal weights.
    for key, value in uninterrupted.items():
        torch.testing.assert_close(resumed[key], value, rtol=0, atol=0, msg=key)
