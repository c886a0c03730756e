"""tools/test.py reads the ground truth before it runs the model, not after."""

from pathlib import Path

import pytest
import torch

import blip
from blip.cli import test as test_tool
from coco_data import data_options, write_coco_karpathy

TINY_CONFIG = str(Path(__file__).resolve().parents[1] / 'data/configs/tiny_caption.py')


def test_a_missing_ground_truth_file_fails_before_inference(tmp_path, monkeypatch):
    data_root = write_coco_karpathy(tmp_path / 'coco')
    gt_file = data_root / 'annotations/coco_karpathy_test_gt.json'
    gt_file.unlink()
    checkpoint = tmp_path / 'tiny.pth'
    torch.save({'state_dict': blip.get_model(TINY_CONFIG).state_dict()}, checkpoint)
    predicted = []
    monkeypatch.setattr(blip.models.BlipCaption, 'predict', lambda *args: predicted.append(args))
    argv = [TINY_CONFIG, str(checkpoint), '--work-dir', str(tmp_path / 'work')]
    with pytest.raises(FileNotFoundError, match=f'caption ground-truth file not found: {gt_file}'):
        test_tool.main([*argv, '--cfg-options', *data_options(data_root)])
    assert not predicted
