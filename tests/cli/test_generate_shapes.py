"""tools/generate_shapes.py: its sizes are checked up front and its --help shows the defaults."""

import pytest

from blip.cli import generate_shapes


@pytest.mark.parametrize(
    'argv, message',
    [
        (['--train', '0'], 'argument --train: must be at least 1, got 0'),
        (['--test', '-5'], 'argument --test: must be at least 1, got -5'),
        (['--image-size', '0'], 'argument --image-size: must be at least 32, got 0'),
        (['--val', 'many'], "argument --val: not an integer: 'many'"),
        (['--web', '-1'], 'argument --web: must be at least 0, got -1'),
        (['--web-shard-size', '0'], 'argument --web-shard-size: must be at least 1, got 0'),
    ],
)
def test_bad_sizes_are_named_before_anything_is_written(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        generate_shapes.main([str(tmp_path / 'shapes'), *argv])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message)
    assert not (tmp_path / 'shapes').exists()


def test_the_function_checks_too(tmp_path):
    with pytest.raises(ValueError, match='train must be at least 1'):
        generate_shapes.generate(tmp_path, train=0)
    with pytest.raises(ValueError, match='web_noise must be two fractions'):
        generate_shapes.generate(tmp_path, web=4, web_noise=(0.6, 0.6))
    assert not any(tmp_path.iterdir())


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        generate_shapes.main(['--help'])
    help_text = ' '.join(capsys.readouterr().out.split())
    for default in ('(default: 600)', '(default: 60)', '(default: 100)', '(default: 96)', '(default: 0)'):
        assert default in help_text
