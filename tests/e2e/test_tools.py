"""tools/train.py, tools/test.py and tools/infer.py end to end on a tiny model."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from coco_data import data_options, write_coco_karpathy

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = str(REPO / 'tests/data/configs/tiny_caption.py')


def run_tool(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return write_coco_karpathy(tmp_path_factory.mktemp('coco'))


@pytest.fixture(scope='module')
def trained(data_root, tmp_path_factory):
    """One epoch of training, then ``--resume`` to the second."""
    work_dir = tmp_path_factory.mktemp('work')
    common = ['--work-dir', str(work_dir), '--cfg-options', *data_options(data_root)]
    run_tool('tools/train.py', TINY_CONFIG, *common[:-1], common[-1], 'train_cfg.max_epochs=1')
    assert (work_dir / 'epoch_1.pth').is_file()
    resumed = run_tool('tools/train.py', TINY_CONFIG, '--resume', *common)
    return work_dir, resumed.stdout + resumed.stderr


def test_checkpoints_have_mmengine_state_and_load_with_weights_only(trained):
    work_dir, _ = trained
    # Our runs save mmengine's message hub (HistoryBuffer objects): importing
    # blip allow-lists exactly those classes, nothing else.
    import blip  # noqa: F401

    checkpoint = torch.load(work_dir / 'epoch_2.pth', weights_only=True)
    assert {'state_dict', 'message_hub', 'optimizer', 'meta'} <= set(checkpoint)


def test_resume_continues_from_the_last_checkpoint(trained):
    work_dir, log = trained
    assert 'resumed epoch: 1' in log
    assert (work_dir / 'epoch_2.pth').is_file()
    assert 'Unsupported global' not in log


def test_load_from_our_checkpoint(trained, data_root, tmp_path):
    work_dir, _ = trained
    result = run_tool(
        'tools/train.py',
        TINY_CONFIG,
        '--work-dir',
        str(tmp_path),
        '--cfg-options',
        *data_options(data_root),
        f'load_from={work_dir / "epoch_2.pth"}',
        'train_cfg.max_epochs=1',
    )
    log = result.stdout + result.stderr
    assert 'Load checkpoint from' in log and 'Unsupported global' not in log


def test_test_tool_reports_caption_metrics(trained, data_root, tmp_path):
    work_dir, _ = trained
    out = tmp_path / 'predictions.pkl'
    result = run_tool(
        'tools/test.py',
        TINY_CONFIG,
        str(work_dir / 'epoch_2.pth'),
        '--work-dir',
        str(tmp_path),
        '--out',
        str(out),
        '--cfg-options',
        *data_options(data_root),
    )
    log = result.stdout + result.stderr
    for metric in ('Bleu_4', 'METEOR', 'ROUGE_L', 'CIDEr'):
        assert metric in log
    assert out.is_file()
    assert list(tmp_path.rglob('*.json')), 'caption predictions were not written to the work dir'


def test_test_tool_rejects_a_checkpoint_of_another_model(trained, data_root, tmp_path):
    work_dir, _ = trained
    state = torch.load(work_dir / 'epoch_2.pth', weights_only=False)['state_dict']
    state.pop('visual_encoder.cls_token')
    state['head.fc.weight'] = torch.zeros(2, 2)
    torch.save({'state_dict': state}, tmp_path / 'other.pth')
    result = subprocess.run(
        [
            sys.executable,
            'tools/test.py',
            TINY_CONFIG,
            str(tmp_path / 'other.pth'),
            '--work-dir',
            str(tmp_path),
        ]
        + ['--cfg-options', *data_options(data_root)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode != 0
    assert 'visual_encoder.cls_token' in result.stderr and 'head.fc.weight' in result.stderr


def test_infer_tool_prints_a_caption_per_image(trained, data_root):
    work_dir, _ = trained
    images = sorted(str(p) for p in (data_root / 'test2014').iterdir())[:2]
    result = run_tool('tools/infer.py', TINY_CONFIG, *images, '--checkpoint', str(work_dir / 'epoch_2.pth'))
    lines = result.stdout.strip().splitlines()
    assert [line.split(': ')[0] for line in lines] == images
    assert all(len(line.split(': ', 1)[1]) > 0 for line in lines)
