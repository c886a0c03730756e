"""tools/infer.py never loses work: results stream, bad images are skipped, mistakes are one line."""

import io
import json
import shutil
import urllib.error
from pathlib import Path

import cv2
import pytest

from blip import checkpoint as ckpt
from blip.apis import CaptionInferencer, model_zoo
from blip.cli import infer

REPO = Path(__file__).resolve().parents[2]
DEMO = sorted(str(p) for p in (REPO / 'demo').glob('*.png'))
CAPTIONS = {
    'large-blue-circle': 'there is a large blue circle',
    'large-green-square': 'there is a large green square',
}


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if 'Warning' not in line and 'warnings.warn' not in line]


def test_a_bad_image_is_skipped_and_the_others_are_captioned(tmp_path, capsys):
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'not a png')
    images = [DEMO[0], str(broken), DEMO[1], str(tmp_path / 'missing.png')]
    argv = ['blip-tiny_shapes_caption', *images, '--batch-size', '2', '--out-json', str(tmp_path / 'r.jsonl')]
    with pytest.raises(SystemExit) as stop:
        infer.main([*argv, '--out', str(tmp_path / 'drawn')])
    assert stop.value.code == 1
    printed = capsys.readouterr()
    assert printed.out.splitlines() == [
        f'{DEMO[0]}: {CAPTIONS["large-blue-circle"]}',
        f'{DEMO[1]}: {CAPTIONS["large-green-square"]}',
    ]
    errors = error_lines(printed.err)
    assert (
        errors[0]
        == f'{broken}: skipped: cannot decode image file {broken}: not an image format OpenCV or Pillow reads'
    )
    assert (
        errors[1] == f'{tmp_path / "missing.png"}: skipped: image file not found: {tmp_path / "missing.png"}'
    )
    assert errors[2] == '2 of 4 images could not be read (see above)'
    lines = [json.loads(line) for line in (tmp_path / 'r.jsonl').read_text().splitlines()]
    assert [line['input'] for line in lines] == images
    assert lines[0]['pred_caption'] == CAPTIONS['large-blue-circle'] and 'error' in lines[1]
    assert sorted(p.name for p in (tmp_path / 'drawn').iterdir()) == [
        '0_large-blue-circle.png',
        '2_large-green-square.png',
    ]


def test_results_are_written_as_each_batch_is_done(tmp_path, monkeypatch):
    """A crash in the second batch keeps the first batch's results."""
    calls = []
    original = CaptionInferencer.__call__

    def crash_on_the_second_batch(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError('out of memory')
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CaptionInferencer, '__call__', crash_on_the_second_batch)
    out = tmp_path / 'r.jsonl'
    with pytest.raises(RuntimeError, match='out of memory'):
        infer.main(['blip-tiny_shapes_caption', *DEMO[:2], '--out-json', str(out)])
    assert [json.loads(line)['input'] for line in out.read_text().splitlines()] == DEMO[:1]


def test_json_lines_on_stdout(capsys):
    results = infer.main(['blip-tiny_shapes_caption', DEMO[0], '--out-json', '-'])
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [
        {'input': DEMO[0], **results[0]}
    ]


def test_a_progress_bar_on_a_terminal_for_more_than_one_batch(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr('sys.stderr', Terminal())
    from contextlib import ExitStack

    for total, shown in ((3, True), (1, False)):
        with ExitStack() as stack:
            report = infer.Report(infer.parse_args(['m', 'x.png']), total, stack)
            assert report.bar.disable is not shown


@pytest.mark.parametrize(
    'argv, message',
    [
        (
            ['blip-base_3rdparty_captoin', DEMO[0]],
            "unknown model 'blip-base_3rdparty_captoin' (neither a model name",
        ),
        (['blip-tiny_shapes_caption', DEMO[0], '--question', 'why?'], 'BlipCaption does not take --question'),
    ],
)
def test_a_mistake_is_one_line_and_debug_shows_the_traceback(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        infer.main(argv)
    assert stop.value.code == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith(f'error: {message}') and line.endswith('(--debug shows the traceback)')
    with pytest.raises(ValueError):
        infer.main([*argv, '--debug'])


def test_a_close_model_name_is_suggested(capsys):
    with pytest.raises(SystemExit):
        infer.main(['blip-base_3rdparty_captoin', DEMO[0]])
    assert 'did you mean blip-base_3rdparty_caption ' in capsys.readouterr().err


def test_an_offline_download_fails_before_the_model_is_built_and_names_checkpoint(
    monkeypatch, tmp_path, capsys
):
    def offline(*args, **kwargs):
        raise urllib.error.URLError('no network')

    monkeypatch.setattr(ckpt.urllib.request, 'urlopen', offline)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    monkeypatch.setattr(model_zoo.MODELS, 'build', lambda cfg: pytest.fail('the model was built first'))
    with pytest.raises(SystemExit) as stop:
        infer.main(['blip-base_3rdparty_caption', DEMO[0]])
    assert stop.value.code == 2
    (line,) = error_lines(capsys.readouterr().err)
    url = model_zoo.model_info('blip-base_3rdparty_caption').weights
    assert line.startswith(
        'error: could not download the weights of blip-base_3rdparty_caption (<urlopen error'
    )
    assert f'Download {url} elsewhere and pass it with --checkpoint FILE' in line


def test_batch_size_zero_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        infer.main(['blip-tiny_shapes_caption', DEMO[0], '--batch-size', '0'])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().endswith('argument --batch-size: must be at least 1, got 0')


def test_out_draws_one_input_to_the_file(tmp_path):
    image = tmp_path / 'photo.png'
    shutil.copy(DEMO[0], image)
    infer.main(['blip-tiny_shapes_caption', str(image), '--out', str(tmp_path / 'drawn.jpg')])
    assert cv2.imread(str(tmp_path / 'drawn.jpg')).shape[1] >= 384


def test_retrieval_ranks_the_readable_images_and_nlvr_needs_both(tmp_path, capsys):
    configs = REPO / 'tests/data/configs'
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'')
    argv = [str(configs / 'tiny_retrieval.py'), DEMO[0], str(broken), DEMO[1], '--text', 'a blue circle']
    with pytest.raises(SystemExit) as stop:
        infer.main([*argv, '--out', str(tmp_path / 'ranked.png')])
    assert stop.value.code == 1
    printed = capsys.readouterr()
    ranks = [json.loads(line.split(': ', 1)[1])['rank'] for line in printed.out.splitlines()]
    assert sorted(ranks) == [0, 1] and f'{broken}: skipped: image file is empty: {broken}' in printed.err
    assert cv2.imread(str(tmp_path / 'ranked.png')) is not None

    argv = [str(configs / 'tiny_nlvr.py'), DEMO[0], str(broken), '--text', 'two circles']
    with pytest.raises(SystemExit) as stop:
        infer.main(argv)
    assert stop.value.code == 1 and not capsys.readouterr().out
    (result,) = infer.main([*argv[:2], DEMO[1], *argv[3:], '--out', str(tmp_path / 'pair.png')])
    assert set(result) == {'pred_label', 'pred_class', 'pred_score', 'pred_scores'}
    assert cv2.imread(str(tmp_path / 'pair.png')) is not None
