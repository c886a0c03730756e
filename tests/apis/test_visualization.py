"""Every task draws its result on its image(s) with out= (tools/infer.py --out)."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import blip
from blip.apis import visualization

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / 'tests/data/configs'
DEMO = sorted(str(p) for p in (REPO / 'demo').glob('*.png'))  # 96 x 96 pixels each


def panel_of(drawing: np.ndarray, image_height: int) -> np.ndarray:
    """The text panel below an image that was enlarged to the drawing's width."""
    return drawing[round(image_height * drawing.shape[1] / 96) :]


def has_text(panel: np.ndarray, colour=(0, 0, 0)) -> bool:
    return bool((np.abs(panel.astype(int) - colour).sum(axis=2) < 60).sum() > 20)


@pytest.fixture(scope='module')
def models():
    torch.manual_seed(0)
    return {
        task: blip.get_model(CONFIGS / f'tiny_{task}.py') for task in ('caption', 'vqa', 'nlvr', 'retrieval')
    }


def test_caption_and_answer_are_written_below_the_image(models, tmp_path):
    results = blip.inference_model(models['caption'], DEMO[:2], out=tmp_path / 'captions')
    assert len(results) == 2
    names = sorted(p.name for p in (tmp_path / 'captions').iterdir())
    assert names == [f'{i}_{Path(p).stem}.png' for i, p in enumerate(DEMO[:2])]
    drawing = cv2.imread(str(tmp_path / 'captions' / names[0]))
    assert drawing.shape[1] == visualization.MIN_WIDTH and drawing.shape[0] > visualization.MIN_WIDTH
    assert has_text(panel_of(drawing, 96))

    blip.inference_model(models['vqa'], DEMO[0], 'what shape is it?', out=tmp_path / 'answer.png')
    drawing = cv2.imread(str(tmp_path / 'answer.png'))
    assert has_text(panel_of(drawing, 96)) and has_text(panel_of(drawing, 96), visualization.GREEN)


def test_nlvr_draws_the_pair_and_the_verdict_in_its_colour(models, tmp_path):
    result = blip.inference_model(
        models['nlvr'], (DEMO[0], DEMO[1]), 'there is a circle', out=tmp_path / 'v.png'
    )
    drawing = cv2.imread(str(tmp_path / 'v.png'))
    height = 2 * visualization.THUMB_HEIGHT
    assert drawing.shape[1] == 2 * height + 8  # two square images side by side
    colour = visualization.GREEN if result['pred_label'] else visualization.RED
    assert has_text(drawing[height:], colour)


def test_retrieval_draws_the_ranked_matches_both_ways(models, tmp_path):
    result = blip.inference_model(
        models['retrieval'], 'a blue circle', gallery=DEMO, topk=3, out=tmp_path / 't.png'
    )
    drawing = cv2.imread(str(tmp_path / 't.png'))
    assert len(result['matches']) == 3 and drawing.shape[1] == 3 * visualization.THUMB_HEIGHT + 2 * 8
    texts = ['a blue circle', 'a green square', 'three shapes']
    blip.inference_model(models['retrieval'], DEMO[0], gallery=texts, out=tmp_path / 'i.png')
    assert has_text(panel_of(cv2.imread(str(tmp_path / 'i.png')), 96))
    search = blip.apis.build_inferencer(models['retrieval'])
    with pytest.raises(ValueError, match='out= draws the gallery: pass its images, not only their features'):
        search('a dog', gallery=search.extract_feat(images=DEMO), out=tmp_path / 'x.png')


def test_one_drawing_path_per_input(models, tmp_path):
    paths = [tmp_path / 'a.png', tmp_path / 'deep/b.jpg']
    blip.inference_model(models['caption'], DEMO[:2], out=paths)
    assert all(cv2.imread(str(p)) is not None for p in paths)
    with pytest.raises(ValueError, match='2 drawings but 1 paths'):
        blip.inference_model(models['caption'], DEMO[:2], out=paths[:1])
