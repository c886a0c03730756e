"""The console commands (``console_scripts`` in setup.cfg).

Each runs its tool module as ``python -m blip.cli.<tool>`` does, so a module's
``if __name__ == '__main__':`` block is the one definition of what the command
does, for ``blip-<tool>``, ``python -m`` and ``python tools/<tool>.py`` alike.
"""

import runpy


def _run(tool: str) -> None:
    runpy.run_module(f'blip.cli.{tool}', run_name='__main__')


def train() -> None:
    """``blip-train CONFIG``: train a model (:mod:`blip.cli.train`)."""
    _run('train')


def test() -> None:
    """``blip-test CONFIG CHECKPOINT``: test a checkpoint (:mod:`blip.cli.test`)."""
    _run('test')


def infer() -> None:
    """``blip-infer MODEL IMAGE...``: run a model on images (:mod:`blip.cli.infer`)."""
    _run('infer')


def demo() -> None:
    """``blip-demo [MODEL [CHECKPOINT]] ...``: a demo page in the browser (:mod:`blip.cli.demo`)."""
    _run('demo')


def convert_hf() -> None:
    """``blip-convert-hf SRC DST``: convert a Hugging Face checkpoint (:mod:`blip.cli.convert_hf_blip`)."""
    _run('convert_hf_blip')


def convert_official() -> None:
    """``blip-convert-official SRC DST``: convert an official BLIP checkpoint
    (:mod:`blip.cli.convert_official_blip`)."""
    _run('convert_official_blip')


def generate_shapes() -> None:
    """``blip-generate-shapes ROOT``: write the shapes benchmark (:mod:`blip.cli.generate_shapes`)."""
    _run('generate_shapes')


def publish_model() -> None:
    """``blip-publish-model SRC DST``: strip a checkpoint for release (:mod:`blip.cli.publish_model`)."""
    _run('publish_model')


def capfilt() -> None:
    """``blip-capfilt CORPUS OUT --captioner ... --filter ...``: bootstrap a corpus
    (:mod:`blip.cli.capfilt`)."""
    _run('capfilt')
