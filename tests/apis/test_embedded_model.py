"""The shipped tiny shapes captioner works offline out of the box."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

import blip
from blip.apis import model_zoo

REPO = Path(__file__).resolve().parents[2]
DEMO = sorted((REPO / 'demo').glob('*.png'))


SHAPE = re.compile(r'(?:(small|large) )?(red|green|blue|yellow) (circle|square|triangle)')


def shapes_in(caption: str) -> list[tuple[str | None, str, str]]:
    return SHAPE.findall(caption)


def names_the_shapes(caption: str, image: Path) -> bool:
    """Whether ``caption`` names the shapes of a demo image, left to right; its
    file name spells them out (``small-blue-triangle_large-red-square.png``)."""
    truth = [tuple(shape.split('-')) for shape in image.stem.split('_')]
    found = shapes_in(caption)
    return len(found) == len(truth) and all(
        (size in ('', t_size)) and (colour, kind) == (t_colour, t_kind)
        for (size, colour, kind), (t_size, t_colour, t_kind) in zip(found, truth)
    )


def test_the_embedded_model_is_listed_with_local_weights():
    info = model_zoo.model_info('blip-tiny_shapes_caption')
    assert Path(info.weights).is_file() and Path(info.weights).stat().st_size <= 10 * 2**20
    assert 'blip-tiny_shapes_caption' in blip.list_models(task='Image Caption')


@pytest.mark.parametrize('image', DEMO, ids=[p.name for p in DEMO])
def test_inference_model_captions_the_demo_images(image):
    caption = blip.inference_model('blip-tiny_shapes_caption', str(image))['pred_caption']
    assert names_the_shapes(caption, image), caption


def test_the_quick_start_command(tmp_path):
    image = DEMO[0]
    result = subprocess.run(
        [sys.executable, 'tools/infer.py', 'blip-tiny_shapes_caption', str(image.relative_to(REPO))],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            'PATH': '/usr/bin:/bin',
            'HOME': str(tmp_path),
            'NO_PROXY': '*',
            'HTTPS_PROXY': 'http://0.0.0.0:9',
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    printed_image, caption = result.stdout.strip().split(': ', 1)
    assert printed_image == str(image.relative_to(REPO)) and names_the_shapes(caption, image), result.stdout


def test_the_caption_check_rejects_wrong_captions():
    image = REPO / 'demo/large-green-square.png'
    assert names_the_shapes('there is a large green square', image)
    assert names_the_shapes('one shape: a green square', image)
    assert not names_the_shapes('there is a large red square', image)
    assert not names_the_shapes('there is a small green square', image)
    assert not names_the_shapes('a large green square and a blue circle', image)
