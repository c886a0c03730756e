"""Zero-shot text-video retrieval: BLIP's frame sampling, PyAV decoding, frame features averaged."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

import blip
from blip.datasets import LoadVideoFrames
from blip.datasets.video_loading import uniform_frame_indices
from blip.registry import DATASETS
from tiny_models import randomize

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / 'tests/data/configs/tiny_retrieval.py'


def test_uniform_frames_are_blips():
    for num_video_frames in range(8, 1000, 7):
        blips = np.arange(0, num_video_frames, num_video_frames / 8, dtype=int).tolist()
        assert uniform_frame_indices(num_video_frames, 8) == blips, num_video_frames
    assert uniform_frame_indices(300, 4) == [0, 75, 150, 225]
    # Shorter than the frames asked for: spread instead of BLIP's repeated frame 0.
    assert uniform_frame_indices(5, 8) == [0, 0, 1, 1, 2, 3, 3, 4]
    with pytest.raises(ValueError, match='no frames'):
        uniform_frame_indices(0, 8)


def write_video(path: Path, num_frames: int = 20, size=(64, 48), step: int = 12) -> Path:
    """Frame ``i`` is a flat grey of level ``step * i`` (mpeg4 keeps it within a few levels)."""
    av = pytest.importorskip('av')
    with av.open(str(path), 'w') as container:
        stream = container.add_stream('mpeg4', rate=10)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], 'yuv420p'
        for i in range(num_frames):
            frame = np.full((size[1], size[0], 3), step * i, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format='rgb24')):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_load_video_frames_decodes_the_sampled_frames(tmp_path):
    path = write_video(tmp_path / 'video1.mp4')
    results = LoadVideoFrames(num_frames=8)(dict(video_path=str(path)))
    assert results['frame_indices'] == [0, 2, 4, 6, 8, 10, 12, 14] and results['num_video_frames'] == 20
    assert len(results['img']) == 8 and results['img'][0].shape == (48, 64, 3)
    levels = [float(frame.mean()) for frame in results['img']]
    assert levels == pytest.approx([12.0 * i for i in results['frame_indices']], abs=4)


def test_missing_video_and_missing_reader_are_named(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match='nothere.mp4'):
        LoadVideoFrames()(dict(video_path=str(tmp_path / 'nothere.mp4')))
    (tmp_path / 'v.mp4').write_bytes(b'not a video')
    monkeypatch.setitem(sys.modules, 'av', None)  # as if PyAV were not installed
    with pytest.raises(ImportError, match='pip install av'):
        LoadVideoFrames()(dict(video_path=str(tmp_path / 'v.mp4')))


def test_corrupt_video_is_named(tmp_path):
    pytest.importorskip('av')
    from blip.datasets import VideoLoadError

    (tmp_path / 'broken.mp4').write_bytes(b'\x00' * 100)
    with pytest.raises(VideoLoadError, match='broken.mp4'):
        LoadVideoFrames()(dict(video_path=str(tmp_path / 'broken.mp4')))


def test_msrvtt_pipeline_and_video_features(tmp_path):
    (tmp_path / 'videos').mkdir()
    write_video(tmp_path / 'videos/video1.mp4', num_frames=20)
    write_video(tmp_path / 'videos/video2.mp4', num_frames=30, step=8)
    lines = [
        {'clip_name': 'video1', 'caption': 'A dark clip.'},
        {'clip_name': 'video2', 'caption': 'a bright clip'},
    ]
    (tmp_path / 'msrvtt_test.jsonl').write_text('\n'.join(map(json.dumps, lines)))
    cfg = Config.fromfile(str(REPO / 'configs/blip/blip-base_retrieval_msrvtt.py'))
    assert cfg.model.topk == 128 and cfg.test_cfg.type == 'RetrievalTestLoop'
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.update(data_root=str(tmp_path), ann_file='msrvtt_test.jsonl')
    dataset_cfg.pipeline[1].transforms[0].scale = (64, 64)  # the tiny model's image size
    with DefaultScope.overwrite_default_scope('blip'):
        dataset = DATASETS.build(dataset_cfg)
    sample = dataset[1]
    assert len(sample['inputs']) == 8 and sample['inputs'][0].shape == (3, 64, 64)
    assert sample['data_samples'].text == ['a bright clip'] and sample['data_samples'].gt_text_id == [1]

    torch.manual_seed(0)
    model = randomize(blip.get_model(TINY_CONFIG), std=0.1, seed=3).eval()
    data = model.data_preprocessor(pseudo_collate([dataset[0], dataset[1]]))
    videos = data['images']
    assert videos.shape == (2, 8, 3, 64, 64)
    with torch.no_grad():
        feats = model.extract_feat(videos, data['data_samples'])
        frames = model.image_encoder(videos.flatten(0, 1))  # (16, 17, 64)
        projected = model.image_proj(frames[:, 0]).view(2, 8, -1)
        i2t, t2i = model.score_matrices(feats)
    # BLIP: the mean of the frames' projected class tokens, normalised; ITM sees every frame's tokens.
    torch.testing.assert_close(
        feats['image_feat'], F.normalize(projected.mean(dim=1), dim=-1), rtol=0, atol=1e-6
    )
    torch.testing.assert_close(feats['image_embeds'], frames.view(2, 8 * 17, 64), rtol=0, atol=0)
    assert i2t.shape == (2, 2) and t2i.shape == (2, 2) and (i2t > -100).all()
